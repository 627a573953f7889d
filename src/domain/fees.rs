//! The payout fee: a fixed part plus basis points of the amount, rounded up,
//! never more than the amount. `netAmount = amount − fee`.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FeeSchedule {
    pub fixed_cents: i64,
    /// 1 bp = 0.01 %.
    pub basis_points: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fee {
    pub fee: i64,
    pub net_amount: i64,
}

impl FeeSchedule {
    pub fn validate(&self) -> Result<(), String> {
        if self.fixed_cents < 0 {
            return Err("fixed fee must not be negative".into());
        }
        if !(0..=10_000).contains(&self.basis_points) {
            return Err("fee basis points must be between 0 and 10000".into());
        }
        Ok(())
    }

    pub fn apply(&self, amount: i64) -> Fee {
        debug_assert!(amount >= 0);
        // i128: amount × bp cannot overflow whatever the amount.
        let variable = (amount as i128 * self.basis_points as i128 + 9_999) / 10_000;
        let fee = (self.fixed_cents as i128 + variable).min(amount as i128) as i64;
        Fee {
            fee,
            net_amount: amount - fee,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_by_default() {
        let fee = FeeSchedule::default().apply(1000);
        assert_eq!(
            fee,
            Fee {
                fee: 0,
                net_amount: 1000
            }
        );
    }

    #[test]
    fn fixed_plus_percentage_rounded_up() {
        let schedule = FeeSchedule {
            fixed_cents: 25,
            basis_points: 25,
        };
        // 0.25 % of 1000 = 2.5 → 3, plus 25
        assert_eq!(
            schedule.apply(1000),
            Fee {
                fee: 28,
                net_amount: 972
            }
        );
        // 0.25 % of 4000 = 10 exactly
        assert_eq!(
            schedule.apply(4000),
            Fee {
                fee: 35,
                net_amount: 3965
            }
        );
    }

    #[test]
    fn net_is_amount_minus_fee_and_never_negative() {
        let schedule = FeeSchedule {
            fixed_cents: 5000,
            basis_points: 10_000,
        };
        for amount in [1000, 1001, 123_456, i64::MAX / 2] {
            let fee = schedule.apply(amount);
            assert_eq!(fee.fee + fee.net_amount, amount);
            assert!(fee.net_amount >= 0 && fee.fee <= amount);
        }
    }

    #[test]
    fn schedules_are_validated() {
        assert!(FeeSchedule {
            fixed_cents: -1,
            basis_points: 0
        }
        .validate()
        .is_err());
        assert!(FeeSchedule {
            fixed_cents: 0,
            basis_points: 10_001
        }
        .validate()
        .is_err());
        assert!(FeeSchedule {
            fixed_cents: 25,
            basis_points: 100
        }
        .validate()
        .is_ok());
    }
}
