//! A real headless Chromium driven through chromedriver (WebDriver) on 127.0.0.1, for the
//! inspector's end-to-end tests and the screenshot example.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them). Under
//! `CI=true` a missing browser fails the test; elsewhere the test is skipped with a loud
//! message on stderr.

#![allow(dead_code)] // Shared by the tests and the screenshot example, which use parts.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use tokio::process::{Child, Command};

/// Generous: the machine is shared by several builds.
pub const WAIT: Duration = Duration::from_secs(30);

/// The flags that work on a root, offline machine.
const CHROMIUM_FLAGS: [&str; 9] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
];

/// chromedriver, a Chromium session and its fresh profile directory.
pub struct Browser {
    pub client: Client,
    driver: Child,
    profile: PathBuf,
}

fn find(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in names {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// Starts chromedriver and a headless Chromium at `width` × `height`; `None` (after a loud
/// message) when they are not installed and `CI` is not `true`.
pub async fn launch(width: u32, height: u32) -> Option<Browser> {
    let chromium = find(&["chromium", "chromium-browser", "google-chrome"]);
    let driver = find(&["chromedriver"]);
    let (Some(chromium), Some(driver)) = (chromium, driver) else {
        let message = "chromium and chromedriver are needed for the inspector's browser tests \
                       (apt-get install -y chromium chromium-driver)";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{message}: missing under CI=true");
        }
        eprintln!("\n*** SKIPPED: {message} ***\n");
        return None;
    };
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener.local_addr().expect("its address").port()
    };
    let driver = Command::new(driver)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // A group of its own, with the Chromium it starts: dropping the `Browser` (a test
        // that panics) kills them all, not chromedriver alone.
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver starts");
    let profile =
        std::env::temp_dir().join(format!("gamooga-inspector-{}-{}", std::process::id(), port));
    std::fs::create_dir_all(&profile).expect("a profile directory");
    let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| (*s).to_owned()).collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    args.push(format!("--window-size={width},{height}"));
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        json!({ "binary": chromium, "args": args }),
    );
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let client = loop {
        match ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities.clone())
            .connect(&url)
            .await
        {
            Ok(client) => break client,
            Err(e) if started.elapsed() < WAIT => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("cannot start a Chromium session through chromedriver: {e}"),
        }
    };
    Some(Browser {
        client,
        driver,
        profile,
    })
}

impl Drop for Browser {
    /// Kills chromedriver's process group (Chromium included) and removes the profile, so a
    /// test that panics leaves no browser behind. After [`Browser::close`] there is nothing
    /// left to kill.
    fn drop(&mut self) {
        if let Some(pid) = self.driver.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Browser {
    /// Ends the session and chromedriver, and removes the profile.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill().await;
        let _ = std::fs::remove_dir_all(&self.profile);
    }

    /// Runs `script` (a function body that returns a value) in the page.
    pub async fn eval(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Runs `script` (a function body) in the page and waits for it to call its last
    /// argument (`arguments[arguments.length - 1]`) with the result: for scripts that wait
    /// for the page to draw.
    pub async fn eval_async(&self, script: &str) -> Value {
        self.client
            .execute_async(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits until `script` returns `true`; panics with `what` and the page's state if it
    /// does not within [`WAIT`].
    pub async fn wait_until(&self, what: &str, script: &str) {
        let started = Instant::now();
        loop {
            if self.eval(script).await == Value::Bool(true) {
                return;
            }
            if started.elapsed() > WAIT {
                let shown = self
                    .eval("return document.getElementById('shown').textContent + ' | ' + document.getElementById('calls-body').innerText.slice(0, 2000)")
                    .await;
                panic!("timed out waiting until {what}; the page shows: {shown}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The text of the rows of the calls table, newest first.
    pub async fn rows(&self) -> Vec<String> {
        let rows = self
            .eval("return [...document.querySelectorAll('#calls-body tr:not(.spacer)')].map(r => r.innerText)")
            .await;
        rows.as_array()
            .map(|a| {
                a.iter()
                    .map(|v| v.as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Clicks the element `css`.
    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click {css}: {e}"));
    }

    /// Replaces the value of the input `css` by typing `text`.
    pub async fn type_into(&self, css: &str, text: &str) {
        let input = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"));
        input.clear().await.expect("clear the input");
        input.send_keys(text).await.expect("type into the input");
    }

    /// Saves a PNG of the window.
    pub async fn screenshot(&self, path: &Path) {
        let png = self.client.screenshot().await.expect("a screenshot");
        std::fs::write(path, png).expect("write the screenshot");
    }
}
