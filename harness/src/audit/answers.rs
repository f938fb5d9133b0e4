//! The answers a run's clients received, kept for the audit on disk instead of in memory: a run of hours gets
//! millions, and bench's memory must stay flat. They go to an unnamed temporary file (nothing is left behind even
//! when bench is killed) through a fixed buffer, and the audit reads them back in batches.
//!
//! A record: the command id (16 bytes), a flags byte (bit 0 success, bit 1 a reason follows), and for a reason its
//! length (u16, little-endian) and UTF-8 bytes. Reasons are cut to [`MAX_REASON`] bytes: the audit only reads their
//! beginning.

use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;

use uuid::Uuid;

use crate::load::bank::Answer;

/// What the log holds in memory at most, whatever the number of answers.
pub const BUFFER: usize = 64 * 1024;

/// The longest reason kept, in bytes.
pub const MAX_REASON: usize = 1024;

const SUCCESS: u8 = 1;
const REASON: u8 = 2;

/// Answers written so far; the file is made with the first one.
#[derive(Default)]
pub struct AnswerLog {
    writer: Option<BufWriter<File>>,
    len: u64,
    /// The first write that failed; later answers are counted but not kept, and the audit says so.
    failed: Option<String>,
}

impl fmt::Debug for AnswerLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnswerLog").field("len", &self.len).field("failed", &self.failed).finish_non_exhaustive()
    }
}

impl AnswerLog {
    pub fn new() -> AnswerLog {
        AnswerLog::default()
    }

    /// Keeps `answer` to command `id`. A failing disk does not stop the load: the failure is kept for the audit.
    pub fn push(&mut self, id: Uuid, answer: &Answer) {
        self.len += 1;
        if self.failed.is_some() {
            return;
        }
        if let Err(e) = self.write(id, answer) {
            self.failed = Some(format!("the answers could not be kept on disk: {e}"));
        }
    }

    fn write(&mut self, id: Uuid, answer: &Answer) -> io::Result<()> {
        let writer = match &mut self.writer {
            Some(writer) => writer,
            None => self.writer.insert(BufWriter::with_capacity(BUFFER, tempfile::tempfile()?)),
        };
        writer.write_all(id.as_bytes())?;
        let flags = if answer.success { SUCCESS } else { 0 } | if answer.reason.is_some() { REASON } else { 0 };
        writer.write_all(&[flags])?;
        if let Some(reason) = &answer.reason {
            let reason = cut(reason, MAX_REASON);
            // At most MAX_REASON, which fits a u16.
            writer.write_all(&(reason.len() as u16).to_le_bytes())?;
            writer.write_all(reason.as_bytes())?;
        }
        Ok(())
    }

    /// Answers pushed, kept or not.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes held in memory now (the write buffer's contents), never above [`BUFFER`].
    pub fn in_memory(&self) -> usize {
        self.writer.as_ref().map_or(0, |w| w.buffer().len())
    }

    /// Appends every answer of `other` (the open model's search keeps its own log).
    pub fn append(&mut self, mut other: AnswerLog) {
        if let Some(e) = other.failed.take() {
            self.failed.get_or_insert(e);
        }
        let added = other.len;
        match other.reader() {
            Ok(mut reader) => {
                if let Err(e) = reader.copy_to(self) {
                    self.failed.get_or_insert(format!("the answers could not be kept on disk: {e}"));
                }
            }
            Err(e) => {
                self.failed.get_or_insert(e);
            }
        }
        self.len += added;
    }

    /// Reads the answers from the first one on, without changing the log.
    ///
    /// # Errors
    /// An answer that could not be kept, or the buffer that cannot be written out.
    pub fn reader(&mut self) -> Result<AnswerReader, String> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let file = match &mut self.writer {
            None => None,
            Some(writer) => {
                writer.flush().map_err(|e| format!("the answers could not be written out: {e}"))?;
                Some(writer.get_ref().try_clone().map_err(|e| format!("the answers could not be read back: {e}"))?)
            }
        };
        Ok(AnswerReader { file: file.map(|file| BufReader::with_capacity(BUFFER, At { file, offset: 0 })) })
    }
}

/// The longest beginning of `s` of at most `max` bytes that ends on a character boundary.
fn cut(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A file read from an offset of its own, so reading leaves the writer's position alone.
struct At {
    file: File,
    offset: u64,
}

impl Read for At {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.offset)?;
        self.offset += n as u64;
        Ok(n)
    }
}

/// The answers of a log, in the order they were pushed.
pub struct AnswerReader {
    file: Option<BufReader<At>>,
}

impl AnswerReader {
    /// The next at most `max` answers; empty at the end.
    ///
    /// # Errors
    /// The file cannot be read, or ends inside a record.
    pub fn batch(&mut self, max: usize) -> io::Result<Vec<(Uuid, Answer)>> {
        let mut batch = Vec::with_capacity(max.min(16_384));
        let Some(file) = &mut self.file else { return Ok(batch) };
        while batch.len() < max {
            let mut id = [0u8; 16];
            match file.read(&mut id[..1])? {
                0 => break,
                _ => file.read_exact(&mut id[1..])?,
            }
            let mut flags = [0u8; 1];
            file.read_exact(&mut flags)?;
            let reason = if flags[0] & REASON != 0 {
                let mut len = [0u8; 2];
                file.read_exact(&mut len)?;
                let mut bytes = vec![0u8; usize::from(u16::from_le_bytes(len))];
                file.read_exact(&mut bytes)?;
                Some(String::from_utf8_lossy(&bytes).into_owned())
            } else {
                None
            };
            batch.push((Uuid::from_bytes(id), Answer { success: flags[0] & SUCCESS != 0, reason }));
        }
        Ok(batch)
    }

    /// Writes every remaining record into `log` as it is (records are self-delimiting).
    fn copy_to(&mut self, log: &mut AnswerLog) -> io::Result<()> {
        let Some(file) = &mut self.file else { return Ok(()) };
        if log.writer.is_none() {
            log.writer = Some(BufWriter::with_capacity(BUFFER, tempfile::tempfile()?));
        }
        match &mut log.writer {
            Some(writer) => io::copy(file, writer).map(|_| ()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(i: u64) -> (Uuid, Answer) {
        let reason = match i % 3 {
            0 => None,
            1 => Some("invalid token".to_string()),
            _ => Some(format!("no answer from the bank within 30 s ({i})")),
        };
        (Uuid::from_u128(u128::from(i) * 7919 + 1), Answer { success: i.is_multiple_of(3), reason })
    }

    fn read_all(log: &mut AnswerLog, batch: usize) -> Vec<(Uuid, Answer)> {
        let mut reader = log.reader().unwrap();
        let mut all = Vec::new();
        loop {
            let b = reader.batch(batch).unwrap();
            assert!(b.len() <= batch);
            if b.is_empty() {
                return all;
            }
            all.extend(b);
        }
    }

    #[test]
    fn many_answers_take_a_fixed_buffer_and_all_come_back() {
        let n = 200_000;
        let mut log = AnswerLog::new();
        let mut most = 0;
        for i in 0..n {
            let (id, a) = answer(i);
            log.push(id, &a);
            most = most.max(log.in_memory());
        }
        // 200,000 answers are about 6 MB; the log never held more than its buffer of them.
        assert!(most <= BUFFER, "{most} bytes in memory");
        assert_eq!(log.len(), n);
        let all = read_all(&mut log, 10_000);
        assert_eq!(all.len() as u64, n);
        assert!(all.iter().enumerate().all(|(i, got)| *got == answer(i as u64)));
    }

    #[test]
    fn reading_back_leaves_the_log_writable_and_appending_keeps_order() {
        let mut log = AnswerLog::new();
        assert!(read_all(&mut log, 5).is_empty());
        for i in 0..10 {
            let (id, a) = answer(i);
            log.push(id, &a);
        }
        assert_eq!(read_all(&mut log, 3).len(), 10);
        let mut other = AnswerLog::new();
        for i in 10..25 {
            let (id, a) = answer(i);
            other.push(id, &a);
        }
        log.append(other);
        assert_eq!(log.len(), 25);
        let expected: Vec<_> = (0..25).map(answer).collect();
        assert_eq!(read_all(&mut log, 4), expected);
    }

    #[test]
    fn long_reasons_are_cut_on_a_character_boundary() {
        let mut log = AnswerLog::new();
        let long = "é".repeat(MAX_REASON);
        log.push(Uuid::nil(), &Answer { success: false, reason: Some(long) });
        let got = read_all(&mut log, 10).remove(0).1.reason.unwrap();
        assert_eq!(got, "é".repeat(MAX_REASON / 2));
    }
}
