//! The DevTools protocol over `--remote-debugging-pipe`: Chromium reads calls from its fd 3 and writes answers and
//! events to its fd 4, each message JSON ended by a NUL byte. Unlike `--remote-debugging-port`, nothing listens
//! on a TCP port, where any process of any user on the machine (or a page's script probing 127.0.0.1) could
//! attach and drive the browser: read its pages, run scripts in them, reach the bank with its session.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

/// Chromium's ends of the pipe: it reads calls from fd 3 and writes to fd 4.
const CALLS_FD: i32 = 3;
const ANSWERS_FD: i32 = 4;

/// Bench's ends of the two pipes.
pub struct Pipe {
    reader: BufReader<Box<dyn AsyncRead + Send + Unpin>>,
    writer: Box<dyn AsyncWrite + Send + Unpin>,
}

impl Pipe {
    pub fn new(reader: Box<dyn AsyncRead + Send + Unpin>, writer: Box<dyn AsyncWrite + Send + Unpin>) -> Pipe {
        Pipe { reader: BufReader::new(reader), writer }
    }

    /// Sends one message.
    pub async fn send(&mut self, message: &str) -> io::Result<()> {
        self.writer.write_all(message.as_bytes()).await?;
        self.writer.write_all(&[0]).await?;
        self.writer.flush().await
    }

    /// The next message; `None` once the browser has closed its end (it exited).
    pub async fn receive(&mut self) -> io::Result<Option<String>> {
        let mut message = Vec::new();
        if self.reader.read_until(0, &mut message).await? == 0 {
            return Ok(None);
        }
        if message.last() == Some(&0) {
            message.pop();
        }
        String::from_utf8(message).map(Some).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }
}

/// Spawns `command` with two new pipes as its fd 3 (calls) and fd 4 (answers), and returns bench's ends.
///
/// # Errors
/// The pipes' or the spawn's.
pub fn spawn(command: &mut tokio::process::Command) -> io::Result<(tokio::process::Child, Pipe)> {
    // Both ends close on exec: only the copies made in the child below survive into Chromium.
    let (calls_read, calls_write) = io::pipe()?;
    let (answers_read, answers_write) = io::pipe()?;
    let (calls, answers) = (calls_read.as_raw_fd(), answers_write.as_raw_fd());
    // SAFETY: between fork and exec the closure calls only fcntl and dup2 (async-signal-safe), on descriptors
    // this process owns until after the spawn.
    unsafe {
        command.pre_exec(move || {
            // Copied above 4 first, so that neither lands on the other's target; dup2's copies stay open on exec.
            let calls = libc::fcntl(calls, libc::F_DUPFD_CLOEXEC, 10);
            let answers = libc::fcntl(answers, libc::F_DUPFD_CLOEXEC, 10);
            if calls < 0 || answers < 0 || libc::dup2(calls, CALLS_FD) < 0 || libc::dup2(answers, ANSWERS_FD) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command.spawn()?;
    // The browser's ends closed here, so its exit reads as the end of the answers pipe.
    drop((calls_read, answers_write));
    let writer = tokio::net::unix::pipe::Sender::from_owned_fd(OwnedFd::from(calls_write))?;
    let reader = tokio::net::unix::pipe::Receiver::from_owned_fd(OwnedFd::from(answers_read))?;
    Ok((child, Pipe::new(Box::new(reader), Box::new(writer))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn messages_are_ended_by_a_nul_byte_both_ways() {
        let (ours, theirs) = tokio::io::duplex(1024);
        let (read, write) = tokio::io::split(ours);
        let mut pipe = Pipe::new(Box::new(read), Box::new(write));
        let (mut their_read, mut their_write) = tokio::io::split(theirs);
        pipe.send(r#"{"id":1}"#).await.unwrap();
        let mut sent = [0u8; 9];
        tokio::io::AsyncReadExt::read_exact(&mut their_read, &mut sent).await.unwrap();
        assert_eq!(&sent, b"{\"id\":1}\0");
        their_write.write_all(b"{\"id\":1,\"result\":{}}\0{\"method\":\"e\"}\0").await.unwrap();
        drop(their_write);
        assert_eq!(pipe.receive().await.unwrap().as_deref(), Some(r#"{"id":1,"result":{}}"#));
        assert_eq!(pipe.receive().await.unwrap().as_deref(), Some(r#"{"method":"e"}"#));
        drop(their_read);
        assert_eq!(pipe.receive().await.unwrap(), None, "the browser's end closed");
    }
}
