//! Errors as people read them.

/// An error with its causes, as one line: a TLS refusal is only in the source of PostgreSQL's "error performing
/// TLS handshake", and an error's own text often leaves out what caused it.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}
