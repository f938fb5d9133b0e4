//! The Debian mirror the base image is debootstrapped from. A machine's own mirror is the fastest (and on an
//! offline network the only) one, so apt's sources are read first; but on an Ubuntu machine (a GitHub-hosted
//! runner) they name Ubuntu's archive, which has no bookworm, so only a Debian archive is taken from them.

use std::path::Path;

/// Debian's own redirector: the mirror when apt's sources name none that serves Debian.
pub const DEBIAN: &str = "http://deb.debian.org/debian";

/// `KGB_DEBIAN_MIRROR` when set, else the first Debian archive in this machine's apt sources, else [`DEBIAN`].
pub fn debian(suite: &str) -> String {
    if let Ok(mirror) = std::env::var("KGB_DEBIAN_MIRROR") {
        if !mirror.trim().is_empty() {
            return mirror.trim().to_string();
        }
    }
    from_apt(Path::new("/"), suite).unwrap_or_else(|| DEBIAN.to_string())
}

/// The first Debian archive serving `suite` in the apt sources under `root` (`/` on a real machine).
pub fn from_apt(root: &Path, suite: &str) -> Option<String> {
    choose(&read_sources(root), suite)
}

/// apt's source files in the order apt reads them: `sources.list`, then `sources.list.d/*.list` and `*.sources`
/// by name. Missing or unreadable files are left out: they name no mirror.
pub fn read_sources(root: &Path) -> Vec<(String, String)> {
    let apt = root.join("etc/apt");
    let mut files = vec![apt.join("sources.list")];
    let mut parts: Vec<_> = std::fs::read_dir(apt.join("sources.list.d"))
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "list" || e == "sources"))
        .collect();
    parts.sort();
    files.extend(parts);
    files
        .into_iter()
        .filter_map(|path| Some((path.to_string_lossy().into_owned(), std::fs::read_to_string(&path).ok()?)))
        .collect()
}

/// The first source in `files` (name, text) that is a Debian archive serving `suite`. A name ending in
/// `.sources` is deb822, any other the classic one-line format.
pub fn choose(files: &[(String, String)], suite: &str) -> Option<String> {
    files
        .iter()
        .flat_map(|(name, text)| if name.ends_with(".sources") { deb822(text) } else { classic(text) })
        .find(|source| source.serves(suite))
        .map(|source| source.uri)
}

/// One `deb` source: a URI with its suites and components.
#[derive(Debug, PartialEq)]
struct Source {
    uri: String,
    suites: Vec<String>,
    components: Vec<String>,
}

impl Source {
    /// A Debian archive (not Ubuntu's, not the security archive, not a third party's with no `main`) that
    /// names `suite`, or that is Debian's own or a `…/debian` mirror, which carry every release.
    fn serves(&self, suite: &str) -> bool {
        let uri = self.uri.to_ascii_lowercase();
        let (scheme, rest) = uri.split_once("://").unwrap_or(("", ""));
        let host = rest.split('/').next().unwrap_or("");
        if !matches!(scheme, "http" | "https" | "ftp" | "file") || uri.contains("ubuntu") || uri.contains("security") {
            return false;
        }
        if !self.components.iter().any(|c| c == "main") || self.suites.iter().any(|s| s.contains("security")) {
            return false;
        }
        let debian_host = host == "debian.org" || host.ends_with(".debian.org");
        self.suites.iter().any(|s| s == suite) || debian_host || uri.trim_end_matches('/').ends_with("/debian")
    }
}

/// `deb [options] URI suite component...` lines; `#` starts a comment, `deb-src` lines fetch no packages.
fn classic(text: &str) -> Vec<Source> {
    text.lines().filter_map(|line| classic_line(line.split('#').next().unwrap_or(""))).collect()
}

fn classic_line(line: &str) -> Option<Source> {
    let mut words = line.split_whitespace();
    if words.next()? != "deb" {
        return None;
    }
    let mut words = words.peekable();
    // Options are bracketed and may hold spaces: `[ arch=amd64 signed-by=… ]`.
    if words.peek().is_some_and(|w| w.starts_with('[')) {
        for word in words.by_ref() {
            if word.ends_with(']') {
                break;
            }
        }
    }
    let uri = words.next()?.to_string();
    let suite = words.next()?.to_string();
    Some(Source { uri, suites: vec![suite], components: words.map(str::to_string).collect() })
}

/// deb822 stanzas (separated by blank lines): `Types:` holding `deb`, `URIs:`, `Suites:`, `Components:`, and
/// `Enabled: no` turning one off. Field names are case-insensitive; indented lines continue the field above.
fn deb822(text: &str) -> Vec<Source> {
    let mut sources = Vec::new();
    let mut stanza: Vec<(String, String)> = Vec::new();
    for line in text.lines().chain([""]) {
        if line.starts_with('#') {
            continue;
        }
        if line.trim().is_empty() {
            sources.extend(stanza_sources(&stanza));
            stanza.clear();
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = stanza.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((key, value)) = line.split_once(':') {
            stanza.push((key.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    sources
}

fn stanza_sources(stanza: &[(String, String)]) -> Vec<Source> {
    let field = |name: &str| -> Vec<String> {
        stanza.iter().filter(|(k, _)| k == name).flat_map(|(_, v)| v.split_whitespace().map(str::to_string)).collect()
    };
    let enabled = field("enabled").first().is_none_or(|e| !e.eq_ignore_ascii_case("no"));
    if !enabled || !field("types").iter().any(|t| t == "deb") {
        return Vec::new();
    }
    let (suites, components) = (field("suites"), field("components"));
    field("uris")
        .into_iter()
        .map(|uri| Source { uri, suites: suites.clone(), components: components.clone() })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const UBUNTU_CLASSIC: &str = "\
# See http://help.ubuntu.com/community/UpgradeNotes for how to upgrade to
# newer versions of the distribution.
deb http://azure.archive.ubuntu.com/ubuntu/ jammy main restricted
deb http://azure.archive.ubuntu.com/ubuntu/ jammy-updates main restricted
deb http://azure.archive.ubuntu.com/ubuntu/ jammy universe
deb http://security.ubuntu.com/ubuntu jammy-security main restricted
";

    const UBUNTU_DEB822: &str = "\
## Ubuntu sources have moved to /etc/apt/sources.list.d/ubuntu.sources
Types: deb
URIs: http://azure.archive.ubuntu.com/ubuntu/
Suites: noble noble-updates noble-backports
Components: main universe restricted multiverse
Signed-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg

## Ubuntu security updates.
Types: deb
URIs: http://security.ubuntu.com/ubuntu/
Suites: noble-security
Components: main universe restricted multiverse
Signed-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg
";

    // This machine's file: the snapshot comment stays a comment.
    const DEBIAN_DEB822: &str = "\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
# http://snapshot.debian.org/archive/debian-security/20250520T000000Z
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
";

    fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect()
    }

    fn pick(list: &[(&str, &str)]) -> Option<String> {
        choose(&files(list), "bookworm")
    }

    #[test]
    fn ubuntu_classic_sources_name_no_debian_mirror() {
        assert_eq!(pick(&[("/etc/apt/sources.list", UBUNTU_CLASSIC)]), None);
    }

    #[test]
    fn ubuntu_deb822_sources_name_no_debian_mirror() {
        // Ubuntu 24.04: an empty sources.list pointing at ubuntu.sources.
        let ubuntu = [
            ("/etc/apt/sources.list", "# Ubuntu sources have moved to /etc/apt/sources.list.d/ubuntu.sources\n"),
            ("/etc/apt/sources.list.d/ubuntu.sources", UBUNTU_DEB822),
        ];
        assert_eq!(pick(&ubuntu), None);
    }

    #[test]
    fn debian_deb822_sources_give_their_mirror() {
        let debian = [("/etc/apt/sources.list.d/debian.sources", DEBIAN_DEB822)];
        assert_eq!(pick(&debian).as_deref(), Some("http://deb.debian.org/debian"));
    }

    #[test]
    fn debian_classic_list_gives_its_mirror_not_security_nor_sources() {
        let list = "\
deb-src http://ftp.de.debian.org/debian bookworm main
deb http://security.debian.org/debian-security bookworm-security main
deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://ftp.de.debian.org/debian/ bookworm main contrib
";
        assert_eq!(pick(&[("/etc/apt/sources.list", list)]).as_deref(), Some("http://ftp.de.debian.org/debian/"));
    }

    #[test]
    fn a_local_mirror_serving_the_suite_is_used() {
        let list = "deb [ trusted=yes ] http://mirror.example/debian bookworm main\n";
        assert_eq!(pick(&[("/etc/apt/sources.list", list)]).as_deref(), Some("http://mirror.example/debian"));
        let renamed = "deb http://10.0.0.5/pool bookworm main\n";
        assert_eq!(pick(&[("/etc/apt/sources.list", renamed)]).as_deref(), Some("http://10.0.0.5/pool"));
    }

    #[test]
    fn third_party_repositories_are_not_debian_archives() {
        let list = "\
deb https://download.docker.com/linux/debian bookworm stable
deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main
";
        let nodesource = "Types: deb\nURIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\nComponents: main\n";
        let all = [("/etc/apt/sources.list", list), ("/etc/apt/sources.list.d/nodesource.sources", nodesource)];
        assert_eq!(pick(&all), None);
    }

    #[test]
    fn a_debian_mirror_of_another_release_still_serves_bookworm() {
        let trixie = "Types: deb\nURIs: http://deb.debian.org/debian/\nSuites: trixie\nComponents: main\n";
        assert_eq!(pick(&[("x/debian.sources", trixie)]).as_deref(), Some("http://deb.debian.org/debian/"));
    }

    #[test]
    fn disabled_stanzas_and_continuation_lines() {
        let text = "\
Types: deb
URIs: http://mirror.example/debian
Suites: bookworm
Components: main
Enabled: no

Types: deb deb-src
URIs:
 http://other.example/debian
Suites: bookworm
Components: main
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 -----END PGP PUBLIC KEY BLOCK-----
";
        assert_eq!(pick(&[("a.sources", text)]).as_deref(), Some("http://other.example/debian"));
    }

    #[test]
    fn empty_or_missing_sources_name_nothing() {
        assert_eq!(pick(&[]), None);
        assert_eq!(pick(&[("/etc/apt/sources.list", "\n# nothing\n")]), None);
        let empty = tempfile::tempdir().expect("tempdir");
        assert_eq!(from_apt(empty.path(), "bookworm"), None);
    }

    #[test]
    fn files_are_read_in_apt_order_under_a_root() {
        let root = tempfile::tempdir().expect("tempdir");
        let apt = root.path().join("etc/apt/sources.list.d");
        std::fs::create_dir_all(&apt).expect("mkdir");
        std::fs::write(root.path().join("etc/apt/sources.list"), UBUNTU_CLASSIC).expect("write");
        std::fs::write(apt.join("ubuntu.sources"), UBUNTU_DEB822).expect("write");
        std::fs::write(apt.join("b.list"), "deb http://b.example/debian bookworm main\n").expect("write");
        std::fs::write(apt.join("a.sources.disabled"), DEBIAN_DEB822).expect("write");
        std::fs::write(apt.join("a.list"), "deb http://a.example/debian bookworm main\n").expect("write");
        assert_eq!(from_apt(root.path(), "bookworm").as_deref(), Some("http://a.example/debian"));
        std::fs::remove_file(apt.join("a.list")).expect("rm");
        std::fs::remove_file(apt.join("b.list")).expect("rm");
        assert_eq!(from_apt(root.path(), "bookworm"), None, "an Ubuntu runner's sources");
    }
}
