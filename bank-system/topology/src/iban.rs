//! Open-bank IBANs and tokens (docs/bank.md) and the house account.

use rand::Rng;

pub const HOUSE_IBAN: &str = "NL66OPEN0000000000";
pub const HOUSE_USERNAME: &str = "open_web";
pub const HOUSE_TOKEN: &str = "00000000000000000000";
pub const HOUSE_START_BALANCE: i64 = 100_000_000_000_000_000;
/// A new account may go this far below zero (euro cents).
pub const NEW_ACCOUNT_LIMIT: i64 = -50_000;
/// The `from` of a deposit.
pub const CASH: &str = "cash";

/// The two check digits of an open-bank IBAN with these ten digits.
pub fn check_digits(ten_digits: &str) -> Option<String> {
    if ten_digits.len() != 10 || !ten_digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // "OPEN" as letters-to-numbers is 24251423, "NL00" is 232100 (ISO 13616 rearrangement).
    let number: u128 = format!("24251423{ten_digits}232100").parse().ok()?;
    Some(format!("{:02}", 98 - (number % 97)))
}

/// A new random open-bank IBAN: `NL` + check + `OPEN` + `0` + 9 random digits.
pub fn new_iban(rng: &mut impl Rng) -> String {
    let digits = format!("0{:09}", rng.gen_range(0..1_000_000_000u64));
    let check = check_digits(&digits).unwrap_or_default();
    format!("NL{check}OPEN{digits}")
}

/// Whether `s` is an open-bank IBAN whose check digits recompute. Never panics, whatever the input.
pub fn is_valid_open_iban(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 18
        && s.is_ascii()
        && &s[..2] == "NL"
        && &s[4..8] == "OPEN"
        && b[2..4].iter().all(u8::is_ascii_digit)
        && check_digits(&s[8..]).as_deref() == Some(&s[2..4])
}

/// A new token: 20 random digits.
pub fn new_token(rng: &mut impl Rng) -> String {
    (0..20).map(|_| char::from(b'0' + rng.gen_range(0..10u8))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_house_account_is_valid() {
        assert_eq!(check_digits("0000000000").as_deref(), Some("66"));
        assert!(is_valid_open_iban(HOUSE_IBAN));
    }

    #[test]
    fn generated_ibans_are_valid_and_start_with_zero() {
        let mut rng = rand::thread_rng();
        for _ in 0..1000 {
            let iban = new_iban(&mut rng);
            assert!(is_valid_open_iban(&iban), "{iban}");
            assert_eq!(&iban[8..9], "0");
        }
    }

    #[test]
    fn a_wrong_check_or_shape_is_invalid_and_never_panics() {
        assert!(!is_valid_open_iban("NL67OPEN0000000000"));
        assert!(!is_valid_open_iban("NL66OPEN000000000"));
        assert!(!is_valid_open_iban("NL66OPEN00000000x0"));
        assert!(!is_valid_open_iban("xxxxxxxxxxxxxxxxxx"));
        assert!(!is_valid_open_iban("NL66OPEN00000000é"));
        assert!(!is_valid_open_iban("cash"));
        assert!(!is_valid_open_iban(""));
    }

    #[test]
    fn tokens_are_20_digits() {
        let token = new_token(&mut rand::thread_rng());
        assert_eq!(token.len(), 20);
        assert!(token.bytes().all(|b| b.is_ascii_digit()));
    }
}
