//! Amounts in euro cents formatted Dutch style with integer arithmetic only (2019 went through doubles and
//! got cents wrong on large balances): `€1.234,56`, `€0,00`, `€-12,34`. The endpoint writes amounts this way;
//! the harness's probe recognises its own transactions by them.

/// Formats `cents` as euros: thousands separated by `.`, `,` before the cents, no space after `€`.
pub fn euros(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    let whole = (abs / 100).to_string();
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push('.');
        }
        grouped.push(digit);
    }
    format!("€{sign}{grouped},{:02}", abs % 100)
}

#[cfg(test)]
mod tests {
    use super::euros;

    #[test]
    fn dutch_style_from_integer_cents() {
        assert_eq!(euros(1000), "€10,00");
        assert_eq!(euros(123_456), "€1.234,56");
        assert_eq!(euros(0), "€0,00");
        assert_eq!(euros(-1234), "€-12,34");
        assert_eq!(euros(29), "€0,29");
        assert_eq!(euros(-5), "€-0,05");
        assert_eq!(euros(100_000_000_000_000_000), "€1.000.000.000.000.000,00");
        assert_eq!(euros(100_000_000_000_000_001), "€1.000.000.000.000.000,01");
        assert_eq!(euros(i64::MIN), "€-92.233.720.368.547.758,08");
    }
}
