//! A consortium of one through the real engine: Malachite decides every block, the chain
//! store commits it with the engine's certificate, and a restart continues from the head.

use std::{path::Path, sync::Arc, time::Duration};

use cunzheng_builder::{Chain, ChainConfig};
use cunzheng_consensus::{Consensus, EngineSettings};
use cunzheng_store::ChainStore;
use cunzheng_types::{
    client_key::OperatorSecret,
    compliance::{Filing, Hours},
    Channel, Genesis, OperatorAction, Record, RecordTx, SealedTx, Transaction, Validator,
};
use ed25519_dalek::SigningKey;

fn genesis(validator: &SigningKey, operator: &SigningKey) -> Genesis {
    Genesis {
        chain_id: "consensus-test".into(),
        genesis_time: 0,
        validators: vec![Validator {
            name: "solo".into(),
            public_key: validator.verifying_key().into(),
            power: 1,
        }],
        operator_key: operator.verifying_key().into(),
    }
}

struct Member {
    chain: Arc<Chain>,
    consensus: Consensus,
}

async fn start(dir: &Path, validator: &SigningKey, operator: &SigningKey) -> Member {
    // A stopped member's last block-building task may still hold the store for a moment.
    let mut store = ChainStore::open(&dir.join("chain"));
    for _ in 0..100 {
        if store.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        store = ChainStore::open(&dir.join("chain"));
    }
    let store = store.unwrap();
    let config = ChainConfig { block_interval: Duration::from_millis(5), ..ChainConfig::default() };
    let chain = Arc::new(Chain::open(store, genesis(validator, operator), config).unwrap());
    let settings = EngineSettings {
        idle_block_interval: Duration::from_millis(100),
        ..EngineSettings::solo(dir.join("wal"))
    };
    let consensus = Consensus::start(chain.clone(), validator, Some(validator.clone()), settings)
        .await
        .unwrap();
    Member { chain, consensus }
}

/// The registration of `client_id` and the approval of a voice filing.
fn register(operator: &SigningKey, client_id: &str) -> Vec<Arc<SealedTx>> {
    let (key_nonce, key_ciphertext) = OperatorSecret([5; 32]).seal(client_id, "k");
    let register =
        OperatorAction::RegisterClient { client_id: client_id.into(), key_nonce, key_ciphertext };
    let filing = Filing {
        filing_id: "F1".into(),
        channels: vec![Channel::Voice],
        business_type: "marketing".into(),
        hours: Hours::ALL_DAY,
        daily_limit: 10,
        numbers: Vec::new(),
    };
    let file = OperatorAction::ApproveFiling { client_id: client_id.into(), filing };
    [register, file]
        .into_iter()
        .map(|a| Arc::new(SealedTx::new(Transaction::Operator(a.sign(operator, 1)))))
        .collect()
}

fn consent(client_id: &str, n: u64) -> Arc<SealedTx> {
    let record = Record::Consent {
        channel: Channel::Voice,
        phone: "C6AAA43716949506D38CF6A1BAA2F576".into(),
        deposit_hash: format!("h{n}"),
        sign_time: 1_600_000_000 + n,
    };
    Arc::new(SealedTx::new(Transaction::Record(RecordTx { client_id: client_id.into(), record })))
}

async fn deposit(chain: &Chain, txs: Vec<Arc<SealedTx>>) -> u64 {
    let receipt = chain.submit(txs).unwrap();
    tokio::time::timeout(Duration::from_secs(20), receipt).await.unwrap().unwrap().unwrap()
}

/// Every block from genesis to the head links to its parent and carries a certificate that
/// verifies against the genesis validator set.
fn assert_chain_intact(chain: &Chain) {
    let store = chain.store();
    let mut prev = chain.genesis().hash();
    for h in 1..=chain.head().height {
        let header = store.header(h).unwrap().unwrap();
        assert_eq!(header.prev_hash, prev, "height {h}");
        store.certificate(h).unwrap().unwrap().verify(&header, chain.genesis()).unwrap();
        prev = header.hash();
    }
}

#[tokio::test]
async fn a_member_alone_decides_blocks_with_verifiable_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let (validator, operator) =
        (SigningKey::from_bytes(&[1; 32]), SigningKey::from_bytes(&[2; 32]));
    let m = start(dir.path(), &validator, &operator).await;

    let registered = deposit(&m.chain, register(&operator, "c1")).await;
    let deposited = deposit(&m.chain, (1..=50).map(|n| consent("c1", n)).collect()).await;
    assert!(deposited > registered);
    assert_eq!(m.chain.head().frontier.size, 52);
    let block = m.chain.store().full_block(deposited).unwrap().unwrap();
    assert_eq!(block.txs.len(), 50);
    assert_chain_intact(&m.chain);
    m.consensus.stop().await;
}

#[tokio::test]
async fn a_restarted_member_continues_from_its_head() {
    let dir = tempfile::tempdir().unwrap();
    let (validator, operator) =
        (SigningKey::from_bytes(&[1; 32]), SigningKey::from_bytes(&[2; 32]));
    let m = start(dir.path(), &validator, &operator).await;
    deposit(&m.chain, register(&operator, "c1")).await;
    let first = deposit(&m.chain, vec![consent("c1", 1)]).await;
    m.consensus.stop().await;
    drop(m.chain);

    let m = start(dir.path(), &validator, &operator).await;
    assert!(m.chain.head().height >= first);
    let second = deposit(&m.chain, vec![consent("c1", 2)]).await;
    assert!(second > first);
    assert_eq!(m.chain.head().frontier.size, 4);
    assert_chain_intact(&m.chain);
    m.consensus.stop().await;
}
