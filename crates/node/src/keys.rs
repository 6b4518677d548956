//! Key files: 32 bytes as 64 hex digits on one line, readable by the owner only. A secret file
//! that others may write is refused, one they may read is taken with a warning.

use std::{fs, io::Write, os::unix::fs::OpenOptionsExt, path::Path};

use anyhow::Context;
use cunzheng_gateway::OperatorKeys;
use cunzheng_types::client_key::OperatorSecret;
use ed25519_dalek::SigningKey;

use crate::Config;

/// Writes `contents` to a new file that only its owner can read.
pub fn write_secret(path: &Path, contents: &str) -> anyhow::Result<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(contents.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    Ok(())
}

/// Reads a secret file, refusing one that others may change and warning of one they may read.
fn read_secret(path: &Path) -> anyhow::Result<String> {
    use std::os::unix::fs::PermissionsExt;

    let mode = fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .permissions()
        .mode();
    if mode & 0o022 != 0 {
        anyhow::bail!(
            "{} may be written by other users (mode {:o}): make it the owner's only (chmod 600)",
            path.display(),
            mode & 0o777
        );
    }
    if mode & 0o044 != 0 {
        tracing::warn!(target: "node", path = %path.display(), mode = format!("{:o}", mode & 0o777), "a secret file is readable by other users; chmod 600 it");
    }
    fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn read_32(path: &Path) -> anyhow::Result<[u8; 32]> {
    let text = read_secret(path)?;
    let mut out = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut out)
        .with_context(|| format!("{} must hold 64 hex digits", path.display()))?;
    Ok(out)
}

pub fn read_signing_key(path: &Path) -> anyhow::Result<SigningKey> {
    Ok(SigningKey::from_bytes(&read_32(path)?))
}

/// A full node's libp2p identity: the configured key file, made on first start.
pub fn node_key(config: &Config) -> anyhow::Result<SigningKey> {
    let path = match &config.keys.node_key {
        Some(p) => config.path(p),
        None => config.data_dir.join("node.key"),
    };
    if !path.exists() {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        write_secret(&path, &hex::encode(key.to_bytes()))?;
    }
    read_signing_key(&path)
}

/// The operator keys, when this node is one of the operator's.
pub fn read_operator(config: &Config) -> anyhow::Result<Option<OperatorKeys>> {
    let (Some(key), Some(secret)) = (&config.keys.operator_key, &config.keys.operator_secret)
    else {
        return Ok(None);
    };
    let (key, secret) = (config.path(key), config.path(secret));
    if !key.exists() && !secret.exists() {
        return Ok(None);
    }
    Ok(Some(OperatorKeys {
        signing: read_signing_key(&key)?,
        secret: OperatorSecret(read_32(&secret)?),
    }))
}

pub fn read_admin_token(config: &Config) -> anyhow::Result<Option<String>> {
    let Some(path) = &config.keys.admin_token else { return Ok(None) };
    let path = config.path(path);
    if !path.exists() {
        return Ok(None);
    }
    let token = read_secret(&path)?;
    Ok(Some(token.trim().to_owned()).filter(|t| !t.is_empty()))
}

/// The reader tokens file: one `<name> <token>` per line; `#` starts a comment. Each name is
/// a member's staff who may read any client's records; their reads are audited by name.
pub fn read_reader_tokens(config: &Config) -> anyhow::Result<Vec<(String, String)>> {
    let Some(path) = &config.keys.reader_tokens else { return Ok(Vec::new()) };
    let path = config.path(path);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text = read_secret(&path)?;
    let mut readers = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let mut parts = line.split_whitespace();
        match (parts.next(), parts.next(), parts.next()) {
            (Some(name), Some(token), None) if token.len() >= 16 => {
                readers.push((name.to_owned(), token.to_owned()));
            }
            _ => anyhow::bail!(
                "{} line {}: expected `<name> <token>`, a token of 16 characters or more",
                path.display(),
                n + 1
            ),
        }
    }
    Ok(readers)
}
