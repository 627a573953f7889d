//! The payout account's verification status, as the provider reports it.
use std::{fmt, str::FromStr};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    PendingVerification,
    Verified,
    Restricted,
    Disabled,
}

impl AccountStatus {
    pub const ALL: [AccountStatus; 4] = [
        Self::PendingVerification,
        Self::Verified,
        Self::Restricted,
        Self::Disabled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingVerification => "pending_verification",
            Self::Verified => "verified",
            Self::Restricted => "restricted",
            Self::Disabled => "disabled",
        }
    }

    /// Only a verified account can receive transfers.
    pub fn transfers_enabled(self) -> bool {
        self == Self::Verified
    }

    /// The provider can verify, restrict, re-verify or disable an account;
    /// nothing goes back to `pending_verification`, and `disabled` is final.
    pub fn can_move_to(self, to: AccountStatus) -> bool {
        use AccountStatus::*;
        match (self, to) {
            (_, PendingVerification) => false,
            (Disabled, _) => false,
            (from, to) => from != to,
        }
    }
}

impl fmt::Display for AccountStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AccountStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| format!("unknown account status {s:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::{AccountStatus::*, *};

    #[test]
    fn every_pair_of_statuses() {
        let allowed = [
            (PendingVerification, Verified),
            (PendingVerification, Restricted),
            (PendingVerification, Disabled),
            (Verified, Restricted),
            (Verified, Disabled),
            (Restricted, Verified),
            (Restricted, Disabled),
        ];
        for from in AccountStatus::ALL {
            for to in AccountStatus::ALL {
                assert_eq!(
                    from.can_move_to(to),
                    allowed.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
    }

    #[test]
    fn only_verified_accounts_take_transfers() {
        for status in AccountStatus::ALL {
            assert_eq!(status.transfers_enabled(), status == Verified);
            assert_eq!(status.as_str().parse::<AccountStatus>(), Ok(status));
        }
    }
}
