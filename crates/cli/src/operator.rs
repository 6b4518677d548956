//! `cunzheng client ...`: the operator registers, suspends and reinstates enterprise clients
//! through a node that holds the operator keys.

use std::path::PathBuf;

use anyhow::{bail, Context};
use serde_json::{json, Value};

#[derive(Debug, clap::Args)]
pub struct OperatorTarget {
    /// API base URL of an operator node.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    api: String,
    /// File holding the node's admin token.
    #[arg(long, default_value = "data/admin.token")]
    admin_token_file: PathBuf,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Register a client; prints its credentials (the key is shown only now).
    Add {
        #[command(flatten)]
        target: OperatorTarget,
        /// Channels the client may deposit on.
        #[arg(long, value_delimiter = ',', default_value = "voice,sms")]
        channels: Vec<String>,
        /// The client id (random when absent).
        #[arg(long)]
        id: Option<String>,
    },
    /// Suspend a client: its calls answer 10006.
    Suspend {
        #[command(flatten)]
        target: OperatorTarget,
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Lift a suspension.
    Reinstate {
        #[command(flatten)]
        target: OperatorTarget,
        id: String,
    },
}

pub async fn run(cmd: Command) -> anyhow::Result<()> {
    let (target, path, body) = match cmd {
        Command::Add { target, channels, id } => (
            target,
            "/v1/operator/clients".to_owned(),
            json!({"client_id": id, "channels": channels}),
        ),
        Command::Suspend { target, id, reason } => {
            (target, format!("/v1/operator/clients/{id}/suspend"), json!({"reason": reason}))
        }
        Command::Reinstate { target, id } => {
            (target, format!("/v1/operator/clients/{id}/reinstate"), json!({}))
        }
    };
    let token = std::fs::read_to_string(&target.admin_token_file)
        .with_context(|| format!("reading {}", target.admin_token_file.display()))?;
    let resp = reqwest::Client::new()
        .post(format!("{}{path}", target.api.trim_end_matches('/')))
        .bearer_auth(token.trim())
        .json(&body)
        .send()
        .await?;
    let answer: Value = resp.json().await.context("the node's answer is not JSON")?;
    if answer["code"] != 0 {
        bail!("code {}: {}", answer["code"], answer["msg"]);
    }
    let mut data = answer["data"].clone();
    if data.get("client_key").is_some() {
        data["api"] = json!(target.api);
    }
    println!("{}", serde_json::to_string_pretty(&data)?);
    Ok(())
}
