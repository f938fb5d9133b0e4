//! The 2019 results (docs/reports.md): a mapping file naming the runs of each category, and EDN runs of rows
//! `[loop unix-ms probe-ms generators]`, every 20th with generator latencies and 8 resource numbers.
//! Only the EDN these files use is read: vectors, maps, strings, keywords, numbers, nil.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::error::ReportError;
use super::rows::{LevelRow, RunRows};

#[derive(Debug, Clone, PartialEq)]
pub enum Edn {
    Nil,
    Number(f64),
    Text(String),
    Keyword(String),
    Vector(Vec<Edn>),
    Map(Vec<(Edn, Edn)>),
}

/// Vectors and maps nest at most this deep: 2019 files nest three levels; a deeper file is not one of them, and
/// following it would overflow the stack.
pub const MAX_DEPTH: usize = 64;

/// Gaps in a 2019 run's loop numbers that add up to more than this are no run of timeouts (2019 runs ended after
/// 10 timeouts, at most a few thousand loops): reading them would allocate a row per missing loop. The sum, not
/// each gap: 60 rows each 100,000 loops on from the last made 6 million rows from 900 bytes.
pub const MAX_GAP: f64 = 100_000.0;

/// Parses one EDN value; the error says at which byte it went wrong.
pub fn parse(text: &str) -> Result<Edn, String> {
    let mut p = Parser { bytes: text.as_bytes(), at: 0, depth: 0 };
    let value = p.value()?;
    p.skip();
    if p.at != p.bytes.len() {
        return Err(format!("unexpected text at byte {}", p.at));
    }
    Ok(value)
}

struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
    depth: usize,
}

impl Parser<'_> {
    fn skip(&mut self) {
        while let Some(&b) = self.bytes.get(self.at) {
            match b {
                b' ' | b'\n' | b'\r' | b'\t' | b',' => self.at += 1,
                b';' => {
                    while self.bytes.get(self.at).is_some_and(|&b| b != b'\n') {
                        self.at += 1;
                    }
                }
                _ => break,
            }
        }
    }

    fn value(&mut self) -> Result<Edn, String> {
        self.skip();
        let start = self.at;
        match self.bytes.get(self.at) {
            None => Err("unexpected end of file".into()),
            Some(b'[') => self.sequence(b']').map(Edn::Vector),
            Some(b'{') => {
                let items = self.sequence(b'}')?;
                if items.len() % 2 != 0 {
                    return Err(format!("a map with an odd number of items at byte {start}"));
                }
                let mut it = items.into_iter();
                let mut pairs = Vec::new();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    pairs.push((k, v));
                }
                Ok(Edn::Map(pairs))
            }
            Some(b'"') => {
                self.at += 1;
                let mut text = String::new();
                loop {
                    match self.bytes.get(self.at) {
                        None => return Err(format!("unterminated string at byte {start}")),
                        Some(b'"') => break,
                        Some(b'\\') => {
                            self.at += 1;
                            text.push(*self.bytes.get(self.at).ok_or("unterminated string")? as char);
                        }
                        Some(&b) => text.push(b as char),
                    }
                    self.at += 1;
                }
                self.at += 1;
                Ok(Edn::Text(text))
            }
            Some(_) => {
                while self.bytes.get(self.at).is_some_and(|b| !b" \n\r\t,[]{}\"".contains(b)) {
                    self.at += 1;
                }
                let token = std::str::from_utf8(&self.bytes[start..self.at]).map_err(|e| e.to_string())?;
                match token {
                    "nil" => Ok(Edn::Nil),
                    "##NaN" => Ok(Edn::Number(f64::NAN)),
                    t if t.starts_with(':') => Ok(Edn::Keyword(t[1..].to_string())),
                    t => t
                        .trim_end_matches(['N', 'M'])
                        .parse::<f64>()
                        .map(Edn::Number)
                        .map_err(|_| format!("cannot read {t:?} at byte {start}")),
                }
            }
        }
    }

    fn sequence(&mut self, close: u8) -> Result<Vec<Edn>, String> {
        if self.depth >= MAX_DEPTH {
            return Err(format!("nested deeper than {MAX_DEPTH} levels at byte {}", self.at));
        }
        self.depth += 1;
        let items = self.items(close);
        self.depth -= 1;
        items
    }

    fn items(&mut self, close: u8) -> Result<Vec<Edn>, String> {
        self.at += 1;
        let mut items = Vec::new();
        loop {
            self.skip();
            match self.bytes.get(self.at) {
                None => return Err(format!("missing '{}'", close as char)),
                Some(&b) if b == close => {
                    self.at += 1;
                    return Ok(items);
                }
                Some(_) => items.push(self.value()?),
            }
        }
    }
}

/// The largest 2019 file read: the published runs are under 1 MB each.
pub const MAX_FILE_BYTES: u64 = 256 << 20;

/// The 2019 containers behind the 8 resource numbers, in their order.
const CONTAINERS: [&str; 4] = ["db", "command-handler", "kafka (3 brokers)", "graphql-endpoint"];

/// Reads a 2019 mapping file and every run it names; categories become variants named `2019 <category>`.
pub fn read_mapping(path: &Path) -> Result<Vec<RunRows>, ReportError> {
    let bad = |message: String| ReportError::Corrupt { path: path.into(), message };
    let text = crate::input::read_text(path, MAX_FILE_BYTES)
        .map_err(|source| ReportError::Read { path: path.into(), source })?;
    let root = parse(&text).map_err(bad)?;
    let Edn::Map(pairs) = root else { return Err(bad("not a map".into())) };
    let mapping = pairs
        .iter()
        .find(|(k, _)| *k == Edn::Keyword("mapping".into()))
        .and_then(|(_, v)| if let Edn::Map(m) = v { Some(m) } else { None })
        .ok_or_else(|| bad("no :mapping map".into()))?;
    if mapping.is_empty() {
        return Err(bad("the :mapping map is empty".into()));
    }
    // A bare file name's parent is "": the runs are beside it, in the current folder.
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut inputs = Vec::new();
    for (category, pattern) in mapping {
        let (Edn::Text(category), Edn::Text(pattern)) = (category, pattern) else {
            return Err(bad("mapping entries must be \"category\" \"file-pattern\"".into()));
        };
        let files = matching(folder, pattern).map_err(|source| ReportError::Read { path: folder.into(), source })?;
        if files.is_empty() {
            // Published 2019 result sets are often partial: draw what is there, say what is not.
            tracing::warn!(
                "{}: no file in {} matches {pattern:?}; category {category} left out",
                path.display(),
                folder.display()
            );
        }
        for file in files {
            inputs.push(read_run(&file, &format!("2019 {category}"))?);
        }
    }
    Ok(inputs)
}

/// Files in `folder` matching a pattern with `*` wildcards, sorted.
fn matching(folder: &Path, pattern: &str) -> std::io::Result<Vec<PathBuf>> {
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut found = Vec::new();
    for entry in std::fs::read_dir(folder)? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
        if wildcard(name, &parts) {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

fn wildcard(name: &str, parts: &[&str]) -> bool {
    let (Some(first), Some(last)) = (parts.first(), parts.last()) else { return false };
    if parts.len() == 1 {
        return name == *first;
    }
    if !name.starts_with(first) || !name[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

/// One 2019 run. A timed-out loop wrote no row: gaps in the loop numbers are its timeouts, counted at the level
/// of the row after the gap.
pub fn read_run(path: &Path, variant: &str) -> Result<RunRows, ReportError> {
    let text = crate::input::read_text(path, MAX_FILE_BYTES)
        .map_err(|source| ReportError::Read { path: path.into(), source })?;
    run_from_text(path, &text, variant)
}

/// Like [`read_run`], from the text of the file; `path` names it in errors.
pub fn run_from_text(path: &Path, text: &str, variant: &str) -> Result<RunRows, ReportError> {
    let bad = |message: String| ReportError::Corrupt { path: path.into(), message };
    let Edn::Vector(rows) = parse(text).map_err(bad)? else { return Err(bad("not a vector of rows".into())) };
    let mut out = Vec::with_capacity(rows.len());
    let (mut previous_loop, mut missed_so_far) = (0.0, 0.0);
    for (i, row) in rows.iter().enumerate() {
        let Edn::Vector(fields) = row else { return Err(bad(format!("row {} is not a vector", i + 1))) };
        let number = |k: usize| match fields.get(k) {
            Some(Edn::Number(n)) => Some(*n),
            _ => None,
        };
        let (Some(loop_no), Some(t), Some(generators)) = (number(0), number(1), number(3)) else {
            return Err(bad(format!("row {} lacks [loop unix-ms latency generators]", i + 1)));
        };
        let gap = loop_no - previous_loop - 1.0;
        if gap.is_nan() || gap > MAX_GAP - missed_so_far {
            return Err(bad(format!(
                "row {}: loop number {loop_no} follows {previous_loop}: gaps of more than {MAX_GAP} loops in all are no run of timeouts",
                i + 1
            )));
        }
        let missed = gap.max(0.0) as u32;
        missed_so_far += f64::from(missed);
        previous_loop = loop_no;
        for _ in 0..missed {
            out.push(LevelRow { generators: generators as u32, ..LevelRow::default() });
        }
        let generator_ms = match fields.get(4) {
            Some(Edn::Vector(v)) => {
                v.iter().filter_map(|x| if let Edn::Number(n) = x { Some(*n) } else { None }).collect()
            }
            _ => Vec::new(),
        };
        let resources = (fields.len() >= 13).then(|| {
            CONTAINERS
                .iter()
                .enumerate()
                .filter_map(|(c, name)| Some((name.to_string(), (number(5 + 2 * c)?, number(6 + 2 * c)?))))
                .collect::<BTreeMap<_, _>>()
        });
        let (probe_ms, t_ms) = (number(2).filter(|v| !v.is_nan()), Some(t as i64));
        out.push(LevelRow { generators: generators as u32, t_ms, probe_ms, generator_ms, resources, rate: None });
    }
    let sustained = out.last().map(|r| r.generators);
    Ok(RunRows {
        variant: variant.to_string(),
        path: path.into(),
        rows: out,
        sustained,
        interval_s: 1.0,
        era_2019: true,
        complete: true,
        probe_kind: "browser (2019)".into(),
        // The 2019 `max-interaction-time`, the default of our probe timeout.
        timeout_ms: crate::experiment::Load::default().probe_timeout_ms as f64,
        header: None,
        ..RunRows::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edn_values_are_read() {
        let v = parse("{:mapping {\"0\" \"a-*\"}} ; comment").unwrap();
        assert_eq!(
            v,
            Edn::Map(vec![(
                Edn::Keyword("mapping".into()),
                Edn::Map(vec![(Edn::Text("0".into()), Edn::Text("a-*".into()))])
            )])
        );
        assert_eq!(
            parse("[1 2.5 [] nil]").unwrap(),
            Edn::Vector(vec![Edn::Number(1.0), Edn::Number(2.5), Edn::Vector(vec![]), Edn::Nil])
        );
        assert!(parse("[1 2").unwrap_err().contains("missing"));
        assert!(parse("[1 x]").unwrap_err().contains("\"x\""));
    }

    #[test]
    fn wildcards_match_like_the_2019_mapping() {
        let parts: Vec<&str> = "linger-ms-0-*".split('*').collect();
        assert!(wildcard("linger-ms-0-2019-09-21-05-28.edn", &parts));
        assert!(!wildcard("linger-ms-100-2019-09-27-00-39.edn", &parts));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = "[".repeat(200_000) + &"]".repeat(200_000);
        let err = parse(&deep).unwrap_err();
        assert!(err.contains("nested deeper than 64 levels at byte 64"), "{err}");
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(&ok).is_ok(), "64 levels still read");
    }

    #[test]
    fn a_huge_jump_in_loop_numbers_is_an_error_not_billions_of_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.edn");
        std::fs::write(&path, "[[1 10 5 0]\n[4000000000 11 6 0]]").unwrap();
        let err = read_run(&path, "2019 x").unwrap_err().to_string();
        assert!(err.contains("r.edn") && err.contains("row 2") && err.contains("4000000000"), "{err}");
        std::fs::write(&path, "[[1 10 5 0]\n[##NaN 11 6 0]]").unwrap();
        assert!(read_run(&path, "2019 x").is_err(), "a NaN loop number is no gap to fill");
    }

    #[test]
    fn gaps_adding_up_to_millions_of_loops_are_an_error_not_millions_of_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.edn");
        // Each gap within the limit, together 150,000 loops that never ran.
        std::fs::write(&path, "[[50001 10 5 0]\n[100002 11 6 0]\n[150003 12 6 0]]").unwrap();
        let err = read_run(&path, "2019 x").unwrap_err().to_string();
        assert!(err.contains("row 3") && err.contains("150003") && err.contains("in all"), "{err}");
        std::fs::write(&path, "[[50001 10 5 0]\n[100001 11 6 0]]").unwrap();
        assert_eq!(read_run(&path, "2019 x").unwrap().rows.len(), 100_001, "100,000 missed loops in all still read");
    }

    #[test]
    fn gaps_in_loop_numbers_are_timeouts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.edn");
        std::fs::write(&path, "[[1 10 5 0]\n[2 11 6 0]\n[5 12 7 1 [3 4] 1 2 3 4 5 6 7 8]]").unwrap();
        let run = read_run(&path, "2019 x").unwrap();
        assert_eq!(run.rows.len(), 5);
        assert_eq!(run.rows.iter().filter(|r| r.probe_ms.is_none()).count(), 2);
        assert_eq!(run.rows[4].generator_ms, vec![3.0, 4.0]);
        assert_eq!(run.rows[4].resources.as_ref().unwrap()["kafka (3 brokers)"], (5.0, 6.0));
        assert_eq!(run.sustained, Some(1));
    }
}
