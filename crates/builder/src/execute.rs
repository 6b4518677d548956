//! Block execution: the rules every member applies to a block's transactions, in order,
//! against the registered clients. Operator transactions change clients; enterprise records
//! are admitted only from an active client on a channel it holds.

use std::{collections::HashMap, sync::Arc};

use cunzheng_store::ClientEntry;
use cunzheng_types::{Hash, OperatorAction, SealedTx, Transaction};
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
    /// The client holds no filing for this channel.
    #[error("client {client} may not deposit on {channel}")]
    ChannelNotAllowed { client: String, channel: String },
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
    /// Transactions refused, with the reason.
    pub rejected: Vec<(Hash, ExecError)>,
    /// Clients as changed by the admitted operator transactions.
    pub clients: Vec<(String, ClientEntry)>,
}

/// Executes `txs` in order at `height`, each seeing the changes of those before it.
pub(crate) fn execute(
    view: &ClientView,
    operator: &VerifyingKey,
    height: u64,
    txs: impl IntoIterator<Item = Arc<SealedTx>>,
) -> Execution {
    let mut overlay: HashMap<String, ClientEntry> = HashMap::new();
    let mut out = Execution::default();
    for tx in txs {
        let lookup = |id: &str| overlay.get(id).or_else(|| view.get(id)).cloned();
        match apply(lookup, operator, height, tx.tx()) {
            Ok(Some((id, entry))) => {
                overlay.insert(id, entry);
                out.accepted.push(tx);
            }
            Ok(None) => out.accepted.push(tx),
            Err(e) => out.rejected.push((tx.id(), e)),
        }
    }
    out.clients = overlay.into_iter().collect();
    out.clients.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn apply(
    lookup: impl Fn(&str) -> Option<ClientEntry>,
    operator: &VerifyingKey,
    height: u64,
    tx: &Transaction,
) -> Result<Option<(String, ClientEntry)>, ExecError> {
    match tx {
        Transaction::Record(r) => {
            let client = lookup(&r.client_id)
                .ok_or_else(|| ExecError::UnknownClient(r.client_id.clone()))?;
            if client.suspended.is_some() {
                return Err(ExecError::Suspended(r.client_id.clone()));
            }
            let channel = r.record.channel();
            if !client.channels.contains(&channel) {
                return Err(ExecError::ChannelNotAllowed {
                    client: r.client_id.clone(),
                    channel: channel.to_string(),
                });
            }
            Ok(None)
        }
        Transaction::Operator(op) => {
            op.verify(operator).map_err(|_| ExecError::BadOperatorSignature)?;
            let id = op.action.client_id().to_owned();
            let existing = lookup(&id);
            let entry = match (&op.action, existing) {
                (OperatorAction::RegisterClient { .. }, Some(_)) => {
                    return Err(ExecError::ClientExists(id));
                }
                (OperatorAction::RegisterClient { channels, .. }, None) if channels.is_empty() => {
                    return Err(ExecError::NoChannels);
                }
                (
                    OperatorAction::RegisterClient { channels, key_nonce, key_ciphertext, .. },
                    None,
                ) => ClientEntry {
                    channels: channels.clone(),
                    key_nonce: *key_nonce,
                    key_ciphertext: key_ciphertext.clone(),
                    suspended: None,
                    registered_at: height,
                },
                (_, None) => return Err(ExecError::UnknownClient(id)),
                (OperatorAction::SuspendClient { reason, .. }, Some(mut e)) => {
                    e.suspended = Some(reason.clone());
                    e
                }
                (OperatorAction::ReinstateClient { .. }, Some(mut e)) => {
                    e.suspended = None;
                    e
                }
            };
            Ok(Some((id, entry)))
        }
    }
}
