//! The one rule for every name bench turns into a file or folder name: stack ids (from the command line and
//! read back from Docker and Kubernetes labels), experiment, variant and block names (from experiment files and
//! from the headers of results files, which may come from another machine), report names. A name that fits is
//! one path component that stays where it is joined: no separator, no `.` or `..`, nothing hidden.

/// The longest name: far inside a file name's 255 bytes, with room for what is appended (`.html`, `-r3.jsonl`).
pub const MAX_LEN: usize = 128;

/// What a name names. Ids that also go into label selectors (`kgb.stack=<id>`) may not hold `=` or `,`, which
/// would widen the selector; the other names may, as variant names are `key=value,key=value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    StackId,
    Namespace,
    Experiment,
    Variant,
    Block,
}

impl Kind {
    fn words(self) -> &'static str {
        match self {
            Kind::StackId => "stack id",
            Kind::Namespace => "namespace",
            Kind::Experiment => "experiment name",
            Kind::Variant => "variant name",
            Kind::Block => "block name",
        }
    }

    fn selects(self) -> bool {
        matches!(self, Kind::StackId | Kind::Namespace)
    }

    fn allowed(self, c: char) -> bool {
        c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') || (!self.selects() && matches!(c, '=' | ','))
    }

    fn rule(self) -> &'static str {
        if self.selects() {
            "1 to 128 ASCII letters, digits, '-', '_' or '.', not starting with '.' or '-'"
        } else {
            "1 to 128 ASCII letters, digits, '-', '_', '.', '=' or ',', not starting with '.' or '-'"
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.words())
    }
}

/// A name that cannot become a file or folder name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} {value:?} cannot name a file or folder: use {}", kind.rule())]
pub struct NameError {
    pub kind: Kind,
    pub value: String,
}

/// Checks `value`, a name of `kind`, against the rule.
///
/// # Errors
/// [`NameError`] naming both.
pub fn check(kind: Kind, value: &str) -> Result<(), NameError> {
    // A leading '.' covers `.`, `..` and hidden files; a leading '-' would read as an option to any tool
    // a user hands the path to. No separator can appear, so no other dot segment can either.
    let fits = (1..=MAX_LEN).contains(&value.len())
        && value.chars().all(|c| kind.allowed(c))
        && !value.starts_with(['.', '-']);
    if fits {
        Ok(())
    } else {
        Err(NameError { kind, value: value.to_string() })
    }
}

/// `value` made to fit as a [`Kind::Variant`], the same way every time: each character outside the rule becomes
/// `_`, as does a leading `.` or `-`. For names bench builds from what users wrote for another purpose (a
/// matrix's values); the result still has to pass [`check`] (it may be too long).
pub fn sanitize(value: &str) -> String {
    value
        .chars()
        .enumerate()
        .map(|(i, c)| if Kind::Variant.allowed(c) && !(i == 0 && matches!(c, '.' | '-')) { c } else { '_' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_leave_their_folder_or_hide_are_refused_naming_the_value() {
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "/etc",
            "a\\b",
            ".hidden",
            "-rf",
            "a b",
            "x\0y",
            "é",
            &"a".repeat(MAX_LEN + 1),
        ] {
            for kind in [Kind::StackId, Kind::Variant] {
                let e = check(kind, bad).unwrap_err();
                assert_eq!(e.value, bad);
                assert!(e.to_string().starts_with(&format!("{kind} {bad:?}")), "{e}");
            }
        }
        for good in ["20261126T170509-1a2b3c", "smoke", "a..b", &"a".repeat(MAX_LEN)] {
            assert_eq!(check(Kind::StackId, good), Ok(()), "{good}");
        }
        assert_eq!(check(Kind::Variant, "batch.size=16384,compression.type=none"), Ok(()));
        for widens in ["a=b", "x,kgb.bench"] {
            assert!(check(Kind::StackId, widens).is_err() && check(Kind::Namespace, widens).is_err(), "{widens}");
        }
    }

    #[test]
    fn sanitizing_is_deterministic_and_yields_one_path_component() {
        assert_eq!(sanitize("a/b c"), "a_b_c");
        assert_eq!(sanitize("../etc"), "_._etc");
        assert_eq!(sanitize("-Xmx1g -Xms1g"), "_Xmx1g_-Xms1g");
        assert_eq!(sanitize("x=-1"), "x=-1");
        for text in ["..", "/", "a/../b", "..\\x"] {
            assert_eq!(check(Kind::Variant, &sanitize(text)), Ok(()), "{text}");
        }
    }
}
