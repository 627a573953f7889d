//! The payout lifecycle. Provider events may arrive twice or out of order;
//! this decides which of them still move a payout.
pub use entity::states::PayoutStatus;

/// What applying an event to a payout does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Move to the new status.
    Move,
    /// Already there (a duplicate): nothing to do.
    Same,
    /// Not allowed from here (stale or out of order): ignored.
    Refused,
}

/// The lifecycle rules on the stored status type.
pub trait PayoutLifecycle: Copy {
    /// `failed` and `canceled` never change again.
    fn is_final(self) -> bool;
    /// Forward moves only: `pending → in_transit → paid | failed`,
    /// `pending → canceled`, and `paid → failed` (a bank returned the money).
    /// Skipping a step (`pending → paid`) is a forward move: the
    /// `in_transit` event may simply arrive late, and is then refused.
    fn transition(self, to: PayoutStatus) -> Transition;
    /// True while the amount is still reserved in `in_payout`.
    fn holds_reservation(self) -> bool;
    /// Every status that `holds_reservation`, for queries.
    fn holding_reservation() -> Vec<PayoutStatus>;
    /// Whether the organization may cancel the payout: only while it is
    /// `pending` and its submission to the provider has not started (once
    /// it has, the provider may have it, even if no answer came back).
    fn cancel(self, submission: Submission) -> Result<(), NotCancelable>;
}

/// How far a payout's submission to the provider got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submission {
    /// The service has not begun sending it: the provider cannot have it.
    NotStarted,
    /// The service began sending it (the provider may have it), or the
    /// provider accepted it (it has a transfer id).
    Started,
}

/// Why a payout cannot be canceled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotCancelable {
    /// Not `pending` any more (or canceled already).
    Status(PayoutStatus),
    /// Pending, but already sent to the provider.
    Submitted,
}

impl std::fmt::Display for NotCancelable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotCancelable::Status(status) => write!(
                f,
                "the payout is {status}; only a pending payout can be canceled"
            ),
            NotCancelable::Submitted => f.write_str(
                "the payout was already sent to the payout provider; it can no longer be canceled",
            ),
        }
    }
}

impl PayoutLifecycle for PayoutStatus {
    fn is_final(self) -> bool {
        matches!(self, Self::Failed | Self::Canceled)
    }

    fn transition(self, to: PayoutStatus) -> Transition {
        use PayoutStatus::*;
        if self == to {
            return Transition::Same;
        }
        match (self, to) {
            (Pending, InTransit | Paid | Failed | Canceled)
            | (InTransit, Paid | Failed)
            | (Paid, Failed) => Transition::Move,
            _ => Transition::Refused,
        }
    }

    fn holds_reservation(self) -> bool {
        matches!(self, Self::Pending | Self::InTransit)
    }

    fn holding_reservation() -> Vec<PayoutStatus> {
        Self::ALL
            .into_iter()
            .filter(|status| status.holds_reservation())
            .collect()
    }

    fn cancel(self, submission: Submission) -> Result<(), NotCancelable> {
        if self.transition(PayoutStatus::Canceled) != Transition::Move {
            return Err(NotCancelable::Status(self));
        }
        match submission {
            Submission::NotStarted => Ok(()),
            Submission::Started => Err(NotCancelable::Submitted),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{PayoutStatus::*, *};

    #[test]
    fn every_pair_of_statuses() {
        let allowed = [
            (Pending, InTransit),
            (Pending, Paid),
            (Pending, Failed),
            (Pending, Canceled),
            (InTransit, Paid),
            (InTransit, Failed),
            (Paid, Failed),
        ];
        for from in PayoutStatus::ALL {
            for to in PayoutStatus::ALL {
                let expected = if from == to {
                    Transition::Same
                } else if allowed.contains(&(from, to)) {
                    Transition::Move
                } else {
                    Transition::Refused
                };
                assert_eq!(from.transition(to), expected, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn final_statuses_never_move() {
        for from in [Failed, Canceled] {
            assert!(from.is_final());
            for to in PayoutStatus::ALL.into_iter().filter(|to| *to != from) {
                assert_eq!(from.transition(to), Transition::Refused);
            }
        }
        assert!(!Paid.is_final(), "a paid payout can still be returned");
    }

    #[test]
    fn no_move_backwards_whatever_the_order() {
        assert_eq!(Paid.transition(InTransit), Transition::Refused);
        assert_eq!(Paid.transition(Pending), Transition::Refused);
        assert_eq!(InTransit.transition(Pending), Transition::Refused);
        assert_eq!(InTransit.transition(Canceled), Transition::Refused);
        assert_eq!(Paid.transition(Canceled), Transition::Refused);
    }

    /// Only a pending payout the provider cannot have is cancelable; every
    /// other status refuses, naming itself.
    #[test]
    fn only_an_unsubmitted_pending_payout_can_be_canceled() {
        for status in PayoutStatus::ALL {
            for submission in [Submission::NotStarted, Submission::Started] {
                let expected = match (status, submission) {
                    (Pending, Submission::NotStarted) => Ok(()),
                    (Pending, Submission::Started) => Err(NotCancelable::Submitted),
                    (other, _) => Err(NotCancelable::Status(other)),
                };
                assert_eq!(
                    status.cancel(submission),
                    expected,
                    "{status} {submission:?}"
                );
                if expected.is_ok() {
                    assert_eq!(status.transition(Canceled), Transition::Move);
                }
            }
        }
        assert_eq!(
            Canceled.cancel(Submission::NotStarted),
            Err(NotCancelable::Status(Canceled)),
            "a second cancel is refused, not repeated"
        );
    }

    #[test]
    fn pending_and_in_transit_hold_the_reservation() {
        assert_eq!(
            PayoutStatus::holding_reservation(),
            vec![Pending, InTransit]
        );
    }

    #[test]
    fn parses_its_wire_names() {
        for status in PayoutStatus::ALL {
            assert_eq!(status.as_str().parse::<PayoutStatus>(), Ok(status));
        }
        assert!("PAID".parse::<PayoutStatus>().is_err());
    }
}
