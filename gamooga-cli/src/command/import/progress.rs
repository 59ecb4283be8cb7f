//! The progress bar on standard error (indicatif): bytes read with the ETA when the size is
//! known, rows, rows per second, deliveries, retries and failures. Hidden when standard
//! error is not a terminal, or with `--no-progress`.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// What the bar shows, sampled a few times a second.
pub struct Sample {
    pub bytes: u64,
    pub rows: u64,
    pub delivered: u64,
    pub retried: u64,
    pub failed: u64,
    pub elapsed: Duration,
}

#[derive(Clone)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar for `size` bytes (`None`: a spinner, for standard input).
    pub fn new(size: Option<u64>, enabled: bool) -> Progress {
        let target = if enabled && std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr_with_hz(5)
        } else {
            ProgressDrawTarget::hidden()
        };
        let template = match size {
            Some(_) => "{spinner} [{elapsed_precise}] {wide_bar} {percent:>3}% ETA {eta} {msg}",
            None => "{spinner} [{elapsed_precise}] {bytes} read {msg}",
        };
        let style = ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        let bar = ProgressBar::with_draw_target(size, target).with_style(style);
        Progress { bar }
    }

    pub fn update(&self, s: &Sample) {
        let secs = s.elapsed.as_secs_f64().max(1e-3);
        self.bar.set_position(s.bytes);
        self.bar.set_message(format!(
            "{} rows, {:.0} rows/s, {} delivered, {} retries, {} failed",
            s.rows,
            s.rows as f64 / secs,
            s.delivered,
            s.retried,
            s.failed
        ));
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    /// Prints a line above the bar.
    pub fn println(&self, line: &str) {
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }
}
