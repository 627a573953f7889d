//! Double-entry postings. Each movement of money is a set of legs over the
//! organization's ledger accounts that sums to zero; `external` stands for
//! the world outside the service (money credited in is taken from it).
pub use entity::states::{LedgerAccount as Account, LedgerKind};

use super::payout_status::PayoutStatus;

/// One leg: a signed amount on one account.
pub type Leg = (Account, i64);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    pub kind: LedgerKind,
    pub legs: Vec<Leg>,
}

impl Posting {
    /// Whether it makes money available (a credit, a release, a payout's
    /// amount given back): the organization is told (`payout.available`).
    pub fn returns_funds(&self) -> bool {
        self.legs
            .iter()
            .any(|(account, amount)| *account == Account::Available && *amount > 0)
    }

    /// Whether this posting may drive `available` below zero: debits and
    /// holds record money the organization owes (a refund, a dispute), so
    /// they apply in full and leave a debt that later credits repay first.
    /// Everything else (a payout above all) needs the money to be there.
    pub fn may_overdraw(&self) -> bool {
        matches!(self.kind, LedgerKind::Debit | LedgerKind::Hold)
    }

    pub fn is_balanced(&self) -> bool {
        self.legs
            .iter()
            .map(|(_, amount)| *amount as i128)
            .sum::<i128>()
            == 0
    }
}

/// Funds arriving from outside, into `pending` or straight to `available`.
pub fn credit(amount: i64, pending: bool) -> Posting {
    let to = if pending {
        Account::Pending
    } else {
        Account::Available
    };
    Posting {
        kind: LedgerKind::Credit,
        legs: vec![(Account::External, -amount), (to, amount)],
    }
}

/// Pending funds become available.
pub fn release(amount: i64) -> Posting {
    Posting {
        kind: LedgerKind::Release,
        legs: vec![(Account::Pending, -amount), (Account::Available, amount)],
    }
}

/// Money taken from available (a refund, an adjustment); may overdraw.
pub fn debit(amount: i64) -> Posting {
    Posting {
        kind: LedgerKind::Debit,
        legs: vec![(Account::Available, -amount), (Account::External, amount)],
    }
}

/// Money moved from available to held (a dispute, a review); may overdraw.
pub fn hold(amount: i64) -> Posting {
    Posting {
        kind: LedgerKind::Hold,
        legs: vec![(Account::Available, -amount), (Account::Held, amount)],
    }
}

/// A hold given back to available.
pub fn hold_release(amount: i64) -> Posting {
    Posting {
        kind: LedgerKind::HoldRelease,
        legs: vec![(Account::Held, -amount), (Account::Available, amount)],
    }
}

/// A hold taken for good (a lost dispute): the money leaves the service.
pub fn hold_capture(amount: i64) -> Posting {
    Posting {
        kind: LedgerKind::HoldCapture,
        legs: vec![(Account::Held, -amount), (Account::External, amount)],
    }
}

/// A payout request reserves its whole amount.
pub fn payout_reserve(amount: i64) -> Posting {
    Posting {
        kind: LedgerKind::Payout,
        legs: vec![(Account::Available, -amount), (Account::InPayout, amount)],
    }
}

/// The ledger effect of a payout moving `from → to` (a move the state
/// machine allowed), or `None` when the money does not move.
pub fn payout_transition(
    from: PayoutStatus,
    to: PayoutStatus,
    amount: i64,
    fee: i64,
) -> Option<Posting> {
    use PayoutStatus::*;
    let net = amount - fee;
    match (from, to) {
        // Still reserved, only the provider's progress changed.
        (Pending, InTransit) => None,
        (Pending | InTransit, Paid) => Some(Posting {
            kind: LedgerKind::PayoutPaid,
            legs: vec![
                (Account::InPayout, -amount),
                (Account::PaidOut, net),
                (Account::Fees, fee),
            ],
        }),
        (Pending | InTransit, Failed | Canceled) => Some(Posting {
            kind: if to == Failed {
                LedgerKind::PayoutFailed
            } else {
                LedgerKind::PayoutCanceled
            },
            legs: vec![(Account::InPayout, -amount), (Account::Available, amount)],
        }),
        // The bank returned a payout already reported paid: fee refunded too.
        (Paid, Failed) => Some(Posting {
            kind: LedgerKind::PayoutReturned,
            legs: vec![
                (Account::PaidOut, -net),
                (Account::Fees, -fee),
                (Account::Available, amount),
            ],
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::payout_status::{PayoutLifecycle, Transition};

    #[test]
    fn every_posting_balances() {
        assert!(credit(500, true).is_balanced());
        assert!(credit(500, false).is_balanced());
        assert!(release(500).is_balanced());
        assert!(payout_reserve(1000).is_balanced());
        for posting in [debit(700), hold(700), hold_release(700), hold_capture(700)] {
            assert!(posting.is_balanced(), "{posting:?}");
        }
        assert!(debit(1).may_overdraw() && hold(1).may_overdraw());
        assert!(!payout_reserve(1).may_overdraw() && !hold_release(1).may_overdraw());
        for from in PayoutStatus::ALL {
            for to in PayoutStatus::ALL {
                if let Some(posting) = payout_transition(from, to, 1000, 28) {
                    assert!(posting.is_balanced(), "{from} -> {to}");
                }
            }
        }
    }

    /// Walking any allowed path from `pending`, the reservation is released
    /// exactly once and ends where the final status says.
    #[test]
    fn payout_paths_end_in_the_right_accounts() {
        use PayoutStatus::*;
        let paths: &[&[PayoutStatus]] = &[
            &[Pending, InTransit, Paid],
            &[Pending, Paid],
            &[Pending, InTransit, Failed],
            &[Pending, Failed],
            &[Pending, Canceled],
            &[Pending, InTransit, Paid, Failed],
            &[Pending, Paid, Failed],
        ];
        for path in paths {
            let mut totals = std::collections::HashMap::<Account, i64>::new();
            for (account, amount) in payout_reserve(1000).legs {
                *totals.entry(account).or_default() += amount;
            }
            for step in path.windows(2) {
                assert_eq!(step[0].transition(step[1]), Transition::Move);
                if let Some(posting) = payout_transition(step[0], step[1], 1000, 28) {
                    for (account, amount) in posting.legs {
                        *totals.entry(account).or_default() += amount;
                    }
                }
            }
            let get = |a| totals.get(&a).copied().unwrap_or(0);
            assert_eq!(get(Account::InPayout), 0, "{path:?}");
            match path.last().unwrap() {
                Paid => {
                    assert_eq!(get(Account::Available), -1000);
                    assert_eq!(get(Account::PaidOut), 972);
                    assert_eq!(get(Account::Fees), 28);
                }
                _ => {
                    assert_eq!(get(Account::Available), 0, "{path:?}");
                    assert_eq!(get(Account::PaidOut), 0);
                    assert_eq!(get(Account::Fees), 0);
                }
            }
        }
    }
}
