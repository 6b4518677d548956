//! Block execution: the rules every member applies to a block's transactions, in order,
//! against the registered clients and the compliance state at the head. Operator transactions
//! change clients and their filings; an enterprise record is admitted only from an active
//! client with an approved filing for its channel, and a call or SMS record gets its verdict
//! ([`cunzheng_types::compliance::verdict`]) from the consent history and daily count as the
//! transactions before it in chain order left them.

use std::{collections::HashMap, sync::Arc};

use cunzheng_store::{
    consent_key, daily_key, ChainStore, ClientEntry, ComplianceChanges, FilingEntry, StoreError,
};
use cunzheng_types::{
    compliance::{beijing_day, verdict, Communication, ConsentEvent, ConsentHistory, Flags},
    Hash, OperatorAction, Record, SealedTx, Transaction,
};
use ed25519_dalek::VerifyingKey;

/// Why a transaction cannot go into a block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    /// The client id is not registered.
    #[error("client {0} is not registered")]
    UnknownClient(String),
    /// The client is suspended.
    #[error("client {0} is suspended")]
    Suspended(String),
    /// The client has no approved filing for this channel.
    #[error("client {client} has no approved filing for {channel}")]
    NoFiling { client: String, channel: String },
    /// A filing approval for an id the client already has.
    #[error("filing {0} is already approved")]
    FilingExists(String),
    /// A change or revocation of a filing the client does not have.
    #[error("filing {0} is not approved for this client")]
    UnknownFiling(String),
    /// A filing over a channel another approved filing of the client covers.
    #[error("channel {channel} is covered by filing {other}")]
    ChannelFiled { channel: String, other: String },
    /// An operator transaction not signed by the genesis operator key.
    #[error("operator signature does not verify")]
    BadOperatorSignature,
    /// A registration for a client id that exists.
    #[error("client {0} is already registered")]
    ClientExists(String),
    /// A registration without channels.
    #[error("a client needs at least one channel")]
    NoChannels,
}

/// The registered clients, as of the committed head.
#[derive(Clone, Debug, Default)]
pub struct ClientView {
    clients: HashMap<String, ClientEntry>,
}

impl ClientView {
    pub fn new(clients: impl IntoIterator<Item = (String, ClientEntry)>) -> Self {
        ClientView { clients: clients.into_iter().collect() }
    }

    pub fn get(&self, id: &str) -> Option<&ClientEntry> {
        self.clients.get(id)
    }

    pub fn len(&self) -> usize {
        self.clients.len()
    }

    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    pub(crate) fn apply(&mut self, changes: &[(String, ClientEntry)]) {
        for (id, entry) in changes {
            self.clients.insert(id.clone(), entry.clone());
        }
    }
}

/// The outcome of executing a list of transactions.
#[derive(Debug, Default)]
pub(crate) struct Execution {
    /// Transactions admitted, in order.
    pub accepted: Vec<Arc<SealedTx>>,
    /// The verdict of each admitted transaction (clean for all but calls and SMS).
    pub flags: Vec<Flags>,
    /// Transactions refused, with the reason.
    pub rejected: Vec<(Hash, ExecError)>,
    /// Clients as changed by the admitted operator transactions.
    pub clients: Vec<(String, ClientEntry)>,
    /// The consent histories and daily counts as the admitted records left them; `None` when
    /// executed without the compliance rules.
    pub compliance: Option<ComplianceChanges>,
}

/// The consent histories and daily counts the records of a block touch, read from the store
/// once and changed as the block's records are executed.
#[derive(Default)]
struct Compliance {
    consent: HashMap<Vec<u8>, ConsentHistory>,
    daily: HashMap<Vec<u8>, u32>,
    /// Consent keys a grant or withdrawal changed.
    changed: Vec<Vec<u8>>,
}

impl Compliance {
    fn load<'a>(
        store: &ChainStore,
        txs: impl Iterator<Item = &'a SealedTx>,
    ) -> Result<Self, StoreError> {
        let mut consent_keys = Vec::new();
        let mut daily_keys = Vec::new();
        for tx in txs {
            let Transaction::Record(r) = tx.tx() else { continue };
            let (channel, phone) = (r.record.channel(), r.record.phone());
            consent_keys.push(consent_key(&r.client_id, channel, phone));
            if matches!(r.record, Record::Call { .. } | Record::Message { .. }) {
                let day = beijing_day(r.record.time());
                daily_keys.push(daily_key(&r.client_id, channel, phone, day));
            }
        }
        for keys in [&mut consent_keys, &mut daily_keys] {
            keys.sort_unstable();
            keys.dedup();
        }
        let histories = store.consent_histories(&consent_keys)?;
        let counts = store.daily_counts(&daily_keys)?;
        Ok(Compliance {
            consent: consent_keys.into_iter().zip(histories).collect(),
            daily: daily_keys.into_iter().zip(counts).collect(),
            changed: Vec::new(),
        })
    }

    /// What the records changed: every history a grant or withdrawal touched, every count a
    /// call or SMS raised (the only counts loaded).
    fn into_changes(mut self) -> ComplianceChanges {
        self.changed.sort_unstable();
        self.changed.dedup();
        let consent = self
            .changed
            .into_iter()
            .map(|k| {
                let history = self.consent.remove(&k).unwrap_or_default();
                (k, history)
            })
            .collect();
        let daily = self.daily.into_iter().filter(|(_, n)| *n > 0).collect();
        ComplianceChanges { consent, daily }
    }

    /// Applies an admitted record: a grant or withdrawal joins its history; a call or SMS gets
    /// its verdict under `client`'s filing and counts towards its day.
    fn apply(&mut self, id: Hash, client_id: &str, client: &ClientEntry, record: &Record) -> Flags {
        let (channel, phone, time) = (record.channel(), record.phone(), record.time());
        let key = consent_key(client_id, channel, phone);
        let number = match record {
            Record::Consent { .. } | Record::Withdraw { .. } => {
                let granted = matches!(record, Record::Consent { .. });
                let history = self.consent.entry(key.clone()).or_default();
                history.insert(ConsentEvent { time, granted, tx_id: id });
                self.changed.push(key);
                return Flags::CLEAN;
            }
            Record::Call { from_num, .. } => from_num,
            Record::Message { channel_num, .. } => channel_num,
        };
        let filing = client.filing(channel).expect("admitted records have a filing");
        let count =
            self.daily.entry(daily_key(client_id, channel, phone, beijing_day(time))).or_default();
        let history = self.consent.entry(key).or_default();
        let flags = verdict(Communication { channel, time, number }, filing, history, *count);
        *count += 1;
        flags
    }
}

/// Executes `txs` in order at `height`, each seeing the changes of those before it; without
/// `verdicts` (measurement only) no compliance state is read and every record is clean.
pub(crate) fn execute(
    view: &ClientView,
    store: &ChainStore,
    operator: &VerifyingKey,
    height: u64,
    txs: Vec<Arc<SealedTx>>,
    verdicts: bool,
) -> Result<Execution, StoreError> {
    let mut compliance = match verdicts {
        true => Some(Compliance::load(store, txs.iter().map(|t| t.as_ref()))?),
        false => None,
    };
    let mut overlay: HashMap<String, ClientEntry> = HashMap::new();
    let mut out = Execution::default();
    for tx in txs {
        let lookup = |id: &str| overlay.get(id).or_else(|| view.get(id));
        match tx.tx() {
            Transaction::Record(r) => match admit(lookup(&r.client_id), &r.client_id, &r.record) {
                Ok(client) => {
                    let flags = compliance.as_mut().map_or(Flags::CLEAN, |c| {
                        c.apply(tx.id(), &r.client_id, client, &r.record)
                    });
                    out.flags.push(flags);
                    out.accepted.push(tx);
                }
                Err(e) => out.rejected.push((tx.id(), e)),
            },
            Transaction::Operator(op) => {
                let result =
                    op.verify(operator).map_err(|_| ExecError::BadOperatorSignature).and_then(
                        |()| operate(lookup(op.action.client_id()).cloned(), &op.action, height),
                    );
                match result {
                    Ok(entry) => {
                        overlay.insert(op.action.client_id().to_owned(), entry);
                        out.flags.push(Flags::CLEAN);
                        out.accepted.push(tx);
                    }
                    Err(e) => out.rejected.push((tx.id(), e)),
                }
            }
        }
    }
    out.clients = overlay.into_iter().collect();
    out.clients.sort_by(|a, b| a.0.cmp(&b.0));
    out.compliance = compliance.map(Compliance::into_changes);
    Ok(out)
}

/// The client of an enterprise record, if it may deposit it.
fn admit<'a>(
    client: Option<&'a ClientEntry>,
    client_id: &str,
    record: &Record,
) -> Result<&'a ClientEntry, ExecError> {
    let client = client.ok_or_else(|| ExecError::UnknownClient(client_id.to_owned()))?;
    if client.suspended.is_some() {
        return Err(ExecError::Suspended(client_id.to_owned()));
    }
    let channel = record.channel();
    if client.filing(channel).is_none() {
        return Err(ExecError::NoFiling {
            client: client_id.to_owned(),
            channel: channel.to_string(),
        });
    }
    Ok(client)
}

/// The client as an operator action leaves it.
fn operate(
    existing: Option<ClientEntry>,
    action: &OperatorAction,
    height: u64,
) -> Result<ClientEntry, ExecError> {
    let id = action.client_id().to_owned();
    let mut entry = match (action, existing) {
        (OperatorAction::RegisterClient { key_nonce, key_ciphertext, .. }, None) => {
            return Ok(ClientEntry {
                key_nonce: *key_nonce,
                key_ciphertext: key_ciphertext.clone(),
                suspended: None,
                registered_at: height,
                filings: Vec::new(),
                auth: Default::default(),
            });
        }
        (OperatorAction::RegisterClient { .. }, Some(_)) => {
            return Err(ExecError::ClientExists(id));
        }
        (_, None) => return Err(ExecError::UnknownClient(id)),
        (_, Some(e)) => e,
    };
    match action {
        OperatorAction::RegisterClient { .. } => unreachable!("handled above"),
        OperatorAction::SuspendClient { reason, .. } => entry.suspended = Some(reason.clone()),
        OperatorAction::ReinstateClient { .. } => entry.suspended = None,
        OperatorAction::SetAuth { scheme, .. } => entry.auth = *scheme,
        OperatorAction::RotateKey { key_nonce, key_ciphertext, .. } => {
            entry.key_nonce = *key_nonce;
            entry.key_ciphertext = key_ciphertext.clone();
        }
        OperatorAction::ApproveFiling { filing, .. } => {
            if entry.filings.iter().any(|f| f.filing.filing_id == filing.filing_id) {
                return Err(ExecError::FilingExists(filing.filing_id.clone()));
            }
            check_channels(&entry, filing)?;
            entry.filings.push(FilingEntry {
                filing: filing.clone(),
                approved_at: height,
                changed_at: height,
            });
        }
        OperatorAction::ChangeFiling { filing, .. } => {
            check_channels(&entry, filing)?;
            let existing = entry
                .filings
                .iter_mut()
                .find(|f| f.filing.filing_id == filing.filing_id)
                .ok_or_else(|| ExecError::UnknownFiling(filing.filing_id.clone()))?;
            existing.filing = filing.clone();
            existing.changed_at = height;
        }
        OperatorAction::RevokeFiling { filing_id, .. } => {
            let before = entry.filings.len();
            entry.filings.retain(|f| f.filing.filing_id != *filing_id);
            if entry.filings.len() == before {
                return Err(ExecError::UnknownFiling(filing_id.clone()));
            }
        }
    }
    Ok(entry)
}

/// Refuses a filing over a channel that another of the client's filings covers.
fn check_channels(
    entry: &ClientEntry,
    filing: &cunzheng_types::compliance::Filing,
) -> Result<(), ExecError> {
    for other in entry.filings.iter().filter(|f| f.filing.filing_id != filing.filing_id) {
        if let Some(channel) = filing.channels.iter().find(|c| other.filing.covers(**c)) {
            return Err(ExecError::ChannelFiled {
                channel: channel.to_string(),
                other: other.filing.filing_id.clone(),
            });
        }
    }
    Ok(())
}
