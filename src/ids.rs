//! Opaque, prefixed, random identifiers (`po_…`, `pba_…`) and API keys.
use rand::{distributions::Alphanumeric, Rng};

fn random(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// A new id of the given type prefix, e.g. `new_id("po")` → `po_3kT…` (24
/// random alphanumerics: ~142 bits, never sequential).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", random(24))
}

/// A new secret API key for a live or sandbox organization.
pub fn new_api_key(live: bool) -> String {
    let mode = if live { "live" } else { "test" };
    format!("ck_{mode}_{}", random(40))
}

/// The part of a key shown in listings and logs: its mode and 4 characters.
pub fn api_key_prefix(key: &str) -> String {
    key.chars().take(12).collect()
}

pub fn looks_like_api_key(key: &str) -> bool {
    (key.starts_with("ck_live_") || key.starts_with("ck_test_"))
        && key.len() <= 200
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_and_distinct() {
        let a = new_id("po");
        let b = new_id("po");
        assert!(a.starts_with("po_") && a.len() == 27);
        assert_ne!(a, b);
    }

    #[test]
    fn api_keys_carry_their_mode() {
        assert!(new_api_key(true).starts_with("ck_live_"));
        let key = new_api_key(false);
        assert!(key.starts_with("ck_test_"));
        assert!(looks_like_api_key(&key));
        assert_eq!(api_key_prefix(&key).len(), 12);
        assert!(!looks_like_api_key("ck_test_a b"));
        assert!(!looks_like_api_key("sk_test_abc"));
    }
}
