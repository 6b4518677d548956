//! Harness for end-to-end tests: the real `cunzheng-node` and `cunzheng` binaries, started as
//! processes on loopback ports with temporary data directories, and an independent check of
//! the chain they build.
//!
//! The binaries are taken from the target folder the tests were built in; build them first
//! with `cargo build --bins` (the project's test command does).

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use cunzheng_client::{Client, Credentials};
use cunzheng_types::{merkle, BlockHeader, Certificate, Genesis, Hash};

/// Path of a binary of this workspace, beside the test executable's folder.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(Path::parent).expect("target profile folder");
    let path = dir.join(name);
    assert!(path.exists(), "{} is missing: run `cargo build --bins` first", path.display());
    path
}

/// A running `cunzheng-node --dev`.
pub struct DevNode {
    child: Child,
    pub data: PathBuf,
    pub credentials: Credentials,
}

impl DevNode {
    /// Starts a dev node on `data` and waits until it has written its credentials.
    pub fn start(data: &Path) -> anyhow::Result<DevNode> {
        let creds_path = data.join("dev-credentials.json");
        let _ = std::fs::remove_file(&creds_path);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data.with_extension("log"))?;
        let child = Command::new(bin("cunzheng-node"))
            .args(["--dev", "--http", "127.0.0.1:0", "--data"])
            .arg(data)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting cunzheng-node")?;
        let mut node = DevNode {
            child,
            data: data.to_owned(),
            credentials: Credentials {
                client_id: String::new(),
                client_key: String::new(),
                api: String::new(),
            },
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(bytes) = std::fs::read(&creds_path) {
                if let Ok(c) = serde_json::from_slice::<Credentials>(&bytes) {
                    node.credentials = c;
                    return Ok(node);
                }
            }
            if let Some(status) = node.child.try_wait()? {
                bail!(
                    "cunzheng-node exited with {status} before it was ready; see {}",
                    data.with_extension("log").display()
                );
            }
            if Instant::now() > deadline {
                bail!("cunzheng-node was not ready within 60 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn client(&self) -> Client {
        Client::new(
            &self.credentials.api,
            &self.credentials.client_id,
            &self.credentials.client_key,
        )
    }

    pub fn genesis(&self) -> anyhow::Result<Genesis> {
        Ok(serde_json::from_slice(&std::fs::read(self.data.join("genesis.json"))?)?)
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the exit; returns whether the node exited cleanly.
    pub fn terminate(&mut self) -> anyhow::Result<bool> {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status.success());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill();
        Ok(false)
    }
}

impl Drop for DevNode {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.kill();
        }
    }
}

/// Walks the chain from genesis through the public block API and checks every link: each
/// header's `prev_hash`, its hash, its certificate against the genesis validators, `tx_root`
/// over its transaction ids, and `log_root`/`log_size` as the running log. Returns the head
/// height and the ids of every transaction in order.
pub async fn verify_chain(client: &Client, genesis: &Genesis) -> anyhow::Result<(u64, Vec<Hash>)> {
    let mut prev = genesis.hash();
    let mut log = merkle::Frontier::default();
    let mut all = Vec::new();
    let mut height = 0;
    while let Some(answer) = client.block(height + 1).await? {
        height += 1;
        let data = &answer.data;
        let header: BlockHeader = serde_json::from_value(data["header"].clone())?;
        let cert: Certificate = serde_json::from_value(data["certificate"].clone())?;
        let ids: Vec<Hash> = serde_json::from_value(data["tx_ids"].clone())?;
        if header.height != height || header.prev_hash != prev {
            bail!("block {height} does not link to its parent");
        }
        if data["hash"] != serde_json::json!(header.hash()) {
            bail!("block {height}: served hash is not the header's hash");
        }
        cert.verify(&header, genesis).with_context(|| format!("block {height} certificate"))?;
        if merkle::root(&ids) != header.tx_root || ids.len() as u64 != header.tx_count {
            bail!("block {height}: tx_root does not match its transaction ids");
        }
        ids.iter().for_each(|id| log.push(*id));
        if log.root() != header.log_root || log.size != header.log_size {
            bail!("block {height}: log_root does not continue the log");
        }
        prev = header.hash();
        all.extend(ids);
    }
    Ok((height, all))
}

/// Looks up every id through `GET /v1/tx/{id}` with `workers` calls in flight; returns the
/// ids the node could not find.
pub async fn missing(client: &Client, ids: Vec<Hash>, workers: usize) -> anyhow::Result<Vec<Hash>> {
    let ids = Arc::new(ids);
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..workers {
        let (client, ids) = (client.clone(), ids.clone());
        tasks.spawn(async move {
            let mut missing = Vec::new();
            for id in ids.iter().skip(w).step_by(workers) {
                match client.tx(id).await? {
                    Some(a) if a.code == 0 && a.data["tx_id"] == serde_json::json!(id) => {}
                    _ => missing.push(*id),
                }
            }
            anyhow::Ok(missing)
        });
    }
    let mut out = Vec::new();
    while let Some(r) = tasks.join_next().await {
        out.extend(r??);
    }
    Ok(out)
}
