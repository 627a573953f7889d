//! Where the two APIs are mounted. A leaf: the middleware (`auth`,
//! `idempotency`, `versions`) and the spec read these without importing
//! the modules that import them.

/// Where the operations are mounted: the spec's server URL.
pub const API_BASE: &str = "/api/v1";
/// Where the operator API's operations are mounted (its own document).
pub const OPERATOR_BASE: &str = "/operator/v1";
