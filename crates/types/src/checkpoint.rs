//! Checkpoints of the log as C2SP `tlog-checkpoint` signed notes, so that standard
//! transparency-log witnesses and verifiers can check and cosign them.
//!
//! ```text
//! cunzheng/cunzheng-localnet                 origin: one per chain
//! 100001                                     log size
//! 3q2+7w0Lq8nH1p0o+3yJv0B2vCq1Vt1uI0a0S1M2H0E=   log root, standard base64
//!                                            blank line: the note text ends above it
//! — cunzheng-localnet/carrier Fq3k…           one line per member: key name, then
//! — cunzheng-localnet/regulator 9a0Z…         base64(key id (4 bytes) || Ed25519 signature)
//! ```
//!
//! Each member signs the note text (the three lines, each ending in a newline) with its
//! validator key under the key name `<chain id>/<member name>`. The key id is the first four
//! bytes of `SHA-256(name || "\n" || 0x01 || public key)`, and the verifier key a witness
//! configures is `name+<key id hex>+base64(0x01 || public key)` (C2SP `signed-note`). A
//! checkpoint is trusted when members holding more than two thirds of the voting power have
//! signed it, the same threshold as a block.

use base64::{engine::general_purpose::STANDARD, Engine};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use crate::{
    block::PublicKey,
    genesis::{Genesis, Validator},
    hash::{sha256, Hash},
};

/// The signature type byte of Ed25519 in signed notes.
const ED25519: u8 = 0x01;
/// The dash that opens a signature line.
const DASH: &str = "\u{2014} ";

/// The origin line of a chain's checkpoints.
pub fn origin(chain_id: &str) -> String {
    format!("cunzheng/{chain_id}")
}

/// The key name under which `member` signs checkpoints of `chain_id`.
pub fn key_name(chain_id: &str, member: &str) -> String {
    format!("{chain_id}/{member}")
}

/// The four-byte key id of an Ed25519 key named `name`.
pub fn key_id(name: &str, key: &PublicKey) -> [u8; 4] {
    let h = sha256(&[name.as_bytes(), b"\n", &[ED25519], &key.0]);
    [h.0[0], h.0[1], h.0[2], h.0[3]]
}

/// The verifier key string of a signed-note verifier: `name+<key id hex>+<base64 key>`.
pub fn verifier_key(name: &str, key: &PublicKey) -> String {
    let mut typed = vec![ED25519];
    typed.extend_from_slice(&key.0);
    format!("{name}+{}+{}", hex::encode(key_id(name, key)), STANDARD.encode(typed))
}

/// A log size and root: the text every member signs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl Checkpoint {
    /// The note text: origin, size and base64 root, each line ending in a newline.
    pub fn text(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, STANDARD.encode(self.root.0))
    }

    /// Parses note text of exactly the three lines.
    pub fn parse(text: &str) -> Result<Checkpoint, NoteError> {
        let lines: Vec<&str> = text.split_terminator('\n').collect();
        let [origin, size, root] = lines[..] else {
            return Err(NoteError::Malformed("text lines"));
        };
        if !text.ends_with('\n') || origin.is_empty() {
            return Err(NoteError::Malformed("text lines"));
        }
        let size = size.parse().map_err(|_| NoteError::Malformed("size"))?;
        let root: [u8; 32] = STANDARD
            .decode(root)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or(NoteError::Malformed("root"))?;
        Ok(Checkpoint { origin: origin.to_owned(), size, root: Hash(root) })
    }

    /// One member's signature of this checkpoint.
    pub fn sign(&self, chain_id: &str, member: &str, key: &SigningKey) -> Cosignature {
        Cosignature {
            name: key_name(chain_id, member),
            key: key.verifying_key().into(),
            signature: key.sign(self.text().as_bytes()).to_bytes(),
        }
    }
}

/// One signature line of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosignature {
    pub name: String,
    pub key: PublicKey,
    pub signature: [u8; 64],
}

impl Cosignature {
    /// `— <name> <base64(key id || signature)>` and a newline.
    pub fn line(&self) -> String {
        let mut blob = key_id(&self.name, &self.key).to_vec();
        blob.extend_from_slice(&self.signature);
        format!("{DASH}{} {}\n", self.name, STANDARD.encode(blob))
    }

    /// Whether the signature is `key`'s over `text`.
    pub fn verifies(&self, text: &str) -> bool {
        let Ok(key) = VerifyingKey::from_bytes(&self.key.0) else { return false };
        key.verify(text.as_bytes(), &Signature::from_bytes(&self.signature)).is_ok()
    }
}

/// The signed note of a checkpoint: its text, a blank line, then the signature lines.
pub fn signed_note(checkpoint: &Checkpoint, signatures: &[Cosignature]) -> String {
    let mut note = checkpoint.text();
    note.push('\n');
    signatures.iter().for_each(|s| note.push_str(&s.line()));
    note
}

/// Why a signed note is not a trusted checkpoint.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NoteError {
    /// The note does not have the signed-note or checkpoint shape.
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    /// The origin line names another log.
    #[error("origin {0:?} is not this chain's")]
    Origin(String),
    /// A member's signature line does not verify.
    #[error("signature of {0} does not verify")]
    BadSignature(String),
    /// The verified signers hold two thirds of the voting power or less.
    #[error("members holding {signed} of {total} voting power signed, not more than two thirds")]
    NoQuorum { signed: u64, total: u64 },
}

/// Opens a signed checkpoint note under `genesis`: every line signed by a member's key name
/// must verify; lines of other keys (a witness's cosignature) are skipped. Returns the
/// checkpoint and the members that signed it.
pub fn open(note: &str, genesis: &Genesis) -> Result<(Checkpoint, Vec<String>), NoteError> {
    let (text, sigs) = note.split_once("\n\n").ok_or(NoteError::Malformed("no blank line"))?;
    let text = format!("{text}\n");
    let checkpoint = Checkpoint::parse(&text)?;
    if checkpoint.origin != origin(&genesis.chain_id) {
        return Err(NoteError::Origin(checkpoint.origin));
    }
    let mut signers: Vec<&Validator> = Vec::new();
    for line in sigs.split_terminator('\n') {
        let rest = line.strip_prefix(DASH).ok_or(NoteError::Malformed("signature line"))?;
        let (name, blob) = rest.split_once(' ').ok_or(NoteError::Malformed("signature line"))?;
        let blob = STANDARD.decode(blob).map_err(|_| NoteError::Malformed("signature base64"))?;
        if blob.len() < 4 {
            return Err(NoteError::Malformed("signature length"));
        }
        let Some(member) = genesis.validators.iter().find(|v| {
            key_name(&genesis.chain_id, &v.name) == name && blob[..4] == key_id(name, &v.public_key)
        }) else {
            continue;
        };
        let signature: [u8; 64] =
            blob[4..].try_into().map_err(|_| NoteError::Malformed("signature length"))?;
        let cosignature = Cosignature { name: name.to_owned(), key: member.public_key, signature };
        if !cosignature.verifies(&text) {
            return Err(NoteError::BadSignature(name.to_owned()));
        }
        if !signers.iter().any(|v| v.public_key == member.public_key) {
            signers.push(member);
        }
    }
    let signed: u64 = signers.iter().map(|v| v.power).sum();
    let total = genesis.total_power();
    if signed * 3 <= total * 2 {
        return Err(NoteError::NoQuorum { signed, total });
    }
    Ok((checkpoint, signers.iter().map(|v| v.name.clone()).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of the signed-note reference implementation (golang.org/x/mod/sumdb/note):
    // its private key's seed, verifier key, text and signature line.
    const GO_SEED: &str = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const GO_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                           then you don't know what your problem is.\n";
    const GO_LINE: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    fn go_key() -> SigningKey {
        let typed = STANDARD.decode(GO_SEED).unwrap();
        assert_eq!(typed[0], ED25519);
        SigningKey::from_bytes(&typed[1..].try_into().unwrap())
    }

    #[test]
    fn key_ids_keys_and_signature_lines_match_the_reference_example() {
        let key = go_key();
        let public: PublicKey = key.verifying_key().into();
        assert_eq!(hex::encode(key_id("PeterNeumann", &public)), "c74f20a3");
        assert_eq!(verifier_key("PeterNeumann", &public), GO_VKEY);
        let signature = Cosignature {
            name: "PeterNeumann".into(),
            key: public,
            signature: key.sign(GO_TEXT.as_bytes()).to_bytes(),
        };
        assert_eq!(signature.line(), GO_LINE);
        assert!(signature.verifies(GO_TEXT));
    }

    fn members() -> (Genesis, Vec<SigningKey>) {
        let keys: Vec<SigningKey> = (1..=4u8).map(|i| SigningKey::from_bytes(&[i; 32])).collect();
        let genesis = Genesis::of_members(
            "note-test",
            0,
            keys.iter().enumerate().map(|(i, k)| (format!("m{i}"), k.verifying_key().into())),
            PublicKey([9; 32]),
        );
        (genesis, keys)
    }

    fn checkpoint() -> Checkpoint {
        Checkpoint { origin: origin("note-test"), size: 100_001, root: sha256(&[b"root"]) }
    }

    fn note_by(signers: &[usize]) -> String {
        let (genesis, keys) = members();
        let sigs: Vec<Cosignature> = signers
            .iter()
            .map(|&i| checkpoint().sign(&genesis.chain_id, &genesis.validators[i].name, &keys[i]))
            .collect();
        signed_note(&checkpoint(), &sigs)
    }

    #[test]
    fn the_note_text_is_the_checkpoint_format() {
        let text = checkpoint().text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[..2], ["cunzheng/note-test", "100001"]);
        assert_eq!(STANDARD.decode(lines[2]).unwrap(), checkpoint().root.0);
        assert_eq!(Checkpoint::parse(&text).unwrap(), checkpoint());
    }

    #[test]
    fn three_of_four_members_make_a_trusted_checkpoint() {
        let (genesis, _) = members();
        let (c, signers) = open(&note_by(&[0, 2, 3]), &genesis).unwrap();
        assert_eq!(c, checkpoint());
        assert_eq!(signers, ["m0", "m2", "m3"]);
        assert_eq!(
            open(&note_by(&[0, 2]), &genesis),
            Err(NoteError::NoQuorum { signed: 2, total: 4 })
        );
        assert!(matches!(open(&note_by(&[0, 0, 2]), &genesis), Err(NoteError::NoQuorum { .. })));
    }

    #[test]
    fn a_changed_text_or_signature_is_refused() {
        let (genesis, _) = members();
        let note = note_by(&[0, 1, 2]);
        let bigger = note.replacen("100001", "100002", 1);
        assert!(matches!(open(&bigger, &genesis), Err(NoteError::BadSignature(_))));
        let other = note.replacen("cunzheng/note-test", "cunzheng/other", 1);
        assert!(matches!(open(&other, &genesis), Err(NoteError::Origin(_))));
        // Flip one base64 character of the last signature.
        let at = note.len() - 5;
        let mut bytes = note.into_bytes();
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(bytes).unwrap();
        assert!(matches!(open(&flipped, &genesis), Err(NoteError::BadSignature(_))));
    }

    #[test]
    fn a_witness_cosignature_is_skipped_not_refused() {
        let (genesis, _) = members();
        let witness = SigningKey::from_bytes(&[42; 32]);
        let mut note = note_by(&[0, 1, 2]);
        let text = checkpoint().text();
        note.push_str(
            &Cosignature {
                name: "witness.example".into(),
                key: witness.verifying_key().into(),
                signature: witness.sign(text.as_bytes()).to_bytes(),
            }
            .line(),
        );
        assert_eq!(open(&note, &genesis).unwrap().1.len(), 3);
    }
}
