//! `cunzheng keygen` and `cunzheng genesis`: a member's key and the document that starts a
//! chain from the members' public keys and the operator's.

use std::{fs, io::Write, os::unix::fs::OpenOptionsExt, path::PathBuf};

use anyhow::{bail, Context};
use cunzheng_types::{unix_now_ms, Genesis, Hash, PublicKey};
use ed25519_dalek::SigningKey;
use rand::rngs::OsRng;

#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// Where to write the secret key (64 hex digits, readable by its owner only).
    #[arg(long)]
    out: PathBuf,
}

/// Writes a new ed25519 key and prints its public key, which goes into genesis, and the
/// libp2p peer id it gives a member, which goes into the other members' peer lists.
pub fn keygen(args: &KeygenArgs) -> anyhow::Result<()> {
    let key = SigningKey::generate(&mut OsRng);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&args.out)
        .with_context(|| {
            format!("creating {} (an existing key is never overwritten)", args.out.display())
        })?;
    writeln!(f, "{}", hex::encode(key.to_bytes()))?;
    f.sync_all()?;
    let public = key.verifying_key().to_bytes();
    println!("public key {}", hex::encode(public));
    if let Some(peer) = cunzheng_p2p::peer_id(&public) {
        println!("peer id    {peer}");
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct GenesisArgs {
    /// The chain's id, written into every signed statement.
    #[arg(long)]
    chain_id: String,
    /// A voting member as NAME=PUBLIC_KEY (hex), in proposer order; repeat for each.
    #[arg(long = "member", required = true)]
    members: Vec<String>,
    /// The operator's public key (hex), which signs client registrations.
    #[arg(long)]
    operator: String,
    /// Genesis time in Unix milliseconds (now when absent).
    #[arg(long)]
    time: Option<u64>,
    /// Where to write genesis.json.
    #[arg(long)]
    out: PathBuf,
}

fn public_key(hex_key: &str, what: &str) -> anyhow::Result<PublicKey> {
    let h = Hash::from_hex(hex_key.trim())
        .with_context(|| format!("{what}: expected 64 hex digits"))?;
    let key = PublicKey(h.0);
    key.verifying_key().with_context(|| format!("{what}: not an ed25519 public key"))?;
    Ok(key)
}

/// Builds genesis from the members and the operator key, each member with one vote.
pub fn genesis(args: &GenesisArgs) -> anyhow::Result<()> {
    let mut members: Vec<(String, PublicKey)> = Vec::new();
    for m in &args.members {
        let Some((name, key)) = m.split_once('=') else {
            bail!("--member {m:?}: expected NAME=PUBLIC_KEY");
        };
        let public_key = public_key(key, &format!("member {name}"))?;
        if members.iter().any(|(n, k)| *k == public_key || n == name) {
            bail!("member {name} is listed twice");
        }
        members.push((name.to_owned(), public_key));
    }
    let genesis = Genesis::of_members(
        &args.chain_id,
        args.time.unwrap_or_else(unix_now_ms),
        members,
        public_key(&args.operator, "operator")?,
    );
    let mut bytes = serde_json::to_vec_pretty(&genesis)?;
    bytes.push(b'\n');
    fs::write(&args.out, bytes).with_context(|| format!("writing {}", args.out.display()))?;
    let n = genesis.validators.len();
    println!(
        "{} ({} members, tolerates {} faulty), hash {}",
        args.out.display(),
        n,
        (n - 1) / 3,
        genesis.hash()
    );
    Ok(())
}
