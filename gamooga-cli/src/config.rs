//! Which company and which Gamooga: flags first, then `GAMOOGA_COMPANY_ID`,
//! `GAMOOGA_CONFIG_URL` and `GAMOOGA_BACKEND`, then the SDK's defaults.

use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use gamooga::client::DEFAULT_CONFIG_URL;
use gamooga::transport::Transport;
use gamooga::{Client, ClientBuilder, EvwidMode};

use crate::error::CliError;

pub const ENV_COMPANY: &str = "GAMOOGA_COMPANY_ID";
pub const ENV_CONFIG_URL: &str = "GAMOOGA_CONFIG_URL";
pub const ENV_BACKEND: &str = "GAMOOGA_BACKEND";

/// The connection options every subcommand that talks to Gamooga takes.
#[derive(Debug, Clone, Args)]
pub struct ConnectionArgs {
    /// The company id, from your Gamooga account section [env: GAMOOGA_COMPANY_ID]
    #[arg(long, global = true, help_heading = "Connection", value_name = "ID")]
    pub company: Option<String>,

    /// Where the company information is fetched (default <https://cdn-jp.gsecondscreen.com>)
    /// [env: GAMOOGA_CONFIG_URL]
    #[arg(long, global = true, help_heading = "Connection", value_name = "URL")]
    pub config_url: Option<String>,

    /// A fixed backend `host[:port]`: calls go there and the company information is never
    /// fetched [env: GAMOOGA_BACKEND]
    #[arg(
        long,
        global = true,
        help_heading = "Connection",
        value_name = "HOST[:PORT]"
    )]
    pub backend: Option<String>,

    /// Allow plain http to hosts other than loopback (event data would cross the network
    /// unencrypted)
    #[arg(long, global = true, help_heading = "Connection")]
    pub allow_insecure_http: bool,

    /// How user-id events are sent: evwid (GET), or evwidj (POST) when the URL would pass
    /// 2,000 bytes (auto)
    #[arg(long, global = true, help_heading = "Connection", value_enum, default_value_t = EvwidArg::Auto, value_name = "MODE")]
    pub evwid: EvwidArg,

    /// Seconds to wait for one answer
    #[arg(
        long,
        global = true,
        help_heading = "Connection",
        value_name = "SECONDS",
        default_value_t = 10.0
    )]
    pub timeout: f64,
}

/// `--evwid`: the SDK's [`EvwidMode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EvwidArg {
    Auto,
    Get,
    Post,
}

/// Where a setting came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Flag,
    Env,
    Default,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Flag => "flag",
            Origin::Env => "env",
            Origin::Default => "default",
        }
    }
}

/// The settings in force, and where each came from (`gamooga resolve` shows them).
#[derive(Debug, Clone)]
pub struct Settings {
    pub company: String,
    pub company_from: Origin,
    pub config_url: String,
    pub config_url_from: Origin,
    /// A fixed backend, and where it was set.
    pub backend: Option<(String, Origin)>,
    pub allow_insecure_http: bool,
    pub evwid: EvwidMode,
    pub timeout: Duration,
}

/// A setting from its flag, else from its environment variable (unset or blank: none).
fn pick(flag: Option<&str>, env: &str) -> Result<Option<(String, Origin)>, CliError> {
    if let Some(v) = flag.map(str::trim).filter(|v| !v.is_empty()) {
        return Ok(Some((v.to_owned(), Origin::Flag)));
    }
    match std::env::var(env) {
        Ok(v) if !v.trim().is_empty() => Ok(Some((v.trim().to_owned(), Origin::Env))),
        Ok(_) | Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(CliError::usage(format!("{env} is not valid Unicode")))
        }
    }
}

impl ConnectionArgs {
    /// The settings, with `company` (a positional argument) taking precedence over
    /// `--company` and the environment.
    pub fn settings(&self, company: Option<&str>) -> Result<Settings, CliError> {
        let company = match company.filter(|c| !c.is_empty()) {
            Some(c) => Some((c.to_owned(), Origin::Flag)),
            None => pick(self.company.as_deref(), ENV_COMPANY)?,
        };
        let Some((company, company_from)) = company else {
            return Err(CliError::usage(format!(
                "no company id: pass --company ID or set {ENV_COMPANY} (the id shown in your \
                 Gamooga account section)"
            )));
        };
        let (config_url, config_url_from) = pick(self.config_url.as_deref(), ENV_CONFIG_URL)?
            .unwrap_or_else(|| (DEFAULT_CONFIG_URL.to_owned(), Origin::Default));
        let backend = pick(self.backend.as_deref(), ENV_BACKEND)?;
        if !(self.timeout.is_finite() && self.timeout > 0.0) {
            return Err(CliError::usage(
                "--timeout must be a number of seconds above 0",
            ));
        }
        Ok(Settings {
            company,
            company_from,
            config_url,
            config_url_from,
            backend,
            allow_insecure_http: self.allow_insecure_http,
            evwid: match self.evwid {
                EvwidArg::Auto => EvwidMode::Auto,
                EvwidArg::Get => EvwidMode::Get,
                EvwidArg::Post => EvwidMode::Post,
            },
            timeout: Duration::from_secs_f64(self.timeout.min(86_400.0)),
        })
    }
}

impl Settings {
    /// A client builder with these settings.
    pub fn builder(&self) -> ClientBuilder {
        let mut builder = Client::builder(self.company.clone())
            .config_url(self.config_url.clone())
            .allow_insecure_http(self.allow_insecure_http)
            .evwid_mode(self.evwid)
            .timeout(self.timeout)
            .user_agent(concat!("gamooga-cli/", env!("CARGO_PKG_VERSION")));
        if let Some((backend, _)) = &self.backend {
            builder = builder.backend(backend.clone());
        }
        builder
    }

    /// A client with these settings.
    pub fn client(&self) -> Result<Client, CliError> {
        Ok(self.builder().build()?)
    }

    /// A client sending through `transport`.
    pub fn client_with(&self, transport: Arc<dyn Transport>) -> Result<Client, CliError> {
        Ok(self.builder().transport(transport).build()?)
    }
}
