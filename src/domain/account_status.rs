//! The payout account's verification status, as the provider reports it.
pub use entity::states::AccountStatus;

/// The verification rules on the stored status type.
pub trait AccountLifecycle: Copy {
    /// Only a verified account can receive transfers.
    fn transfers_enabled(self) -> bool;
    /// The provider can verify, restrict, re-verify or disable an account;
    /// nothing goes back to `pending_verification`, and `disabled` is final.
    fn can_move_to(self, to: AccountStatus) -> bool;
}

impl AccountLifecycle for AccountStatus {
    fn transfers_enabled(self) -> bool {
        self == Self::Verified
    }

    fn can_move_to(self, to: AccountStatus) -> bool {
        use AccountStatus::*;
        match (self, to) {
            (_, PendingVerification) => false,
            (Disabled, _) => false,
            (from, to) => from != to,
        }
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
