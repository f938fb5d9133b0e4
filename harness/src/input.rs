//! Files bench reads that anyone may have written (experiment files, 2019 EDN results), read with a bound on
//! their size: `bench run /dev/zero`, or a file that grows while it is read, would otherwise fill the memory.

use std::io::Read;
use std::path::Path;

/// The text of `path`, which must hold at most `max` bytes of UTF-8.
///
/// # Errors
/// The file's, and `InvalidData` for more than `max` bytes or text that is not UTF-8.
pub fn read_text(path: &Path, max: u64) -> std::io::Result<String> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        let limit = if max >= 1 << 20 { format!("{} MiB", max >> 20) } else { format!("{max} bytes") };
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("larger than {limit}")));
    }
    String::from_utf8(bytes).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_file_past_its_bound_is_refused_after_reading_no_more_than_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "abcd").unwrap();
        assert_eq!(super::read_text(&path, 4).unwrap(), "abcd");
        assert_eq!(super::read_text(&path, 3).unwrap_err().to_string(), "larger than 3 bytes");
        std::fs::write(&path, [0xff]).unwrap();
        assert_eq!(super::read_text(&path, 4).unwrap_err().kind(), std::io::ErrorKind::InvalidData);
        let endless = super::read_text(std::path::Path::new("/dev/zero"), 2 << 20).unwrap_err().to_string();
        assert_eq!(endless, "larger than 2 MiB");
    }
}
