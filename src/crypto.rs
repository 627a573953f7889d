//! Hashing, encryption at rest and webhook signatures.
use aes_gcm::{aead::Aead, Aes256Gcm, KeyInit, Nonce};
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

pub fn hmac_sha256_hex(secret: &[u8], data: &[u8]) -> String {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(data);
    hex::encode(mac.finalize().into_bytes())
}

pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Operator tokens (`PAYOUTS_OPERATOR_TOKENS`): random secrets kept by the
/// service only as SHA-256 hashes, compared in constant time.
pub mod operator_token {
    use rand::{distributions::Alphanumeric, Rng};

    /// How a hash is written in `PAYOUTS_OPERATOR_TOKENS`.
    pub const HASH_PREFIX: &str = "sha256:";
    /// Shortest token accepted in clear in the variable (a new one has 51).
    pub const MIN_LENGTH: usize = 32;

    /// A new token: `op_` and 48 random alphanumerics (~285 bits).
    pub fn generate() -> String {
        let body: String = rand::thread_rng()
            .sample_iter(&Alphanumeric)
            .take(48)
            .map(char::from)
            .collect();
        format!("op_{body}")
    }

    /// The form to put in `PAYOUTS_OPERATOR_TOKENS` so that the service's
    /// configuration never holds the token itself.
    pub fn hash_entry(token: &str) -> String {
        format!("{HASH_PREFIX}{}", super::sha256_hex(token.as_bytes()))
    }

    /// The hashes of a comma-separated list of tokens or `sha256:<hex>`
    /// entries.
    pub fn parse(raw: &str) -> Result<Vec<String>, String> {
        let mut hashes = Vec::new();
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if let Some(hex) = entry.strip_prefix(HASH_PREFIX) {
                let hex = hex.to_ascii_lowercase();
                if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(format!("{HASH_PREFIX}… entries must be 64 hex characters"));
                }
                hashes.push(hex);
            } else if entry.len() < MIN_LENGTH || !entry.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(format!(
                    "tokens must be at least {MIN_LENGTH} printable characters \
                     (`payouts operator-token create` makes one)"
                ));
            } else {
                hashes.push(super::sha256_hex(entry.as_bytes()));
            }
        }
        Ok(hashes)
    }

    /// Whether `presented` is one of the tokens: every hash is compared, in
    /// constant time, whichever matches.
    pub fn matches(hashes: &[String], presented: &str) -> bool {
        let hash = super::sha256_hex(presented.as_bytes());
        hashes.iter().fold(false, |found, known| {
            super::constant_time_eq(known, &hash) | found
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn tokens_match_in_clear_or_as_hashes_and_nothing_else_does() {
            let (a, b) = (generate(), generate());
            assert!(a.starts_with("op_") && a.len() == 51 && a != b);
            let hashes = parse(&format!(" {a} , {}", hash_entry(&b))).unwrap();
            assert_eq!(hashes.len(), 2);
            assert!(matches(&hashes, &a) && matches(&hashes, &b));
            assert!(!matches(&hashes, &generate()));
            assert!(!matches(&hashes, &hash_entry(&a)));
            assert!(!matches(&[], &a));
            assert!(parse("short").is_err());
            assert!(parse("sha256:abc").is_err());
            assert_eq!(parse(" , ").unwrap(), Vec::<String>::new());
        }
    }
}

/// AES-256-GCM with a random 96-bit nonce per value; stored as
/// base64(nonce || ciphertext+tag).
#[derive(Clone)]
pub struct Cipher {
    aead: Aes256Gcm,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(<redacted>)")
    }
}

impl Cipher {
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            aead: Aes256Gcm::new(key.into()),
        }
    }

    /// Parses a key given as 64 hex characters or base64 of 32 bytes.
    pub fn from_encoded_key(encoded: &str) -> Result<Self, String> {
        let encoded = encoded.trim();
        let bytes = hex::decode(encoded)
            .or_else(|_| B64.decode(encoded))
            .map_err(|_| "encryption key must be 64 hex characters or base64".to_string())?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "encryption key must be 32 bytes".to_string())?;
        Ok(Self::new(&key))
    }

    pub fn generate_key_hex() -> String {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        hex::encode(key)
    }

    pub fn encrypt(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .aead
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .expect("AES-GCM encryption does not fail for in-memory data");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        B64.encode(out)
    }

    pub fn decrypt(&self, stored: &str) -> Result<String, String> {
        let raw = B64.decode(stored).map_err(|_| "not base64".to_string())?;
        if raw.len() < 12 {
            return Err("ciphertext too short".into());
        }
        let (nonce, ciphertext) = raw.split_at(12);
        let plain = self
            .aead
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| "decryption failed (wrong key?)".to_string())?;
        String::from_utf8(plain).map_err(|_| "not UTF-8".to_string())
    }
}

/// Stripe's webhook signature scheme: `t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`.
pub mod stripe_signature {
    use super::*;

    pub fn header(secret: &str, timestamp: i64, body: &[u8]) -> String {
        format!("t={timestamp},v1={}", sign(secret, timestamp, body))
    }

    fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
        let mut signed = timestamp.to_string().into_bytes();
        signed.push(b'.');
        signed.extend_from_slice(body);
        hmac_sha256_hex(secret.as_bytes(), &signed)
    }

    /// Checks the header against the body; `now` and `tolerance_secs` bound
    /// the timestamp both ways so a captured event cannot be replayed later.
    pub fn verify(
        secret: &str,
        header: &str,
        body: &[u8],
        now: i64,
        tolerance_secs: i64,
    ) -> Result<(), String> {
        let mut timestamp = None;
        let mut signatures = Vec::new();
        for part in header.split(',') {
            match part.trim().split_once('=') {
                Some(("t", v)) => timestamp = v.parse::<i64>().ok(),
                Some(("v1", v)) => signatures.push(v),
                _ => {}
            }
        }
        let timestamp = timestamp.ok_or("missing timestamp")?;
        if signatures.is_empty() {
            return Err("missing v1 signature".into());
        }
        if (now - timestamp).abs() > tolerance_secs {
            return Err("timestamp outside the tolerance".into());
        }
        let expected = sign(secret, timestamp, body);
        if signatures.iter().any(|s| constant_time_eq(s, &expected)) {
            Ok(())
        } else {
            Err("no matching signature".into())
        }
    }
}

impl Cipher {
    /// A stable secret derived from the encryption key for another purpose.
    pub fn derive_secret(&self, purpose: &str) -> String {
        // Encrypting is randomized, so derive from a fixed-nonce MAC instead.
        let tag = self
            .aead
            .encrypt(Nonce::from_slice(&[0u8; 12]), purpose.as_bytes())
            .expect("AES-GCM encryption does not fail for in-memory data");
        sha256_hex(&tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cipher_round_trips_and_hides_the_plaintext() {
        let cipher = Cipher::from_encoded_key(&Cipher::generate_key_hex()).unwrap();
        let stored = cipher.encrypt("000123456789");
        assert!(!stored.contains("000123456789"));
        assert_ne!(
            stored,
            cipher.encrypt("000123456789"),
            "fresh nonce each time"
        );
        assert_eq!(cipher.decrypt(&stored).unwrap(), "000123456789");
        let other = Cipher::from_encoded_key(&Cipher::generate_key_hex()).unwrap();
        assert!(other.decrypt(&stored).is_err());
    }

    #[test]
    fn bad_keys_are_refused() {
        assert!(Cipher::from_encoded_key("abcd").is_err());
        assert!(Cipher::from_encoded_key("zz").is_err());
    }

    #[test]
    fn stripe_signature_verifies_and_rejects() {
        let body = br#"{"id":"evt_1"}"#;
        let header = stripe_signature::header("whsec", 1_000, body);
        assert!(stripe_signature::verify("whsec", &header, body, 1_100, 300).is_ok());
        // wrong secret, tampered body, stale, from the future, garbage
        assert!(stripe_signature::verify("other", &header, body, 1_100, 300).is_err());
        assert!(stripe_signature::verify("whsec", &header, b"{}", 1_100, 300).is_err());
        assert!(stripe_signature::verify("whsec", &header, body, 1_301, 300).is_err());
        assert!(stripe_signature::verify("whsec", &header, body, 699, 300).is_err());
        assert!(stripe_signature::verify("whsec", "v1=abc", body, 1_000, 300).is_err());
        assert!(stripe_signature::verify("whsec", "t=1000", body, 1_000, 300).is_err());
    }
}
