//! SIGINT and SIGTERM for every command that brings stacks up: each signal advances [`Interrupts`] (the first
//! ends the current phase, the second skips an audit) and bench says what it does about it.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use anyhow::Context;
use harness::run::Interrupts;
use tokio::signal::unix::{signal, SignalKind};

/// What to print at the first, the second and any later signal.
pub type Signals = [&'static str; 3];

/// The number of the first signal received, once there was one.
pub struct Received(Arc<AtomicU8>);

impl Received {
    /// The shell's convention: 128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM).
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(128 + self.0.load(Ordering::SeqCst))
    }
}

/// Listens for SIGINT and SIGTERM from now on, turning each into one more step of `interrupts`.
///
/// # Errors
/// The signal handlers cannot be installed.
pub fn listen(interrupts: Interrupts, say: Signals) -> anyhow::Result<Received> {
    let first = Arc::new(AtomicU8::new(0));
    let mut int = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
    let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let number = first.clone();
    tokio::spawn(async move {
        loop {
            let n = tokio::select! {
                Some(()) = int.recv() => 2,
                Some(()) = term.recv() => 15,
                else => return,
            };
            let _ = number.compare_exchange(0, n, Ordering::SeqCst, Ordering::SeqCst);
            let count = interrupts.signal() as usize;
            eprintln!("\n{}", say[count.clamp(1, 3) - 1]);
        }
    });
    Ok(Received(first))
}
