//! `cunzheng client ...`: the operator approves enterprises as clients, approves, changes and
//! revokes their filings, suspends and reinstates them and rotates their keys, through a node
//! that holds the operator keys.

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

/// A filing's terms, as `client add` and `client file` take them.
#[derive(Debug, clap::Args)]
pub struct FilingArgs {
    /// Channels the filing covers.
    #[arg(long, value_delimiter = ',', default_value = "voice,sms")]
    channels: Vec<String>,
    /// The business filed, such as 营销 (marketing) or 通知 (notification).
    #[arg(long)]
    business_type: String,
    /// Allowed hours, Asia/Shanghai time, from inclusive to exclusive.
    #[arg(long, default_value = "09:00-20:00")]
    hours: String,
    /// Calls or messages allowed to one phone per Beijing day.
    #[arg(long)]
    daily_limit: u32,
    /// The number list: a CSV file with the header `comm_type,number_type,number,carrier`.
    #[arg(long)]
    numbers: PathBuf,
}

impl FilingArgs {
    fn to_json(&self, filing_id: Option<&str>) -> anyhow::Result<Value> {
        let mut reader = csv::Reader::from_path(&self.numbers)
            .with_context(|| format!("reading {}", self.numbers.display()))?;
        let numbers = reader
            .deserialize::<std::collections::BTreeMap<String, String>>()
            .enumerate()
            .map(|(i, row)| {
                let row =
                    row.with_context(|| format!("{} row {}", self.numbers.display(), i + 2))?;
                let field = |name: &str| {
                    row.get(name).map(|v| v.trim().to_owned()).with_context(|| {
                        format!("{} row {}: no {name} column", self.numbers.display(), i + 2)
                    })
                };
                Ok(json!({
                    "comm_type": field("comm_type")?,
                    "number_type": field("number_type")?,
                    "number": field("number")?,
                    "carrier": field("carrier")?,
                }))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(json!({
            "filing_id": filing_id,
            "channels": self.channels,
            "business_type": self.business_type,
            "hours": self.hours,
            "daily_limit": self.daily_limit,
            "numbers": numbers,
        }))
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Approve an enterprise as a client; prints its credentials (the key is shown only now).
    /// It deposits once a filing is approved (`client file`).
    Add {
        #[command(flatten)]
        target: OperatorTarget,
        /// The client id (random when absent).
        #[arg(long)]
        id: Option<String>,
    },
    /// Approve a filing for a client.
    File {
        #[command(flatten)]
        target: OperatorTarget,
        id: String,
        /// The filing's id (random when absent).
        #[arg(long)]
        filing_id: Option<String>,
        #[command(flatten)]
        filing: FilingArgs,
    },
    /// Replace an approved filing; records are judged by the new terms from its block on.
    ChangeFiling {
        #[command(flatten)]
        target: OperatorTarget,
        id: String,
        filing_id: String,
        #[command(flatten)]
        filing: FilingArgs,
    },
    /// Revoke an approved filing: its channels take no deposits until another is approved.
    RevokeFiling {
        #[command(flatten)]
        target: OperatorTarget,
        id: String,
        filing_id: String,
        #[arg(long)]
        reason: String,
    },
    /// Give a client a new key; the old one stops working. Prints the new credentials.
    RotateKey {
        #[command(flatten)]
        target: OperatorTarget,
        id: String,
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
    let mut method = reqwest::Method::POST;
    let (target, path, body) = match cmd {
        Command::Add { target, id } => {
            (target, "/v1/operator/clients".to_owned(), json!({ "client_id": id }))
        }
        Command::File { target, id, filing_id, filing } => (
            target,
            format!("/v1/operator/clients/{id}/filings"),
            filing.to_json(filing_id.as_deref())?,
        ),
        Command::ChangeFiling { target, id, filing_id, filing } => {
            method = reqwest::Method::PUT;
            let path = format!("/v1/operator/clients/{id}/filings/{filing_id}");
            (target, path, filing.to_json(None)?)
        }
        Command::RevokeFiling { target, id, filing_id, reason } => (
            target,
            format!("/v1/operator/clients/{id}/filings/{filing_id}/revoke"),
            json!({"reason": reason}),
        ),
        Command::RotateKey { target, id } => {
            (target, format!("/v1/operator/clients/{id}/rotate-key"), json!({}))
        }
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
        .request(method, format!("{}{path}", target.api.trim_end_matches('/')))
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
