//! An auditor's view of a running dev node: a proof bundle for every kind of record, fetched
//! over HTTP and checked offline by `cunzheng verify` against the genesis the node serves.

use std::path::Path;

use cunzheng_e2e::{cunzheng, DevNode};
use cunzheng_types::{record::Endpoint, unix_now, Hash};
use serde_json::{json, Value};

const PHONE: &str = "C6AAA43716949506D38CF6A1BAA2F576";

/// `cunzheng verify BUNDLE --genesis GENESIS`: success, and what it printed.
fn verify(bundle: &Path, genesis: &Path) -> (bool, String) {
    cunzheng([Path::new("verify"), bundle, Path::new("--genesis"), genesis])
}

fn one_record_of(endpoint: Endpoint, now: u64) -> Value {
    match endpoint.path() {
        "/voice/add" | "/sms/add" => {
            json!({"phone": PHONE, "deposit_hash": "consent1", "sign_time": now - 60})
        }
        "/voice/sendAddChain" => {
            json!({"phone": PHONE, "from_num": "075538833883", "start_time": now - 30, "end_time": now - 10, "deposit_hash": "call1"})
        }
        "/sms/sendAddChain" => {
            json!({"phone": PHONE, "channel_num": "106909570626", "send_time": now - 5, "deposit_hash": "sms1"})
        }
        _ => json!({"phone": PHONE}),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_audit_every_record_kind_verifies_offline_and_tampering_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = DevNode::start(&dir.path().join("node")).unwrap();
    let client = node.client();

    // The genesis an auditor fetches once and keeps.
    let genesis = client.genesis().await.unwrap();
    assert_eq!(genesis.code, 0);
    let genesis_file = dir.path().join("genesis.json");
    std::fs::write(&genesis_file, serde_json::to_vec(&genesis.data).unwrap()).unwrap();

    let now = unix_now();
    let mut bundles = Vec::new();
    for endpoint in Endpoint::ALL {
        let list = vec![one_record_of(endpoint, now)];
        let ids = client.tx_ids(endpoint, &list, now).unwrap();
        let answer = client.deposit_at(endpoint, &list, now).await.unwrap();
        assert_eq!(answer.code, 0, "{}: {}", endpoint.path(), answer.msg);
        bundles.push((endpoint, ids[0]));
    }

    for (endpoint, id) in &bundles {
        let answer = client.proof(id).await.unwrap().expect("the owner gets its bundle");
        let file = dir.path().join(format!("{id}.json"));
        // The answer as served, envelope and all: what an auditor saves from the API.
        std::fs::write(
            &file,
            serde_json::to_vec(
                &json!({"code": answer.code, "msg": answer.msg, "data": answer.data}),
            )
            .unwrap(),
        )
        .unwrap();
        let (ok, text) = verify(&file, &genesis_file);
        assert!(ok, "{}: {text}", endpoint.path());
        assert!(text.contains("valid: the record is in block"), "{text}");
        assert!(text.contains(&id.to_hex()), "{text}");
    }

    // All of them in one batch.
    let mut args = vec!["verify".into()];
    args.extend(bundles.iter().map(|(_, id)| dir.path().join(format!("{id}.json"))));
    args.extend(["--genesis".into(), genesis_file.clone()]);
    let (ok, text) = cunzheng(args);
    assert!(ok && text.contains("6 valid, 0 invalid"), "{text}");

    // Tampered copies of the first bundle: each is refused with the check that failed.
    let (_, id) = bundles[0];
    let good = client.proof(&id).await.unwrap().unwrap().data;
    type Edit = fn(&mut Value);
    let tampered: [(&str, Edit); 5] = [
        ("leaf hash", |b| b["tx"]["deposit_hash"] = json!("forged")),
        ("tx_path", |b| b["tx_index"] = json!(b["tx_index"].as_u64().unwrap() + 1)),
        ("block certificate", |b| b["block"]["header"]["time"] = json!(1)),
        ("checkpoint certificate", |b| {
            let s = b["checkpoint"]["certificate"]["signatures"][0]["signature"].as_str().unwrap();
            let flipped = if s.starts_with('0') { "1" } else { "0" };
            b["checkpoint"]["certificate"]["signatures"][0]["signature"] =
                json!(format!("{flipped}{}", &s[1..]));
        }),
        ("log_path", |b| b["log_path"] = json!([Hash([9; 32])])),
    ];
    for (named, edit) in tampered {
        let mut bundle = good.clone();
        edit(&mut bundle);
        let file = dir.path().join("tampered.json");
        std::fs::write(&file, serde_json::to_vec(&bundle).unwrap()).unwrap();
        let (ok, text) = verify(&file, &genesis_file);
        assert!(!ok, "a bundle with a forged {named} verified: {text}");
        assert!(text.contains("invalid") && text.contains(named), "{named}: {text}");
    }

    // Another chain's genesis does not vouch for this chain's records.
    let mut other: Value = genesis.data.clone();
    other["chain_id"] = json!("another-chain");
    let other_file = dir.path().join("other-genesis.json");
    std::fs::write(&other_file, serde_json::to_vec(&other).unwrap()).unwrap();
    let file = dir.path().join(format!("{id}.json"));
    let (ok, text) = verify(&file, &other_file);
    assert!(!ok && text.contains("genesis hash"), "{text}");

    assert!(node.terminate().unwrap());
}

/// A node's checkpoint note, waited for until it covers the whole committed log.
async fn checkpoint_of_head(client: &cunzheng_client::Client) -> (String, u64) {
    for _ in 0..100 {
        let size = client.status().await.unwrap().data["log_size"].as_u64().unwrap();
        if let Some(note) = client.checkpoint().await.unwrap() {
            if note.lines().nth(1) == Some(size.to_string().as_str()) {
                return (note, size);
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no checkpoint of the committed log");
}

fn third_party_hash(h: &Hash) -> tlog_tiles::Hash {
    tlog_tiles::Hash(h.0)
}

/// Checkpoints, inclusion proofs and consistency proofs are accepted as they are by an
/// independent implementation of C2SP signed notes and tlog proofs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_audit_checkpoints_and_proofs_are_accepted_by_another_implementation() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = DevNode::start(&dir.path().join("node")).unwrap();
    let client = node.client();
    let endpoint = Endpoint::ALL[0];
    let now = unix_now();
    let mut ids = Vec::new();
    for call in 0..3u64 {
        let list: Vec<Value> = (0..50)
            .map(|i| json!({"phone": format!("{:032X}", call * 100 + i), "deposit_hash": format!("c{call}i{i}"), "sign_time": now - 60}))
            .collect();
        ids.extend(client.tx_ids(endpoint, &list, now).unwrap());
        assert_eq!(client.deposit_at(endpoint, &list, now).await.unwrap().code, 0);
    }
    let (first_note, first_size) = checkpoint_of_head(&client).await;
    let list = vec![json!({"phone": PHONE, "deposit_hash": "later", "sign_time": now - 60})];
    assert_eq!(client.deposit_at(endpoint, &list, now).await.unwrap().code, 0);
    let (note, size) = checkpoint_of_head(&client).await;
    assert!(size > first_size);

    // The note opens under the member's verifier key and parses as a tlog checkpoint.
    let keys = client.checkpoint_keys().await.unwrap().data;
    let vkey = keys["keys"][0]["vkey"].as_str().unwrap();
    let verifier = signed_note::StandardVerifier::new(vkey).unwrap();
    let verifiers = signed_note::VerifierList::new(vec![Box::new(verifier)]);
    let parsed = signed_note::Note::from_bytes(note.as_bytes()).unwrap();
    let (verified, unverified) = parsed.verify(&verifiers).unwrap();
    assert_eq!((verified.len(), unverified.len()), (1, 0));
    let checkpoint = tlog_tiles::Checkpoint::from_bytes(parsed.text()).unwrap();
    assert_eq!(checkpoint.origin(), keys["origin"].as_str().unwrap());
    assert_eq!(checkpoint.size(), size);
    let mut forged = note.clone().into_bytes();
    forged[note.find('\n').unwrap() + 1] ^= 1;
    let forged = signed_note::Note::from_bytes(&forged).unwrap();
    assert!(forged
        .verify(&signed_note::VerifierList::new(vec![Box::new(
            signed_note::StandardVerifier::new(vkey).unwrap()
        )]))
        .is_err());

    // Each record's bundle path proves it into the checkpoint's tree.
    for id in [ids[0], ids[77], ids[149]] {
        let bundle: cunzheng_types::ProofBundle =
            serde_json::from_value(client.proof(&id).await.unwrap().unwrap().data).unwrap();
        assert_eq!(bundle.checkpoint.header.log_size, checkpoint.size());
        assert_eq!(bundle.checkpoint.header.log_root.0, checkpoint.hash().0);
        let path: Vec<tlog_tiles::Hash> = bundle.log_path.iter().map(third_party_hash).collect();
        tlog_tiles::check_record(
            &path,
            checkpoint.size(),
            *checkpoint.hash(),
            bundle.log_index,
            third_party_hash(&id),
        )
        .unwrap();
    }

    // The first checkpoint's tree is a prefix of the second's.
    let first = tlog_tiles::Checkpoint::from_bytes(
        signed_note::Note::from_bytes(first_note.as_bytes()).unwrap().text(),
    )
    .unwrap();
    let answer = client.consistency(first_size, size).await.unwrap();
    let proof: Vec<Hash> = serde_json::from_value(answer.data["proof"].clone()).unwrap();
    let proof: Vec<tlog_tiles::Hash> = proof.iter().map(third_party_hash).collect();
    tlog_tiles::check_tree(&proof, size, *checkpoint.hash(), first_size, *first.hash()).unwrap();

    assert!(node.terminate().unwrap());
}
