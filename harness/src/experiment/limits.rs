//! Settings that parse but cannot run: ports that overflow or collide, waits too long to add to a clock, and where in
//! the file a key that is wrong sits (a validation message starts with the key it is about).

use std::collections::BTreeMap;

use super::Experiment;

/// A fault's grace may hold timeouts back for at most an hour: longer is no grace but a run that ignores them.
pub const MAX_GRACE_S: u64 = 3600;

/// The longest wait a `[load]` setting may ask for, as `search.timeout_ms` (10 minutes): a probe loop, a probe
/// answer or a generator's pause longer than that is no load, and beyond any bound a duration overflows the run's
/// clock arithmetic (`probe_interval_ms = 2^63` panicked adding durations for the estimate).
pub const MAX_WAIT_MS: u64 = 600_000;

/// The load's waits, each within `1..=`[`MAX_WAIT_MS`] (the pause may be 0).
pub fn waits(e: &Experiment) -> Result<(), String> {
    let l = &e.load;
    let waits = [
        ("load.probe_interval_ms", l.probe_interval_ms),
        ("load.probe_timeout_ms", l.probe_timeout_ms),
        ("load.transfer_pause_ms", l.transfer_pause_ms),
    ];
    match waits.iter().find(|(_, ms)| *ms > MAX_WAIT_MS) {
        Some((key, ms)) => Err(format!("{key} = {ms} is out of range: at most {MAX_WAIT_MS} (10 minutes)")),
        None => Ok(()),
    }
}

/// Every port the stack listens on, as `(key, first, last)`: brokers and controllers take one port each from
/// their base, the registry two. Ports past 65535 or two keys sharing a port are errors naming the keys.
pub fn ports(e: &Experiment) -> Result<(), String> {
    let p = &e.stack.ports;
    let span = |key: &str, base: u16, count: u32| -> Result<(String, u32, u32), String> {
        let last = u32::from(base) + count - 1;
        if base == 0 || last > 65535 {
            return Err(format!("stack.ports.{key} = {base}: {count} port(s) from it run past 65535 (or start at 0)"));
        }
        Ok((format!("stack.ports.{key}"), u32::from(base), last))
    };
    let brokers = e.stack.brokers;
    let mut spans = vec![span("kafka", p.kafka, brokers)?, span("controller", p.controller, brokers)?];
    // The registry also serves its management interface on the next port (QUARKUS_MANAGEMENT_PORT).
    spans.push(span("registry", p.registry, 2)?);
    for (key, port) in [
        ("db_ch", p.db_ch),
        ("db_ge", p.db_ge),
        ("graphql", p.graphql),
        ("frontend", p.frontend),
        ("command_handler_health", p.command_handler_health),
    ] {
        spans.push(span(key, port, 1)?);
    }
    for (i, (a, a0, a1)) in spans.iter().enumerate() {
        if let Some((b, b0, b1)) = spans[i + 1..].iter().find(|(_, b0, b1)| a0 <= b1 && b0 <= a1) {
            return Err(format!("{a} ({a0}..={a1}) and {b} ({b0}..={b1}) share a port: every part needs its own"));
        }
    }
    Ok(())
}

/// Each fault's grace, bounded so the run's clock arithmetic cannot overflow.
pub fn graces(e: &Experiment) -> Result<(), String> {
    match e.faults.iter().position(|f| f.grace_s > MAX_GRACE_S) {
        Some(i) => Err(format!("faults[{i}].grace_s = {} is out of range 0..={MAX_GRACE_S}", e.faults[i].grace_s)),
        None => Ok(()),
    }
}

/// Two variants of a matrix must not share a name: they would be pooled into one results folder.
pub fn distinct_names<'a>(names: impl Iterator<Item = &'a str>) -> Result<(), String> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for name in names {
        *seen.entry(name).or_default() += 1;
    }
    match seen.into_iter().find(|(_, n)| *n > 1) {
        Some((name, n)) => Err(format!("matrix: {n} variants are named {name:?} (values that read the same, like 1 and \"1\"): each variant needs its own name, or their runs share a results folder")),
        None => Ok(()),
    }
}

/// The 1-based line of a key a validation message names (`faults[1].grace_s = …`, `stack.ports.kafka = …`,
/// `matrix: …`): the first it starts with, else any other it names (a default is on no line, the key it clashes
/// with may be).
pub fn line_of(text: &str, message: &str) -> Option<usize> {
    let first = message.split([' ', ':']).next().into_iter();
    let others = message
        .split([' ', ':', '(', ')', ','])
        .filter(|w| w.contains('.') && w.chars().all(|c| c.is_ascii_alphanumeric() || "._[]".contains(c)));
    first.chain(others).find_map(|key| line_of_key(text, key))
}

/// The `n`-th table of an array of tables for `name[n]`, then the line setting the last part (or its header).
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    let parts: Vec<&str> = key.split('.').collect();
    let mut from = 0;
    for part in &parts[..parts.len().saturating_sub(1)] {
        let (table, index) = match part.split_once('[') {
            Some((t, i)) => (t, i.trim_end_matches(']').parse::<usize>().ok()?),
            None => (*part, 0),
        };
        let header = |l: &str| {
            l.trim() == format!("[[{table}]]")
                || l.trim().starts_with(&format!("[{table}"))
                || l.trim().ends_with(&format!(".{table}]"))
        };
        from = text.lines().enumerate().skip(from).filter(|(_, l)| header(l)).nth(index).map(|(i, _)| i)?;
    }
    let last = parts.last()?.split('[').next()?;
    // The line setting it, or for a whole table (`matrix: …`) its header.
    let setting = |l: &str| {
        let l = l.trim();
        l.trim_start_matches('"').starts_with(last) || l.trim_matches(['[', ']']) == last
    };
    text.lines().enumerate().skip(from).find(|(_, l)| setting(l)).map(|(i, _)| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_found_on_their_lines() {
        let text = "name = \"f\"\n[[faults]]\ngrace_s = 5\n[[faults]]\ntarget = \"db-ch\"\ngrace_s = 99999999\n[stack.ports]\nkafka = 65535\n[matrix]\n\"stack.brokers\" = [1]\n";
        assert_eq!(line_of(text, "faults[1].grace_s = 99999999 is out of range"), Some(6));
        assert_eq!(line_of(text, "stack.ports.kafka = 65535: 3 port(s)"), Some(8));
        assert_eq!(line_of(text, "matrix: 2 variants are named"), Some(9));
        assert_eq!(line_of(text, "nothing.here = 1"), None);
    }

    #[test]
    fn duplicate_names_are_named() {
        assert!(distinct_names(["a=1", "a=2"].into_iter()).is_ok());
        let err = distinct_names(["a=1", "a=1"].into_iter()).unwrap_err();
        assert!(err.contains("2 variants are named \"a=1\""), "{err}");
    }
}
