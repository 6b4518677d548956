//! Node configuration: one TOML file carries every setting; `--data` and `--http` override.
//!
//! ```toml
//! data_dir = "data"
//!
//! [http]
//! addr = "127.0.0.1:8080"
//! body_limit = 4194304
//! time_window_secs = 300
//! commit_timeout_ms = 10000
//! rate_per_sec = 1000.0
//! rate_burst = 2000.0
//! min_free_bytes = 134217728            # less free in data_dir: deposits answer 20001
//! max_connections = 4096                # more wait in the kernel's backlog
//! tls_cert = "gateway.crt"              # PEM chain, server's first; with tls_key: HTTPS only
//! tls_key = "gateway.key"               # PEM private key (PKCS#8, PKCS#1 or SEC1)
//!
//! [builder]
//! max_block_txs = 10000
//! block_interval_ms = 100
//! pool_capacity = 200000
//!
//! [consensus]
//! moniker = "dev"                       # this member's name in logs
//! listen = "/ip4/127.0.0.1/tcp/0"       # libp2p address for the other members (0: any port)
//! peers = []                            # the other members, e.g. "/ip4/127.0.0.1/tcp/27002"
//! propose_timeout_ms = 3000
//! prevote_timeout_ms = 1000
//! precommit_timeout_ms = 1000
//! idle_block_ms = 2000                  # longest a proposer waits for transactions
//! gossip_listen = "/ip4/127.0.0.1/tcp/27101"   # transaction gossip; absent: none
//! gossip_peers = []                     # the other members', each ending in /p2p/<peer id>
//!
//! [keys]       # relative paths: beside the configuration file (--dev: inside data_dir)
//! genesis = "genesis.json"
//! validator_key = "validator.key"      # absent: a full node, which votes on nothing
//! node_key = "node.key"                # a full node's libp2p identity, made on first start;
//!                                      # on a member, a network identity apart from its
//!                                      # validator key (the others list its peer id by hand)
//! operator_key = "operator.key"        # operator nodes only
//! operator_secret = "operator.secret"  # operator nodes only
//! admin_token = "admin.token"          # opens the operator endpoints
//! reader_tokens = "readers.tokens"     # `<name> <token>` lines: members' staff who read any
//!                                      # client's records, audited by name
//! demo_credentials = "demo.json"       # operator nodes: register this client if missing
//!
//! [portal]     # the web portal, served by operator nodes at /portal/
//! sms = "log"                          # "log": messages kept in the outbox (shown with --dev)
//! # sms = "http"                       # or posted to a provider:
//! # sms_url = "https://sms.example/send"
//! # sms_template = '{"to":"{phone}","text":"{message}"}'
//! # sms_content_type = "application/json"
//! secure_cookies = false               # true behind TLS
//! ```

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use anyhow::Context;
use cunzheng_builder::ChainConfig;
use cunzheng_consensus::{EngineSettings, LinearTimeouts, Multiaddr};
use cunzheng_gateway::{
    portal::{PortalConfig, SmsConfig},
    GatewayConfig,
};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    #[serde(default)]
    pub http: HttpConfig,
    #[serde(default)]
    pub builder: BuilderConfig,
    #[serde(default)]
    pub consensus: ConsensusSettings,
    #[serde(default)]
    pub keys: KeysConfig,
    #[serde(default)]
    pub portal: PortalSettings,
    /// Where relative key paths resolve: the configuration file's folder, or the data
    /// directory for the dev node.
    #[serde(skip)]
    pub key_dir: Option<PathBuf>,
    /// Measuring only (`cunzheng-node --dev --without-verdicts`): execute no compliance rule,
    /// so a benchmark can set deposit throughput with verdicts beside it without them.
    #[serde(skip)]
    pub without_verdicts: bool,
}

/// The web portal's settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PortalSettings {
    /// `log` or `http`.
    pub sms: String,
    pub sms_url: Option<String>,
    /// The provider's request body; `{phone}` and `{message}` are replaced.
    pub sms_template: Option<String>,
    pub sms_content_type: Option<String>,
    /// Mark session cookies `Secure`.
    pub secure_cookies: bool,
}

impl Default for PortalSettings {
    fn default() -> Self {
        PortalSettings {
            sms: "log".into(),
            sms_url: None,
            sms_template: None,
            sms_content_type: None,
            secure_cookies: false,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsensusSettings {
    pub moniker: String,
    pub listen: String,
    pub peers: Vec<String>,
    pub propose_timeout_ms: u64,
    pub prevote_timeout_ms: u64,
    pub precommit_timeout_ms: u64,
    pub idle_block_ms: u64,
    pub gossip_listen: Option<String>,
    pub gossip_peers: Vec<String>,
}

impl Default for ConsensusSettings {
    fn default() -> Self {
        ConsensusSettings {
            moniker: "dev".into(),
            listen: "/ip4/127.0.0.1/tcp/0".into(),
            peers: Vec::new(),
            propose_timeout_ms: 3000,
            prevote_timeout_ms: 1000,
            precommit_timeout_ms: 1000,
            idle_block_ms: 2000,
            gossip_listen: None,
            gossip_peers: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    pub addr: String,
    pub body_limit: usize,
    pub time_window_secs: u64,
    pub commit_timeout_ms: u64,
    pub rate_per_sec: f64,
    pub rate_burst: f64,
    /// Below this many free bytes in the data directory, deposits answer 20001.
    pub min_free_bytes: u64,
    /// Connections open at once; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// With `tls_key`, the gateway speaks HTTPS only. Relative paths as for keys.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BuilderConfig {
    pub max_block_txs: usize,
    pub block_interval_ms: u64,
    pub pool_capacity: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeysConfig {
    pub genesis: PathBuf,
    pub validator_key: Option<PathBuf>,
    pub node_key: Option<PathBuf>,
    pub operator_key: Option<PathBuf>,
    pub operator_secret: Option<PathBuf>,
    pub admin_token: Option<PathBuf>,
    pub reader_tokens: Option<PathBuf>,
    pub demo_credentials: Option<PathBuf>,
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}

impl Default for HttpConfig {
    fn default() -> Self {
        let g = GatewayConfig::default();
        HttpConfig {
            addr: "127.0.0.1:8080".into(),
            body_limit: g.body_limit,
            time_window_secs: g.time_window_secs,
            commit_timeout_ms: g.commit_timeout.as_millis() as u64,
            rate_per_sec: g.rate_per_sec,
            rate_burst: g.rate_burst,
            min_free_bytes: g.min_free_bytes,
            max_connections: 4096,
            tls_cert: None,
            tls_key: None,
        }
    }
}

impl Default for BuilderConfig {
    fn default() -> Self {
        let c = ChainConfig::default();
        BuilderConfig {
            max_block_txs: c.max_block_txs,
            block_interval_ms: c.block_interval.as_millis() as u64,
            pool_capacity: c.pool_capacity,
        }
    }
}

/// A configuration file names the keys its node has: without `validator_key` the node is a
/// full node, without the operator's it takes no operator action.
impl Default for KeysConfig {
    fn default() -> Self {
        KeysConfig {
            genesis: "genesis.json".into(),
            validator_key: None,
            node_key: None,
            operator_key: None,
            operator_secret: None,
            admin_token: None,
            reader_tokens: None,
            demo_credentials: None,
        }
    }
}

impl KeysConfig {
    /// The dev node holds every key, in its data directory.
    fn dev() -> Self {
        KeysConfig {
            validator_key: Some("validator.key".into()),
            operator_key: Some("operator.key".into()),
            operator_secret: Some("operator.secret".into()),
            admin_token: Some("admin.token".into()),
            reader_tokens: Some("readers.tokens".into()),
            ..KeysConfig::default()
        }
    }
}

impl Config {
    /// Reads a TOML file; unknown settings are refused so that a typo is not ignored.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut config: Config =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        // A relative data directory and relative key paths are relative to the file.
        let parent = path.parent().unwrap_or(Path::new("")).to_owned();
        if config.data_dir.is_relative() {
            config.data_dir = parent.join(&config.data_dir);
        }
        config.key_dir = Some(parent);
        Ok(config)
    }

    /// The development node's settings: `./data`, loopback port 8080, every key in `data`.
    pub fn dev() -> Self {
        Config {
            data_dir: default_data_dir(),
            http: HttpConfig::default(),
            builder: BuilderConfig::default(),
            consensus: ConsensusSettings::default(),
            keys: KeysConfig::dev(),
            portal: PortalSettings::default(),
            key_dir: None,
            without_verdicts: false,
        }
    }

    pub fn with_overrides(mut self, data: Option<PathBuf>, http: Option<String>) -> Self {
        if let Some(d) = data {
            self.data_dir = d;
        }
        if let Some(h) = http {
            self.http.addr = h;
        }
        self
    }

    /// A key path of the configuration, a relative one resolved beside the configuration
    /// file (inside the data directory for the dev node).
    pub fn path(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_owned()
        } else {
            self.key_dir.as_ref().unwrap_or(&self.data_dir).join(p)
        }
    }

    pub fn chain_config(&self) -> ChainConfig {
        ChainConfig {
            max_block_txs: self.builder.max_block_txs,
            block_interval: Duration::from_millis(self.builder.block_interval_ms),
            pool_capacity: self.builder.pool_capacity,
            verdicts: !self.without_verdicts,
        }
    }

    /// The gateway's TLS, when both `http.tls_cert` and `http.tls_key` are set.
    pub fn tls(&self) -> anyhow::Result<Option<Arc<cunzheng_gateway::listener::ServerConfig>>> {
        match (&self.http.tls_cert, &self.http.tls_key) {
            (Some(cert), Some(key)) => {
                let config =
                    cunzheng_gateway::listener::tls_config(&self.path(cert), &self.path(key))?;
                Ok(Some(config))
            }
            (None, None) => Ok(None),
            _ => anyhow::bail!("http.tls_cert and http.tls_key go together"),
        }
    }

    /// The engine's settings, with the write-ahead log inside the data directory.
    pub fn engine_settings(&self) -> anyhow::Result<EngineSettings> {
        let c = &self.consensus;
        let addr = |a: &String| {
            a.parse::<Multiaddr>()
                .with_context(|| format!("consensus address {a:?} is not a multiaddr"))
        };
        for (name, v, least) in [
            ("propose_timeout_ms", c.propose_timeout_ms, 100),
            ("prevote_timeout_ms", c.prevote_timeout_ms, 50),
            ("precommit_timeout_ms", c.precommit_timeout_ms, 50),
            ("idle_block_ms", c.idle_block_ms, 10),
        ] {
            anyhow::ensure!(v >= least, "consensus.{name} = {v}: at least {least} ms");
        }
        let ms = Duration::from_millis;
        let timeouts = LinearTimeouts {
            propose: ms(c.propose_timeout_ms),
            prevote: ms(c.prevote_timeout_ms),
            precommit: ms(c.precommit_timeout_ms),
            rebroadcast: ms(c.propose_timeout_ms + c.prevote_timeout_ms + c.precommit_timeout_ms),
            ..LinearTimeouts::default()
        };
        Ok(EngineSettings {
            moniker: c.moniker.clone(),
            listen: addr(&c.listen)?,
            peers: c.peers.iter().map(addr).collect::<anyhow::Result<_>>()?,
            wal_dir: self.data_dir.join("wal"),
            timeouts,
            idle_block_interval: ms(c.idle_block_ms),
            fault: None,
        })
    }

    /// The gossip swarm's settings, when this node gossips transactions.
    pub fn gossip_addresses(&self) -> anyhow::Result<Option<(Multiaddr, Vec<Multiaddr>)>> {
        let c = &self.consensus;
        let Some(listen) = &c.gossip_listen else { return Ok(None) };
        let addr = |a: &String| {
            a.parse::<Multiaddr>()
                .with_context(|| format!("gossip address {a:?} is not a multiaddr"))
        };
        Ok(Some((addr(listen)?, c.gossip_peers.iter().map(addr).collect::<anyhow::Result<_>>()?)))
    }

    /// The portal's settings; `dev` shows the SMS outbox to the operator.
    pub fn portal_config(
        &self,
        dev: bool,
        admin_token: Option<String>,
    ) -> anyhow::Result<PortalConfig> {
        let p = &self.portal;
        let sms = match p.sms.as_str() {
            "log" => SmsConfig::Log,
            "http" => SmsConfig::Http {
                url: p.sms_url.clone().context("portal.sms = \"http\" needs portal.sms_url")?,
                template: p
                    .sms_template
                    .clone()
                    .context("portal.sms = \"http\" needs portal.sms_template")?,
                content_type: p
                    .sms_content_type
                    .clone()
                    .unwrap_or_else(|| "application/json".into()),
            },
            other => anyhow::bail!("portal.sms = {other:?}: expected \"log\" or \"http\""),
        };
        Ok(PortalConfig {
            uploads: self.data_dir.join("uploads"),
            sms,
            dev,
            secure_cookies: p.secure_cookies,
            operator_secret: admin_token,
        })
    }

    pub fn gateway_config(
        &self,
        admin_token: Option<String>,
        readers: Vec<(String, String)>,
    ) -> GatewayConfig {
        GatewayConfig {
            body_limit: self.http.body_limit,
            time_window_secs: self.http.time_window_secs,
            commit_timeout: Duration::from_millis(self.http.commit_timeout_ms),
            rate_per_sec: self.http.rate_per_sec,
            rate_burst: self.http.rate_burst,
            admin_token,
            role: if self.keys.validator_key.is_some() { "member" } else { "full node" },
            readers,
            portal: None,
            data_dir: Some(self.data_dir.clone()),
            min_free_bytes: self.http.min_free_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_round_trips_through_toml() {
        let c = Config::dev();
        let text = toml::to_string(&c).unwrap();
        let back: Config = toml::from_str(&text).unwrap();
        assert_eq!(toml::to_string(&back).unwrap(), text);
    }

    #[test]
    fn unknown_settings_are_refused() {
        assert!(toml::from_str::<Config>("[http]\nadress = \"x\"\n").is_err());
    }

    #[test]
    fn partial_files_take_defaults() {
        let c: Config = toml::from_str("[builder]\nmax_block_txs = 5\n").unwrap();
        assert_eq!(c.builder.max_block_txs, 5);
        assert_eq!(c.builder.pool_capacity, BuilderConfig::default().pool_capacity);
        assert_eq!(c.http.addr, "127.0.0.1:8080");
    }
}
