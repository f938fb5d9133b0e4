//! The 2019 transfer chain of one generator (docs/guide.md): amounts grow by €1 as money goes back and forth between
//! the generator's two accounts; past €50 one deliberate failure (a bogus token, or more than the limit allows)
//! and the chain starts small again.

/// One step of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// first -> second, this many cents.
    Forward(i64),
    /// second -> first, this many cents.
    Back(i64),
    /// first -> second €1 with token `bogus-token`: must fail with `invalid token`.
    BogusToken,
    /// first -> second €1,000: must fail with `insufficient funds`.
    TooMuch,
}

/// Amounts at or above this end a run of growing transfers.
const TURN: i64 = 5000;

impl Step {
    pub const FIRST: Step = Step::Forward(100);

    /// The failure reason this step must produce, or `None` when it must succeed.
    pub fn expected_reason(self) -> Option<&'static str> {
        match self {
            Step::Forward(_) | Step::Back(_) => None,
            Step::BogusToken => Some("invalid token"),
            Step::TooMuch => Some("insufficient funds"),
        }
    }

    /// Whether `success`/`reason` is what this step must produce.
    pub fn is_expected(self, success: bool, reason: Option<&str>) -> bool {
        match self.expected_reason() {
            None => success,
            Some(expected) => !success && reason == Some(expected),
        }
    }

    /// The next step. A wrong answer is counted by the caller and the chain goes on as if it had been right
    /// (2019 stopped that generator).
    pub fn next(self) -> Step {
        match self {
            Step::Forward(a) if a < TURN => Step::Back(a + 100),
            Step::Forward(_) => Step::BogusToken,
            Step::Back(a) if a < TURN => Step::Forward(a + 100),
            Step::Back(_) => Step::TooMuch,
            Step::BogusToken => Step::Forward(100),
            Step::TooMuch => Step::Back(100),
        }
    }

    /// (from first account?, amount in cents, token override)
    pub fn route(self) -> (bool, i64, Option<&'static str>) {
        match self {
            Step::Forward(a) => (true, a, None),
            Step::Back(a) => (false, a, None),
            Step::BogusToken => (true, 100, Some("bogus-token")),
            Step::TooMuch => (true, 100_000, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_follows_the_2019_table() {
        assert_eq!(Step::FIRST.next(), Step::Back(200));
        assert_eq!(Step::Back(200).next(), Step::Forward(300));
        assert_eq!(Step::Forward(4900).next(), Step::Back(5000));
        assert_eq!(Step::Back(5000).next(), Step::TooMuch);
        assert_eq!(Step::Forward(5000).next(), Step::BogusToken);
        assert_eq!(Step::BogusToken.next(), Step::Forward(100));
        assert_eq!(Step::TooMuch.next(), Step::Back(100));
    }

    #[test]
    fn a_full_cycle_visits_both_failures_and_keeps_balances_within_the_limit() {
        let (mut first, mut second) = (0i64, 0i64);
        let mut step = Step::FIRST;
        let mut failures = Vec::new();
        for _ in 0..200 {
            let (from_first, amount, _) = step.route();
            match step.expected_reason() {
                Some(reason) => failures.push(reason),
                None if from_first => (first, second) = (first - amount, second + amount),
                None => (first, second) = (first + amount, second - amount),
            }
            assert!(first >= -50_000 && second >= -50_000, "{first} {second}");
            step = step.next();
        }
        assert!(failures.contains(&"invalid token") && failures.contains(&"insufficient funds"), "{failures:?}");
    }

    #[test]
    fn wrong_answers_are_recognised() {
        assert!(Step::Forward(100).is_expected(true, None));
        assert!(!Step::Forward(100).is_expected(false, Some("insufficient funds")));
        assert!(Step::BogusToken.is_expected(false, Some("invalid token")));
        assert!(!Step::BogusToken.is_expected(true, None));
        assert!(!Step::TooMuch.is_expected(false, Some("invalid token")));
    }
}
