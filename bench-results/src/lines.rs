//! The lines of a results file, each read with a bound: results files come from anywhere (a nightly job's
//! artifact, someone's tool), and a line that never ends would otherwise be read whole into memory.

use std::io::{self, BufRead, Read};

/// The longest line a results file may hold. The longest a run writes is its end line, which carries at most
/// the last 30 log lines of a few containers: well under 1 MiB.
pub const MAX_LINE: usize = 16 << 20;

/// What reading one more line gave.
pub enum Next {
    /// A line, without its `\n` (the last one may have none).
    Line(Vec<u8>),
    /// A line longer than [`MAX_LINE`]: only that much of it was read.
    TooLong,
    /// The end of the file.
    Done,
}

/// Reads the next line, at most [`MAX_LINE`] bytes of it.
///
/// # Errors
/// The reader's.
pub fn next(reader: &mut impl BufRead) -> io::Result<Next> {
    let mut line = Vec::new();
    let read = reader.by_ref().take(MAX_LINE as u64 + 1).read_until(b'\n', &mut line)?;
    if read == 0 {
        return Ok(Next::Done);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
        Ok(Next::Line(line))
    } else if line.len() > MAX_LINE {
        Ok(Next::TooLong)
    } else {
        Ok(Next::Line(line))
    }
}

/// What a reader says of a line over [`MAX_LINE`].
pub fn too_long() -> String {
    format!("a line longer than {} MiB: no results file holds one", MAX_LINE >> 20)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &[u8]) -> Vec<Result<Vec<u8>, ()>> {
        let mut reader = io::Cursor::new(text);
        let mut out = Vec::new();
        loop {
            match next(&mut reader).unwrap() {
                Next::Line(l) => out.push(Ok(l)),
                Next::TooLong => out.push(Err(())),
                Next::Done => return out,
            }
        }
    }

    #[test]
    fn lines_are_split_as_written_and_an_endless_one_is_cut_at_the_bound() {
        assert_eq!(all(b"a\n\nb"), vec![Ok(b"a".to_vec()), Ok(Vec::new()), Ok(b"b".to_vec())]);
        assert!(all(b"").is_empty());
        let longest = [vec![b'x'; MAX_LINE], b"\nz\n".to_vec()].concat();
        assert_eq!(
            all(&longest).iter().map(|l| l.as_ref().map(Vec::len)).collect::<Vec<_>>(),
            vec![Ok(MAX_LINE), Ok(1)],
            "a line of exactly the bound is a line"
        );
        let endless = vec![b'x'; MAX_LINE + 1];
        assert_eq!(all(&endless).first(), Some(&Err(())));
    }
}
