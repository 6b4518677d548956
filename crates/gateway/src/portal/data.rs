//! What the portal keeps: accounts, sessions, certifications, filing applications and
//! complaints, as JSON values in the store's portal column family, and uploaded files in a
//! content-addressed folder outside any served directory.

use std::path::PathBuf;

use cunzheng_store::ChainStore;
use cunzheng_types::{compliance::FiledNumber, Channel};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// An enterprise's login and what it has filed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Account {
    pub phone: String,
    /// Argon2id, in PHC string form.
    pub password: String,
    pub created_ms: u64,
    pub certification: Option<Certification>,
    /// The client the operator registered for it, once a filing was approved.
    pub client_id: Option<String>,
    /// Whether the client key was shown; it is shown in full once, then masked.
    pub key_shown: bool,
}

/// A company certification (企业认证).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Certification {
    pub company: String,
    /// Unified social credit code, 18 characters.
    pub credit_code: String,
    pub licence: FileRef,
    pub review: Review,
    pub submitted_ms: u64,
}

/// Where an operator review stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Review {
    Pending,
    Approved { by: String, at_ms: u64 },
    Rejected { by: String, at_ms: u64, reason: String },
}

impl Review {
    pub fn is_pending(&self) -> bool {
        matches!(self, Review::Pending)
    }
}

/// An uploaded file: its content lives under its SHA-256 in the uploads folder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRef {
    pub sha256: String,
    /// The name it was uploaded under, for display only.
    pub name: String,
    pub mime: String,
    pub size: u64,
}

/// A business filing (业务备案) as the enterprise submitted it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Application {
    /// Also the filing's id on the chain once approved.
    pub id: String,
    pub phone: String,
    pub business_type: String,
    pub agreement: FileRef,
    pub scripts: Vec<FileRef>,
    pub daily_limit: u32,
    /// `HH:MM-HH:MM`, Beijing time.
    pub hours: String,
    pub channels: Vec<Channel>,
    pub numbers: Vec<FiledNumber>,
    pub review: Review,
    pub submitted_ms: u64,
    /// The block that approved it.
    pub block_height: Option<u64>,
}

/// A subscriber's complaint, routed to the enterprise it names.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Complaint {
    pub id: String,
    pub client_id: String,
    /// MD5 of the complainant's number, as records carry it.
    pub phone_md5: String,
    /// The number with its middle digits hidden, for display.
    pub phone_masked: String,
    /// When the complained-of call or message happened (Unix seconds).
    pub time: u64,
    pub channel: Channel,
    pub description: String,
    pub opened_by: String,
    pub opened_ms: u64,
    pub answer: Option<ComplaintAnswer>,
    pub closed: Option<(String, u64)>,
}

/// An enterprise's answer to a complaint.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ComplaintAnswer {
    pub text: String,
    pub evidence: Vec<FileRef>,
    pub at_ms: u64,
}

/// A logged-in user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Subject {
    /// An enterprise, by its login phone.
    Enterprise { phone: String },
    /// Operator staff, by the name they logged in with.
    Operator { name: String },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Session {
    pub subject: Subject,
    pub expires_ms: u64,
}

/// A message the log sender kept, for the operator's outbox in development.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Sent {
    pub phone: String,
    pub text: String,
    pub at_ms: u64,
}

/// A one-time SMS code, stored hashed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SmsCode {
    pub code_sha256: String,
    pub expires_ms: u64,
    pub attempts: u32,
}

pub fn account_key(phone: &str) -> String {
    format!("acct/{phone}")
}
pub fn session_key(token: &str) -> String {
    format!("sess/{}", hex::encode(Sha256::digest(token.as_bytes())))
}
pub fn application_key(id: &str) -> String {
    format!("app/{id}")
}
pub fn complaint_key(id: &str) -> String {
    format!("cmp/{id}")
}
pub fn code_key(phone: &str, purpose: &str) -> String {
    format!("code/{purpose}/{phone}")
}
pub fn outbox_key(at_ms: u64, seq: u32) -> String {
    format!("outbox/{at_ms:020}-{seq:08}")
}

/// The portal's typed view of its column family.
#[derive(Clone, Debug)]
pub struct Db {
    store: ChainStore,
}

pub type DbError = cunzheng_store::StoreError;

impl Db {
    pub fn new(store: ChainStore) -> Self {
        Db { store }
    }

    pub fn store(&self) -> &ChainStore {
        &self.store
    }

    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, DbError> {
        match self.store.portal_get(key)? {
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                cunzheng_store::StoreError::Corrupt { what: "portal value", detail: e.to_string() }
            }),
            None => Ok(None),
        }
    }

    /// Every value under `prefix`, in key order; entries that do not decode are skipped.
    pub fn scan<T: DeserializeOwned>(&self, prefix: &str) -> Result<Vec<T>, DbError> {
        Ok(self
            .store
            .portal_scan(prefix)?
            .into_iter()
            .filter_map(|(_, v)| serde_json::from_slice(&v).ok())
            .collect())
    }

    /// Every key and value under `prefix`, in key order; entries that do not decode are
    /// skipped.
    pub fn scan_keys<T: DeserializeOwned>(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, T)>, DbError> {
        Ok(self
            .store
            .portal_scan(prefix)?
            .into_iter()
            .filter_map(|(k, v)| Some((k, serde_json::from_slice(&v).ok()?)))
            .collect())
    }

    pub fn put<T: Serialize>(&self, key: String, value: &T) -> Result<(), DbError> {
        self.write(vec![(key, Some(to_json(value)))])
    }

    pub fn delete(&self, key: String) -> Result<(), DbError> {
        self.write(vec![(key, None)])
    }

    /// Puts and deletes, all or none.
    pub fn write(&self, changes: Vec<(String, Option<Vec<u8>>)>) -> Result<(), DbError> {
        self.store.portal_write(&changes)
    }
}

pub fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("portal values serialize")
}

/// Uploaded files, each stored once under the hex SHA-256 of its content.
#[derive(Clone, Debug)]
pub struct Uploads {
    dir: PathBuf,
}

impl Uploads {
    pub fn new(dir: PathBuf) -> Self {
        Uploads { dir }
    }

    /// Stores `bytes` (written to a temporary name, synced, then renamed) and returns its hash.
    pub fn store(&self, bytes: &[u8]) -> std::io::Result<String> {
        use std::io::Write;
        let sha = hex::encode(Sha256::digest(bytes));
        let path = self.dir.join(&sha);
        if path.exists() {
            return Ok(sha);
        }
        std::fs::create_dir_all(&self.dir)?;
        let tmp = self.dir.join(format!(".{sha}.{}", std::process::id()));
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        Ok(sha)
    }

    /// The content stored under `sha256`, if any; the name must be 64 hex digits.
    pub fn read(&self, sha256: &str) -> std::io::Result<Option<Vec<u8>>> {
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        match std::fs::read(self.dir.join(sha256)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}
