//! The development node: keys, a one-validator genesis and a demo client with an approved
//! voice and SMS filing, created on first start in the data directory and reused afterwards.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use cunzheng_builder::Chain;
use cunzheng_gateway::OperatorKeys;
use cunzheng_types::{
    client_key::{generate_client_key, OperatorSecret},
    compliance::{FiledNumber, Filing},
    unix_now_ms, Channel, Genesis, OperatorAction, SealedTx, Transaction, Validator,
};
use ed25519_dalek::SigningKey;
use rand::{rngs::OsRng, RngCore};
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::{keys::write_secret, Config};

/// The demo client's id.
pub const DEMO_CLIENT: &str = "demo";

/// `dev-credentials.json`.
#[derive(Debug, Serialize, Deserialize)]
struct Credentials {
    client_id: String,
    client_key: String,
    api: String,
}

/// Creates whatever of the dev keys and genesis is missing.
pub fn prepare(config: &Config) -> anyhow::Result<()> {
    let genesis_path = config.path(&config.keys.genesis);
    if genesis_path.exists() {
        return Ok(());
    }
    let validator = SigningKey::generate(&mut OsRng);
    let operator = SigningKey::generate(&mut OsRng);
    let mut admin = [0u8; 24];
    OsRng.fill_bytes(&mut admin);

    let validator_path = config.keys.validator_key.as_ref().context("the dev node votes")?;
    write_secret(&config.path(validator_path), &hex::encode(validator.to_bytes()))?;
    let paths = (&config.keys.operator_key, &config.keys.operator_secret, &config.keys.admin_token);
    let (Some(op_key), Some(op_secret), Some(admin_path)) = paths else {
        anyhow::bail!("the dev node needs operator_key, operator_secret and admin_token paths");
    };
    write_secret(&config.path(op_key), &hex::encode(operator.to_bytes()))?;
    write_secret(&config.path(op_secret), &hex::encode(OperatorSecret::generate().0))?;
    write_secret(&config.path(admin_path), &hex::encode(admin))?;
    if let Some(readers) = &config.keys.reader_tokens {
        OsRng.fill_bytes(&mut admin);
        let line = format!(
            "# <name> <token>: members' staff who read any client's records\nregulator {}\n",
            hex::encode(admin)
        );
        write_secret(&config.path(readers), &line)?;
    }

    let genesis = Genesis {
        chain_id: "cunzheng-dev".into(),
        genesis_time: unix_now_ms(),
        validators: vec![Validator {
            name: "dev".into(),
            public_key: validator.verifying_key().into(),
            power: 1,
        }],
        operator_key: operator.verifying_key().into(),
    };
    std::fs::write(&genesis_path, serde_json::to_vec_pretty(&genesis)?)
        .with_context(|| format!("writing {}", genesis_path.display()))?;
    info!(target: "node", dir = %config.data_dir.display(), "dev chain created");
    Ok(())
}

/// The demo client's filing: voice from one fixed number and SMS from one 106 number, 09:00 to
/// 20:00 Beijing time, three calls or messages per phone per day.
pub fn demo_filing() -> Filing {
    let number = |comm_type, number_type: &str, number: &str, carrier: &str| FiledNumber {
        comm_type,
        number_type: number_type.into(),
        number: number.into(),
        carrier: carrier.into(),
    };
    let mut filing = Filing {
        filing_id: "DEMO-1".into(),
        channels: vec![Channel::Voice, Channel::Sms],
        business_type: "营销".into(),
        hours: "09:00-20:00".parse().expect("a valid window"),
        daily_limit: 3,
        numbers: vec![
            number(Channel::Voice, "fixed", "075538833883", "中国电信"),
            number(Channel::Sms, "106", "106909570626", "中国移动"),
        ],
    };
    filing.normalize();
    filing
}

/// Registers `client_id` with `client_key` and the demo filing unless the chain has it.
/// Another operator node registering it first is as good.
pub async fn ensure_client(
    chain: &Arc<Chain>,
    operator: &OperatorKeys,
    client_id: &str,
    client_key: &str,
    wait: Duration,
) -> anyhow::Result<()> {
    if chain.client(client_id).is_some() {
        return Ok(());
    }
    let (key_nonce, key_ciphertext) = operator.secret.seal(client_id, client_key);
    let register =
        OperatorAction::RegisterClient { client_id: client_id.into(), key_nonce, key_ciphertext };
    let file = OperatorAction::ApproveFiling { client_id: client_id.into(), filing: demo_filing() };
    let issued_at = unix_now_ms();
    let txs = [register, file]
        .into_iter()
        .map(|a| {
            Arc::new(SealedTx::new(Transaction::Operator(a.sign(&operator.signing, issued_at))))
        })
        .collect();
    let receipt = chain.submit(txs)?;
    let committed = tokio::time::timeout(wait, receipt)
        .await
        .with_context(|| format!("the registration of {client_id} was not committed"))??;
    if let Err(rejected) = committed {
        anyhow::ensure!(chain.client(client_id).is_some(), "registering {client_id}: {rejected}");
    }
    info!(target: "node", client_id, "demo client registered");
    Ok(())
}

/// Registers the demo client on voice and SMS if the chain lacks it, and writes its
/// credentials with this run's API address, such as `http://127.0.0.1:8080`.
pub async fn ensure_demo_client(
    config: &Config,
    chain: &Arc<Chain>,
    operator: &OperatorKeys,
    api: String,
) -> anyhow::Result<()> {
    let client_key = match chain.client(DEMO_CLIENT) {
        Some(entry) => operator
            .secret
            .open(DEMO_CLIENT, &entry.key_nonce, &entry.key_ciphertext)
            .context("the demo client's key does not open with this operator secret")?,
        None => {
            let key = generate_client_key();
            ensure_client(chain, operator, DEMO_CLIENT, &key, Duration::from_secs(30)).await?;
            key
        }
    };

    let creds = Credentials { client_id: DEMO_CLIENT.into(), client_key, api };
    let path = config.data_dir.join("dev-credentials.json");
    let tmp = path.with_extension("json.tmp");
    let _ = std::fs::remove_file(&tmp);
    write_secret(&tmp, &serde_json::to_string_pretty(&creds)?)?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    info!(target: "node", path = %path.display(), api = %creds.api, "dev credentials written");
    Ok(())
}

/// Reads a credentials file (`client_id`, `client_key`, `api`).
pub fn read_credentials(path: &std::path::Path) -> anyhow::Result<(String, String)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let c: Credentials =
        serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", path.display()))?;
    Ok((c.client_id, c.client_key))
}
