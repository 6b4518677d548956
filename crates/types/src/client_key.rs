//! Client keys: the shared secret behind an enterprise's `client_token`, and how it is sealed
//! under the operator secret before it goes on the chain.
//!
//! The seal is ChaCha20-Poly1305 with a random 12-byte nonce, the client id as associated data
//! (so a sealed key cannot be moved to another client), and the key
//! `SHA-256("cunzheng/client-key/v1" || operator_secret)`. Only operator nodes hold the
//! operator secret, so no other member ever reads a client key.

use chacha20poly1305::{aead::Aead, ChaCha20Poly1305, KeyInit};
use rand::{distributions::Alphanumeric, Rng, RngCore};

use crate::hash::sha256;

/// The operator's symmetric secret (32 bytes).
#[derive(Clone)]
pub struct OperatorSecret(pub [u8; 32]);

impl std::fmt::Debug for OperatorSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OperatorSecret(..)")
    }
}

/// A sealed client key failed to open: wrong secret, wrong client, or altered bytes.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("client key does not open under this operator secret")]
pub struct SealError;

impl OperatorSecret {
    /// A fresh random secret.
    pub fn generate() -> Self {
        let mut s = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut s);
        OperatorSecret(s)
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        let key = sha256(&[b"cunzheng/client-key/v1", &self.0]);
        ChaCha20Poly1305::new((&key.0).into())
    }

    /// Seals `client_key` for `client_id`; returns the nonce and the ciphertext.
    pub fn seal(&self, client_id: &str, client_key: &str) -> ([u8; 12], Vec<u8>) {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let payload = chacha20poly1305::aead::Payload {
            msg: client_key.as_bytes(),
            aad: client_id.as_bytes(),
        };
        let ct = self.cipher().encrypt((&nonce).into(), payload).expect("in-memory encryption");
        (nonce, ct)
    }

    /// Opens a sealed key.
    pub fn open(
        &self,
        client_id: &str,
        nonce: &[u8; 12],
        ciphertext: &[u8],
    ) -> Result<String, SealError> {
        let payload =
            chacha20poly1305::aead::Payload { msg: ciphertext, aad: client_id.as_bytes() };
        let plain = self.cipher().decrypt(nonce.into(), payload).map_err(|_| SealError)?;
        String::from_utf8(plain).map_err(|_| SealError)
    }
}

/// A new random client key: 32 letters and digits.
pub fn generate_client_key() -> String {
    rand::thread_rng().sample_iter(&Alphanumeric).take(32).map(char::from).collect()
}

/// A new random client id: 8 letters and digits, like the original document's `Dv8G4Ngh`.
pub fn generate_client_id() -> String {
    rand::thread_rng().sample_iter(&Alphanumeric).take(8).map(char::from).collect()
}

/// The documented `client_token`: lowercase hex of
/// `SHA-256("client_id=<id>&client_key=<key>&timestamp=<ts>")`.
pub fn client_token(client_id: &str, client_key: &str, timestamp: u64) -> String {
    let s = format!("client_id={client_id}&client_key={client_key}&timestamp={timestamp}");
    sha256(&[s.as_bytes()]).to_hex()
}

/// The optional stronger signature: lowercase hex of HMAC-SHA256 under the client key of
/// `METHOD \n PATH \n TIMESTAMP \n NONCE \n hex(SHA-256(body))`. Unlike the documented token
/// it covers the body, so a request seen once cannot carry another body; the nonce, kept by
/// the server for the time window, stops the same request from being replayed.
pub fn request_signature(
    client_key: &str,
    method: &str,
    path: &str,
    timestamp: u64,
    nonce: &str,
    body: &[u8],
) -> String {
    use hmac::{Hmac, Mac};
    let body_hash = sha256(&[body]).to_hex();
    let text = format!("{method}\n{path}\n{timestamp}\n{nonce}\n{body_hash}");
    let mut mac =
        <Hmac<sha2::Sha256> as Mac>::new_from_slice(client_key.as_bytes()).expect("any key length");
    mac.update(text.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_key_opens_only_for_its_client_and_secret() {
        let secret = OperatorSecret::generate();
        let (nonce, ct) = secret.seal("abc", "k3y");
        assert_eq!(secret.open("abc", &nonce, &ct).unwrap(), "k3y");
        assert_eq!(secret.open("abd", &nonce, &ct), Err(SealError));
        assert_eq!(OperatorSecret::generate().open("abc", &nonce, &ct), Err(SealError));
        let mut bad = ct.clone();
        bad[0] ^= 1;
        assert_eq!(secret.open("abc", &nonce, &bad), Err(SealError));
    }

    #[test]
    fn the_request_signature_covers_every_part() {
        let sig = |m: &str, p: &str, t: u64, n: &str, b: &[u8]| {
            request_signature("secret", m, p, t, n, b)
        };
        let base = sig("POST", "/voice/add", 1_552_615_958, "n0nce", b"{}");
        // printf 'POST\n/voice/add\n1552615958\nn0nce\n%s' "$(printf '{}' | sha256sum | cut -c1-64)" \
        //   | openssl dgst -sha256 -hmac secret
        assert_eq!(base, "15ea2ddc9a682327d5ac8f94a6ebfa48663ec8ec82060c2f9829f8d750285ce1");
        for other in [
            sig("GET", "/voice/add", 1_552_615_958, "n0nce", b"{}"),
            sig("POST", "/sms/add", 1_552_615_958, "n0nce", b"{}"),
            sig("POST", "/voice/add", 1_552_615_959, "n0nce", b"{}"),
            sig("POST", "/voice/add", 1_552_615_958, "n0nce2", b"{}"),
            sig("POST", "/voice/add", 1_552_615_958, "n0nce", b"{ }"),
        ] {
            assert_ne!(other, base);
        }
    }

    #[test]
    fn token_follows_the_documented_formula() {
        // printf 'client_id=Dv8G4Ngh&client_key=secret&timestamp=1552615958' | sha256sum
        assert_eq!(
            client_token("Dv8G4Ngh", "secret", 1_552_615_958),
            "cf79c7549636d34a1ef31c4411e141118f0ac0e080ba5b1bbc052ab1ce323b2b"
        );
    }
}
