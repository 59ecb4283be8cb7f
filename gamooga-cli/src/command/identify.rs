//! `gamooga identify`: the visitor id of a user (`id` with `u`), or a link (`id` with `u`, `v`).

use clap::Args;
use serde_json::json;

use crate::config::ConnectionArgs;
use crate::error::{CliError, Exit};
use crate::output::Output;

/// Print the visitor id Gamooga maps USER to (created if there is none); with --visitor,
/// map USER to that visitor id instead.
#[derive(Debug, Args)]
pub struct IdentifyArgs {
    /// The user id (u)
    pub user: String,

    /// Link the user to this visitor id (v) instead of looking it up
    #[arg(long, value_name = "VISITOR")]
    pub visitor: Option<String>,
}

pub async fn run(args: IdentifyArgs, conn: &ConnectionArgs, out: Output) -> Result<Exit, CliError> {
    let client = conn.settings(None)?.client()?;
    match &args.visitor {
        None => {
            let visitor = client.identify(&args.user).await?;
            out.result(
                json!({ "user_id": args.user, "visitor_id": visitor, "linked": false }),
                || visitor.clone(),
            );
        }
        Some(visitor) => {
            client.link(&args.user, visitor).await?;
            out.result(
                json!({ "user_id": args.user, "visitor_id": visitor, "linked": true }),
                || format!("linked user {} to visitor {visitor}", args.user),
            );
        }
    }
    Ok(Exit::Success)
}
