pub use sea_orm_migration::prelude::*;

mod m20261125_000001_init;
mod m20261125_000002_immutable_ledger;
mod m20261126_000001_ledger_no_truncate;
mod m20261126_000003_verification_claims;
mod m20261127_000001_job_dead;
mod m20261128_100001_webhooks;
mod m20261128_200001_payout_cancel_bank_delete;
mod m20261128_300001_stripe;
mod m20261128_400001_org_api_version;
mod m20261128_500001_operator_funds;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_init::Migration),
            Box::new(m20261125_000002_immutable_ledger::Migration),
            Box::new(m20261126_000001_ledger_no_truncate::Migration),
            Box::new(m20261126_000003_verification_claims::Migration),
            Box::new(m20261127_000001_job_dead::Migration),
            Box::new(m20261128_100001_webhooks::Migration),
            Box::new(m20261128_200001_payout_cancel_bank_delete::Migration),
            Box::new(m20261128_300001_stripe::Migration),
            Box::new(m20261128_400001_org_api_version::Migration),
            Box::new(m20261128_500001_operator_funds::Migration),
        ]
    }
}
