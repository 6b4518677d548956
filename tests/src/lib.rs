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

/// Runs the `cunzheng` tool with `args`: whether it succeeded, and its output and errors.
pub fn cunzheng<S: AsRef<std::ffi::OsStr>>(args: impl IntoIterator<Item = S>) -> (bool, String) {
    let out = Command::new(bin("cunzheng")).args(args).output().expect("cunzheng runs");
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

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
        DevNode::start_with(data, &[])
    }

    /// A dev node with extra command-line arguments.
    pub fn start_with(data: &Path, args: &[&str]) -> anyhow::Result<DevNode> {
        let creds_path = data.join("dev-credentials.json");
        let _ = std::fs::remove_file(&creds_path);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data.with_extension("log"))?;
        let child = Command::new(bin("cunzheng-node"))
            .args(["--dev", "--http", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(args)
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

    /// The node's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
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

/// A free loopback TCP port (bound and released; the node binds it again at once).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Writes a key or token file that only its owner can read, as the node expects.
fn secret(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(contents.as_bytes())
}

/// One member's addresses and identity in a [`Consortium`].
#[derive(Clone, Debug)]
pub struct MemberSpec {
    pub name: String,
    pub key: ed25519_dalek::SigningKey,
    /// The address it listens on and is reached at: loopback unless the test gave another.
    pub ip: String,
    pub http: u16,
    pub consensus: u16,
    pub gossip: u16,
}

impl MemberSpec {
    fn new(name: &str, key: ed25519_dalek::SigningKey, ip: &str) -> Self {
        MemberSpec {
            name: name.into(),
            key,
            ip: ip.into(),
            http: free_port(),
            consensus: free_port(),
            gossip: free_port(),
        }
    }

    pub fn peer_id(&self) -> String {
        peer_id(&self.key)
    }

    pub fn api(&self) -> String {
        format!("http://{}:{}", self.ip, self.http)
    }
}

/// The libp2p peer id of an ed25519 key, as `cunzheng keygen` prints it.
pub fn peer_id(key: &ed25519_dalek::SigningKey) -> String {
    cunzheng_p2p::peer_id(key.verifying_key().as_bytes()).expect("an ed25519 key").to_string()
}

/// Settings of a [`Consortium`] beyond its members.
#[derive(Clone, Debug)]
pub struct ConsortiumOptions {
    /// How long a gateway waits for a call's block before answering 20002.
    pub commit_timeout_ms: u64,
    /// Full nodes that every member accepts as a peer (started later, by the test).
    pub full_nodes: usize,
    /// The IPv4 address of each node, members first; loopback for those not given.
    pub ips: Vec<String>,
}

impl Default for ConsortiumOptions {
    fn default() -> Self {
        ConsortiumOptions { commit_timeout_ms: 10_000, full_nodes: 0, ips: Vec::new() }
    }
}

/// How a node process is started beyond its configuration.
#[derive(Clone, Debug, Default)]
pub struct Launch<'a> {
    /// Extra command-line arguments of `cunzheng-node`.
    pub args: &'a [&'a str],
    /// Extra environment variables.
    pub env: &'a [(&'a str, &'a str)],
    /// A command that runs the node, such as `ip netns exec <name>`; it must exec the node so
    /// that the process started is the node itself.
    pub wrapper: &'a [&'a str],
}

/// A consortium of `cunzheng-node` processes on loopback: members 1 and 2 are the operator's
/// (they take enterprise calls and register the demo client), the rest vote and store.
pub struct Consortium {
    pub dir: PathBuf,
    pub members: Vec<MemberSpec>,
    pub full_nodes: Vec<MemberSpec>,
    pub genesis: Genesis,
    pub demo: Credentials,
    /// The Bearer token of `auditor`, a reader every node accepts.
    pub reader_token: String,
    nodes: Vec<Option<Child>>,
}

impl Consortium {
    /// Writes keys, genesis and one configuration per node into `dir`; starts nothing.
    pub fn new(dir: &Path, members: usize, options: ConsortiumOptions) -> anyhow::Result<Self> {
        use ed25519_dalek::SigningKey;
        use rand::rngs::OsRng;

        let names = ["operator-1", "operator-2", "carrier", "regulator", "notary", "m6", "m7"];
        let ip = |i: usize| options.ips.get(i).map_or("127.0.0.1", String::as_str);
        let members: Vec<MemberSpec> = (0..members)
            .map(|i| MemberSpec::new(names[i], SigningKey::generate(&mut OsRng), ip(i)))
            .collect();
        let full_nodes: Vec<MemberSpec> = (0..options.full_nodes)
            .map(|i| {
                let key = SigningKey::generate(&mut OsRng);
                MemberSpec::new(&format!("full{i}"), key, ip(members.len() + i))
            })
            .collect();
        let operator = SigningKey::generate(&mut OsRng);
        let genesis = Genesis {
            chain_id: "cunzheng-e2e".into(),
            genesis_time: cunzheng_types::unix_now_ms(),
            validators: members
                .iter()
                .map(|m| cunzheng_types::Validator {
                    name: m.name.clone(),
                    public_key: m.key.verifying_key().into(),
                    power: 1,
                })
                .collect(),
            operator_key: operator.verifying_key().into(),
        };
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("genesis.json"), serde_json::to_vec_pretty(&genesis)?)?;
        secret(&dir.join("operator.key"), &hex::encode(operator.to_bytes()))?;
        secret(&dir.join("operator.secret"), &hex::encode(rand::random::<[u8; 32]>()))?;
        secret(&dir.join("admin.token"), &hex::encode(rand::random::<[u8; 16]>()))?;
        let demo = Credentials {
            client_id: "demo".into(),
            client_key: hex::encode(rand::random::<[u8; 16]>()),
            api: members[0].api(),
        };
        std::fs::write(dir.join("demo.json"), serde_json::to_vec_pretty(&demo)?)?;
        let reader_token = hex::encode(rand::random::<[u8; 16]>());
        secret(&dir.join("readers.tokens"), &format!("auditor {reader_token}\n"))?;

        let all: Vec<&MemberSpec> = members.iter().chain(&full_nodes).collect();
        for (i, m) in all.iter().enumerate() {
            let member = i < members.len();
            let others = |port: fn(&MemberSpec) -> u16, with_full: bool| {
                all.iter()
                    .enumerate()
                    .filter(|(j, o)| {
                        *j != i && (with_full || *j < members.len()) && o.name != m.name
                    })
                    .map(|(_, o)| format!("\"/ip4/{}/tcp/{}/p2p/{}\"", o.ip, port(o), o.peer_id()))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            secret(&dir.join(format!("{}.key", m.name)), &hex::encode(m.key.to_bytes()))?;
            let mut toml = format!(
                "data_dir = \"{name}\"\n\n[http]\naddr = \"{ip}:{http}\"\ncommit_timeout_ms = {timeout}\n\n\
                 [consensus]\nmoniker = \"{name}\"\nlisten = \"/ip4/{ip}/tcp/{cons}\"\npeers = [{peers}]\n\
                 propose_timeout_ms = 1500\nidle_block_ms = 500\n",
                name = m.name,
                ip = m.ip,
                http = m.http,
                timeout = options.commit_timeout_ms,
                cons = m.consensus,
                peers = others(|o| o.consensus, true),
            );
            if member {
                toml += &format!(
                    "gossip_listen = \"/ip4/{}/tcp/{}\"\ngossip_peers = [{}]\n",
                    m.ip,
                    m.gossip,
                    others(|o| o.gossip, false)
                );
            }
            toml += "\n[keys]\ngenesis = \"genesis.json\"\nreader_tokens = \"readers.tokens\"\n";
            if member {
                toml += &format!("validator_key = \"{}.key\"\n", m.name);
            } else {
                toml += &format!("node_key = \"{}.key\"\n", m.name);
            }
            if i < 2 {
                toml += "operator_key = \"operator.key\"\noperator_secret = \"operator.secret\"\n\
                         admin_token = \"admin.token\"\ndemo_credentials = \"demo.json\"\n";
            }
            std::fs::write(dir.join(format!("{}.toml", m.name)), toml)?;
        }
        let nodes = all.iter().map(|_| None).collect();
        Ok(Consortium {
            dir: dir.to_owned(),
            members,
            full_nodes,
            genesis,
            demo,
            reader_token,
            nodes,
        })
    }

    /// A configuration for a node with a fresh key that no member knows, pointed at every
    /// member; as a validator when `votes`. Returns its path and its HTTP address.
    pub fn stranger(&self, name: &str, votes: bool) -> anyhow::Result<(PathBuf, String)> {
        let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        let spec = MemberSpec::new(name, key, "127.0.0.1");
        secret(&self.dir.join(format!("{name}.key")), &hex::encode(spec.key.to_bytes()))?;
        let peers: Vec<String> = self
            .members
            .iter()
            .map(|m| format!("\"/ip4/{}/tcp/{}/p2p/{}\"", m.ip, m.consensus, m.peer_id()))
            .collect();
        let key = if votes { "validator_key" } else { "node_key" };
        let toml = format!(
            "data_dir = \"{name}\"\n[http]\naddr = \"127.0.0.1:{}\"\n[consensus]\nmoniker = \"{name}\"\n\
             listen = \"/ip4/127.0.0.1/tcp/{}\"\npeers = [{}]\n[keys]\ngenesis = \"genesis.json\"\n{key} = \"{name}.key\"\n",
            spec.http,
            spec.consensus,
            peers.join(", ")
        );
        let path = self.dir.join(format!("{name}.toml"));
        std::fs::write(&path, toml)?;
        Ok((path, spec.api()))
    }

    fn spec(&self, i: usize) -> &MemberSpec {
        self.members.iter().chain(&self.full_nodes).nth(i).expect("a node of this consortium")
    }

    /// Node `i` (members first, then full nodes), as a process.
    pub fn start(&mut self, i: usize) -> anyhow::Result<()> {
        self.start_with(i, &[])
    }

    /// Node `i` with extra command-line arguments.
    pub fn start_with(&mut self, i: usize, args: &[&str]) -> anyhow::Result<()> {
        self.launch(i, Launch { args, ..Launch::default() })
    }

    /// Node `i`, started as `how` says.
    pub fn launch(&mut self, i: usize, how: Launch) -> anyhow::Result<()> {
        let name = self.spec(i).name.clone();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("{name}.log")))?;
        let mut command = match how.wrapper {
            [program, rest @ ..] => {
                let mut c = Command::new(program);
                c.args(rest).arg(bin("cunzheng-node"));
                c
            }
            [] => Command::new(bin("cunzheng-node")),
        };
        let child = command
            .arg("--config")
            .arg(self.dir.join(format!("{name}.toml")))
            .args(how.args)
            .env(
                "RUST_LOG",
                "info,arc_malachitebft_core_consensus=warn,arc_malachitebft_engine=warn,arc_malachitebft_network=warn,arc_malachitebft_discovery=warn,arc_malachitebft_sync=warn",
            )
            .envs(how.env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting cunzheng-node")?;
        self.nodes[i] = Some(child);
        Ok(())
    }

    pub fn start_members(&mut self) -> anyhow::Result<()> {
        (0..self.members.len()).try_for_each(|i| self.start(i))
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGSTOP: the node stays connected but answers nothing until [`Self::resume`].
    pub fn pause(&self, i: usize) {
        self.signal(i, "-STOP");
    }

    /// SIGCONT after [`Self::pause`].
    pub fn resume(&self, i: usize) {
        self.signal(i, "-CONT");
    }

    fn signal(&self, i: usize, signal: &str) {
        let pid = self.nodes[i].as_ref().expect("a running node").id();
        let ok = Command::new("kill").arg(signal).arg(pid.to_string()).status();
        assert!(ok.is_ok_and(|s| s.success()), "kill {signal} {pid} failed");
    }

    /// Turns full node `full` into a second process holding member `member`'s validator key:
    /// the members accept it as the full node it was, and it signs as that member. Beside the
    /// honest member, it proposes and votes for blocks of its own: two different signed
    /// messages of one member at one height and round.
    pub fn double_signer(&self, full: usize, member: usize) -> anyhow::Result<()> {
        let spec = &self.full_nodes[full];
        let path = self.dir.join(format!("{}.toml", spec.name));
        let mut toml = std::fs::read_to_string(&path)?;
        toml += &format!("validator_key = \"{}.key\"\n", self.members[member].name);
        std::fs::write(path, toml)?;
        Ok(())
    }

    /// The node's exit status, if it has exited.
    pub fn exited(&mut self, i: usize) -> Option<std::process::ExitStatus> {
        self.nodes[i].as_mut().and_then(|c| c.try_wait().ok().flatten())
    }

    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.dir.join(format!("{}.log", self.spec(i).name)))
            .unwrap_or_default()
    }

    /// The demo enterprise's client against node `i`'s gateway.
    pub fn client(&self, i: usize) -> Client {
        Client::new(&self.spec(i).api(), &self.demo.client_id, &self.demo.client_key)
    }

    /// Node `i`'s head height and block hash, or none while it does not answer.
    pub async fn head(&self, i: usize) -> Option<(u64, String)> {
        let s = self.client(i).status().await.ok()?;
        Some((s.data["height"].as_u64()?, s.data["block_hash"].as_str()?.to_owned()))
    }

    /// Waits until node `i` has decided height `height`.
    pub async fn wait_height(&self, i: usize, height: u64, within: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        loop {
            if self.head(i).await.is_some_and(|(h, _)| h >= height) {
                return Ok(());
            }
            if Instant::now() > deadline {
                let log = self.log(i);
                let tail: Vec<&str> = log.lines().rev().take(40).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                bail!(
                    "node {} did not reach height {height} within {within:?}; its log ends:\n{}",
                    self.spec(i).name,
                    tail.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the demo client is registered and answers through node `i`.
    pub async fn wait_ready(&self, i: usize, within: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        let probe = Hash([0; 32]);
        loop {
            // An unknown id answers 404 once the client exists, 10002 before.
            if matches!(self.client(i).tx(&probe).await, Ok(None)) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the demo client was not registered within {within:?}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The block hash each of `nodes` holds at `height`.
    pub async fn block_hashes(&self, nodes: &[usize], height: u64) -> anyhow::Result<Vec<String>> {
        let mut out = Vec::new();
        for &i in nodes {
            let b = self.client(i).block(height).await?.context("block not found")?;
            out.push(b.data["hash"].as_str().context("block hash")?.to_owned());
        }
        Ok(out)
    }
}

impl Drop for Consortium {
    fn drop(&mut self) {
        (0..self.nodes.len()).for_each(|i| self.kill(i));
    }
}

/// Writers that deposit consents through some nodes until stopped, keeping the ids of every
/// record a gateway acknowledged.
pub struct Load {
    stop: Arc<std::sync::atomic::AtomicBool>,
    acknowledged: Arc<std::sync::Mutex<Vec<Hash>>>,
    writers: tokio::task::JoinSet<()>,
}

impl Load {
    /// `per_node` writers on each of `nodes`, each depositing `batch` consents a call.
    pub fn start(c: &Consortium, nodes: &[usize], per_node: usize, batch: usize) -> Load {
        use cunzheng_types::{record::Endpoint, unix_now};
        use std::sync::atomic::Ordering;

        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let acknowledged: Arc<std::sync::Mutex<Vec<Hash>>> = Arc::default();
        let mut writers = tokio::task::JoinSet::new();
        let tag: u32 = rand::random();
        for (w, &node) in nodes.iter().cycle().take(nodes.len() * per_node).enumerate() {
            let client = c.client(node);
            let (acknowledged, stop) = (acknowledged.clone(), stop.clone());
            writers.spawn(async move {
                let voice = Endpoint::from_kind("voice.consent").expect("a record kind");
                let mut call = 0;
                while !stop.load(Ordering::Relaxed) {
                    let list: Vec<serde_json::Value> = (0..batch)
                        .map(|i| {
                            serde_json::json!({
                                "phone": format!("{:032X}", i),
                                "deposit_hash": format!("load{tag}w{w}c{call}r{i}"),
                                "sign_time": unix_now() - 5,
                            })
                        })
                        .collect();
                    let ts = unix_now();
                    let ids = client.tx_ids(voice, &list, ts).expect("valid records");
                    match client.deposit_at(voice, &list, ts).await {
                        Ok(a) if a.code == 0 => acknowledged.lock().unwrap().extend(ids),
                        // The node is down or the call timed out: nothing was acknowledged.
                        _ => tokio::time::sleep(Duration::from_millis(200)).await,
                    }
                    call += 1;
                }
            });
        }
        Load { stop, acknowledged, writers }
    }

    /// How many records were acknowledged so far.
    pub fn acknowledged(&self) -> usize {
        self.acknowledged.lock().unwrap().len()
    }

    /// Stops the writers; the ids of every acknowledged record.
    pub async fn stop(mut self) -> Vec<Hash> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        while self.writers.join_next().await.is_some() {}
        std::mem::take(&mut *self.acknowledged.lock().unwrap())
    }
}

/// Checks that `nodes` agree: each reaches the highest head among them, all hold the same block
/// there (so no fork: each header names its parent), every chain verifies from genesis, and
/// every record in `acknowledged` is in every chain. Returns the common height.
pub async fn agree(
    c: &Consortium,
    nodes: &[usize],
    acknowledged: &[Hash],
    within: Duration,
) -> anyhow::Result<u64> {
    let mut top = 0;
    for &i in nodes {
        top = top.max(c.head(i).await.context("a node does not answer")?.0);
    }
    for &i in nodes {
        c.wait_height(i, top, within).await?;
    }
    let hashes = c.block_hashes(nodes, top).await?;
    if hashes.iter().any(|h| *h != hashes[0]) {
        bail!("blocks at height {top} differ: {hashes:?}");
    }
    for &i in nodes {
        let (_, ids) = verify_chain(&c.client(i), &c.genesis).await?;
        let chain: std::collections::HashSet<Hash> = ids.into_iter().collect();
        let lost = acknowledged.iter().filter(|id| !chain.contains(id)).count();
        if lost > 0 {
            bail!("node {i}'s chain lacks {lost} of {} acknowledged records", acknowledged.len());
        }
    }
    Ok(top)
}
