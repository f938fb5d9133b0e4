//! Progress on stderr: a spinner or a bar on a terminal, plain timestamped lines otherwise (CI logs).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    bar: Option<ProgressBar>,
    start: Instant,
}

impl Progress {
    /// A spinner with a message: for work whose length is unknown.
    pub fn new(title: &str) -> Self {
        Self::with(title, ProgressBar::new_spinner(), "{spinner} [{elapsed:>4}] {prefix}: {wide_msg}", 120)
    }

    /// A bar of `len` steps (a run's loops).
    pub fn counting(title: &str, len: u64) -> Self {
        Self::with(title, ProgressBar::new(len), "{prefix} [{elapsed:>4}] {bar:24} {pos:>5}/{len} {wide_msg}", 200)
    }

    fn with(title: &str, bar: ProgressBar, template: &str, tick_ms: u64) -> Self {
        let start = Instant::now();
        if !std::io::stderr().is_terminal() {
            eprintln!("{title}");
            return Progress { bar: None, start };
        }
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar.set_prefix(title.to_string());
        bar.enable_steady_tick(Duration::from_millis(tick_ms));
        Progress { bar: Some(bar), start }
    }

    /// A new stage or line of news.
    pub fn set(&self, message: String) {
        match &self.bar {
            Some(bar) => bar.set_message(message),
            None => eprintln!("  [{:>6.1}s] {message}", self.start.elapsed().as_secs_f64()),
        }
    }

    /// Step `position` of a counting bar; off a terminal only every `log_every`th step is written.
    pub fn step(&self, position: u64, message: String, log_every: u64) {
        match &self.bar {
            Some(bar) => {
                bar.set_position(position);
                bar.set_message(message);
            }
            None if position.is_multiple_of(log_every.max(1)) => {
                eprintln!("  [{:>6.1}s] loop {position} · {message}", self.start.elapsed().as_secs_f64());
            }
            None => {}
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
