//! Credentials stay off the terminal: a URL's password is shown as `***` unless the user asks for it.

/// `postgres://bank:s3cret@127.0.0.1:25432/ch` → `postgres://bank:***@127.0.0.1:25432/ch`; URLs without a password
/// are unchanged.
pub fn password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    // The userinfo ends at the last '@' before the path: a password may itself hold '@' or '/'.
    let authority_end = rest.rfind('@').map_or(0, |at| at);
    let Some((user, _)) = rest[..authority_end].split_once(':') else { return url.to_string() };
    format!("{scheme}://{user}:***{}", &rest[authority_end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden_and_the_rest_kept() {
        assert_eq!(password("postgres://bank:s3cret@127.0.0.1:25432/ch"), "postgres://bank:***@127.0.0.1:25432/ch");
        assert_eq!(password("postgres://bank:p@ss/w:rd@127.0.0.1/ge"), "postgres://bank:***@127.0.0.1/ge");
        assert_eq!(password("postgres://bank@127.0.0.1/ge"), "postgres://bank@127.0.0.1/ge");
        assert_eq!(password("ws://127.0.0.1:8888/graphql"), "ws://127.0.0.1:8888/graphql");
        assert_eq!(password("not a url"), "not a url");
    }
}
