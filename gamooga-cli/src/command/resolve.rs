//! `gamooga resolve`: which backend a company's calls go to, where that came from, how long
//! finding it took.

use std::time::Instant;

use clap::Args;
use serde_json::json;

use crate::config::{ConnectionArgs, ENV_BACKEND, ENV_CONFIG_URL};
use crate::error::{CliError, Exit};
use crate::output::Output;
use crate::record::Recorder;

/// Resolve the company's backend as the SDK does: the fixed backend when one is set
/// (--backend, GAMOOGA_BACKEND), else the `evbk` of the company information fetched from
/// the config URL.
#[derive(Debug, Args)]
pub struct ResolveArgs {
    /// The company id (default: --company, GAMOOGA_COMPANY_ID)
    pub company: Option<String>,
}

pub async fn run(args: ResolveArgs, conn: &ConnectionArgs, out: Output) -> Result<Exit, CliError> {
    let settings = conn.settings(args.company.as_deref())?;
    let recorder = Recorder::new(&settings, false)?;
    let client = settings.client_with(recorder.clone())?;
    let start = Instant::now();
    let resolved = client.backend().await;
    let elapsed = start.elapsed();
    let fetch = recorder
        .exchanges()
        .into_iter()
        .find(|e| e.is_company_info());
    let backend = resolved?;
    let ms = elapsed.as_secs_f64() * 1e3;
    let (source, origin, detail) = match (&settings.backend, &fetch) {
        (Some((_, origin)), _) => (
            "fixed",
            origin.as_str(),
            match origin {
                crate::config::Origin::Env => format!("fixed by {ENV_BACKEND}; nothing fetched"),
                _ => "fixed by --backend; nothing fetched".to_owned(),
            },
        ),
        (None, Some(fetch)) => (
            "company_info",
            settings.config_url_from.as_str(),
            format!(
                "company information fetched from {} in {:.1} ms (config URL from {})",
                fetch.url,
                fetch.elapsed.as_secs_f64() * 1e3,
                match settings.config_url_from {
                    crate::config::Origin::Flag => "--config-url".to_owned(),
                    crate::config::Origin::Env => ENV_CONFIG_URL.to_owned(),
                    crate::config::Origin::Default => "the SDK's default".to_owned(),
                }
            ),
        ),
        (None, None) => (
            "company_info",
            settings.config_url_from.as_str(),
            String::new(),
        ),
    };
    out.result(
        json!({
            "company": settings.company,
            "backend": backend,
            "source": source,
            "origin": origin,
            "company_origin": settings.company_from.as_str(),
            "company_info_url": fetch.as_ref().map(|f| f.url.clone()),
            "company_info_status": fetch.as_ref().and_then(|f| f.outcome.clone()?.ok()),
            "company_info_ms": fetch.as_ref().map(|f| f.elapsed.as_secs_f64() * 1e3),
            "elapsed_ms": ms,
        }),
        || {
            format!(
                "company  {}\nbackend  {backend}\nsource   {detail}\ntook     {ms:.1} ms",
                settings.company
            )
        },
    );
    Ok(Exit::Success)
}
