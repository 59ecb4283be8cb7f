//! Helpers shared by the command-line tests: the binary, configured for an emulator.

#![allow(dead_code)]

use std::collections::HashMap;
use std::time::Duration;

use assert_cmd::Command;
use gamooga_emulator::Emulator;

/// The `gamooga` binary with no configuration from the test's environment.
pub fn bare() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gamooga"));
    cmd.env_remove("GAMOOGA_COMPANY_ID")
        .env_remove("GAMOOGA_CONFIG_URL")
        .env_remove("GAMOOGA_BACKEND")
        .timeout(Duration::from_secs(120));
    cmd
}

/// The binary pointed at `emu` through the environment, as company `acme`.
pub fn gamooga(emu: &Emulator) -> Command {
    let mut cmd = bare();
    cmd.env("GAMOOGA_COMPANY_ID", "acme")
        .env("GAMOOGA_CONFIG_URL", emu.config_url());
    cmd
}

/// The same as a `std::process::Command`, for runs the test must signal.
pub fn spawnable(emu: &Emulator) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_gamooga"));
    cmd.env_remove("GAMOOGA_BACKEND")
        .env("GAMOOGA_COMPANY_ID", "acme")
        .env("GAMOOGA_CONFIG_URL", emu.config_url());
    cmd
}

pub fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Every line of stdout, as JSON.
pub fn json_lines(output: &std::process::Output) -> Vec<serde_json::Value> {
    stdout(output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect()
}

/// The query of a URL, decoded by the `url` crate, as (name, value) pairs in order.
pub fn query_pairs(url: &str) -> Vec<(String, String)> {
    url::Url::parse(url)
        .unwrap_or_else(|e| panic!("not a URL: {url}: {e}"))
        .query_pairs()
        .into_owned()
        .collect()
}

/// How many accepted events the emulator has per user id.
pub fn events_per_user(emu: &Emulator) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for call in emu.events().into_iter().filter(|c| c.is_accepted_event()) {
        *seen
            .entry(call.user_id.clone().unwrap_or_default())
            .or_default() += 1;
    }
    seen
}

/// Lines of a rejects file, as JSON.
pub fn rejects(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// A child process killed (and reaped) if the test fails before waiting for it, so a failed
/// assertion leaves no process behind.
pub struct Reaped(Option<std::process::Child>);

impl Reaped {
    pub fn new(child: std::process::Child) -> Self {
        Reaped(Some(child))
    }

    pub fn id(&self) -> u32 {
        self.0.as_ref().expect("not waited for yet").id()
    }

    pub fn child(&mut self) -> &mut std::process::Child {
        self.0.as_mut().expect("not waited for yet")
    }

    /// Takes the child out (to wait for it): it is no longer killed on drop.
    pub fn take(mut self) -> std::process::Child {
        self.0.take().expect("not waited for yet")
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Sends `signal` (`-INT`, `-TERM`, `-KILL`) to a process.
pub fn signal(signal: &str, pid: u32) {
    let sent = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill {signal} {pid}");
}
