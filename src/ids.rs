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

/// Longest random part an id of ours may have (we issue 24).
const MAX_ID_BODY: usize = 64;

/// Whether `raw` can be an id this service issued with `prefix`
/// (`po_` + ASCII alphanumerics). Anything else names nothing, so callers
/// answer "not found" (or refuse the parameter) without asking the
/// database, and bytes a database refuses (NUL) never reach it.
pub fn is_own_id(prefix: &str, raw: &str) -> bool {
    raw.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|body| {
            (1..=MAX_ID_BODY).contains(&body.len())
                && body.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

/// Whether `raw` is acceptable as an id issued by someone else (a payout
/// provider's `acct_…`, `tr_…`, `evt_…`): 1 to 255 printable ASCII
/// characters without spaces. Providers' ids are opaque, so this is only
/// what can be stored and compared the same way on every engine.
pub fn is_external_id(raw: &str) -> bool {
    (1..=255).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic())
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

    #[test]
    fn own_ids_are_checked_before_any_lookup() {
        let id = new_id("po");
        assert!(is_own_id("po", &id));
        assert!(!is_own_id("pba", &id));
        for bad in ["po_", "po", "po_\0x", "po_a b", "po_é", "xpo_abc", "po_a/b"] {
            assert!(!is_own_id("po", bad), "{bad:?}");
        }
        assert!(!is_own_id("po", &format!("po_{}", "a".repeat(65))));
    }

    #[test]
    fn external_ids_are_printable_ascii() {
        assert!(is_external_id("acct_1Nv0FGQ9RKHgCVdK"));
        assert!(is_external_id("evt_verify_org-1.2"));
        for bad in ["", "a\0b", "a b", "é", "a\nb"] {
            assert!(!is_external_id(bad), "{bad:?}");
        }
        assert!(!is_external_id(&"a".repeat(256)));
    }
}
