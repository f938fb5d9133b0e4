//! Fetches Vega, Vega-Lite and vega-embed from the npm registry (pinned versions, kept in a cache outside the
//! checkout) so reports can inline them and open offline. Never pasted by hand: these lines are the source.
//! Also records the commit bench is built from (`build/git_commit.rs`).

#[path = "build/git_commit.rs"]
mod git_commit;

use std::path::{Path, PathBuf};
use std::process::Command;

/// (package, version, file inside the package): UMD builds that define `vega`, `vegaLite` and `vegaEmbed`.
const PACKAGES: [(&str, &str, &str); 3] = [
    ("vega", "6.2.0", "build/vega.min.js"),
    ("vega-lite", "6.4.1", "build/vega-lite.min.js"),
    ("vega-embed", "7.0.2", "build/vega-embed.min.js"),
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=KGB_CACHE");
    let manifest_dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| fail("CARGO_MANIFEST_DIR is not set")));
    git_commit::emit(&manifest_dir);
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_else(|_| fail("OUT_DIR is not set")));
    let cache = std::env::var("KGB_CACHE")
        .map(PathBuf::from)
        .or_else(|_| std::env::var("HOME").map(|h| Path::new(&h).join(".cache/kgb")))
        .unwrap_or_else(|_| out.clone())
        .join("npm");
    if let Err(e) = std::fs::create_dir_all(&cache) {
        fail(&format!("cannot create {}: {e}", cache.display()));
    }
    for (name, version, file) in PACKAGES {
        let tarball = cache.join(format!("{name}-{version}.tgz"));
        if !tarball.exists() {
            let status = Command::new("npm")
                .args(["pack", "--silent", &format!("{name}@{version}"), "--pack-destination"])
                .arg(&cache)
                .status();
            if !matches!(status, Ok(s) if s.success()) || !tarball.exists() {
                fail(&format!(
                    "`npm pack {name}@{version}` failed ({status:?}): reports need it from the npm registry"
                ));
            }
        }
        let extracted = Command::new("tar").arg("-xzOf").arg(&tarball).arg(format!("package/{file}")).output();
        let script = match extracted {
            Ok(o) if o.status.success() && !o.stdout.is_empty() => String::from_utf8_lossy(&o.stdout).into_owned(),
            other => fail(&format!("cannot extract {file} from {}: {other:?}", tarball.display())),
        };
        // Inlined in a <script> element: a literal "</script" would end it early.
        let script = script.replace("</script", "<\\/script");
        if let Err(e) = std::fs::write(out.join(format!("{name}.min.js")), script) {
            fail(&format!("cannot write {name}.min.js: {e}"));
        }
    }
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}
