//! Every payout provider this service runs, by name: the real provider
//! `PAYOUTS_PROVIDER` chose, if any, and the sandbox, always. Adding a
//! provider is its module beside this one, its `ProviderChoice` (config)
//! and one line in `chosen`; services only ever see the trait.
use std::sync::Arc;

use entity::states::OrgMode;

use super::{instrumented::Instrumented, stripe::StripeProvider, PayoutProvider};
use crate::{config::ProviderChoice, metrics::Metrics};

/// The real provider `PAYOUTS_PROVIDER` chose: one line per provider.
fn chosen(choice: &ProviderChoice) -> Option<Arc<dyn PayoutProvider>> {
    match choice {
        ProviderChoice::Sandbox => None,
        ProviderChoice::Stripe(config) => Some(Arc::new(StripeProvider::new(config.clone()))),
    }
}

pub struct Providers {
    /// Each behind metrics and logging, in order of preference for a new
    /// account (`default_for`): the chosen real provider before the sandbox.
    all: Vec<Arc<dyn PayoutProvider>>,
}

impl Providers {
    /// `sandbox` is the sandbox as operations should use it (tests wrap it).
    pub fn new(
        sandbox: Arc<dyn PayoutProvider>,
        choice: &ProviderChoice,
        metrics: &Arc<Metrics>,
    ) -> Self {
        let all = chosen(choice)
            .into_iter()
            .chain([sandbox])
            .map(|provider| {
                Arc::new(Instrumented::new(provider, metrics.clone())) as Arc<dyn PayoutProvider>
            })
            .collect();
        Self { all }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn PayoutProvider>> {
        self.all.iter()
    }

    /// The provider of this name, whatever organizations it serves (its
    /// webhooks arrive either way).
    pub fn named(&self, name: &str) -> Option<Arc<dyn PayoutProvider>> {
        self.all.iter().find(|p| p.name() == name).cloned()
    }

    /// The provider of this name if it may serve organizations of `mode`.
    pub fn in_mode(&self, name: &str, mode: OrgMode) -> Option<Arc<dyn PayoutProvider>> {
        self.named(name).filter(|p| p.mode() == mode)
    }

    /// Where a new account of this mode goes: the chosen real provider if it
    /// serves this mode, else the sandbox for sandbox organizations; a live
    /// organization never gets the sandbox.
    pub fn default_for(&self, mode: OrgMode) -> Option<Arc<dyn PayoutProvider>> {
        self.all.iter().find(|p| p.mode() == mode).cloned()
    }

    /// Whether payouts of the provider `name` are two objects there (see
    /// `PayoutProvider::two_step`). A provider not configured now counts as
    /// two-step: nothing is taken as complete, or its money as home, on a
    /// guess.
    pub fn two_step(&self, name: &str) -> bool {
        self.named(name).is_none_or(|p| p.two_step())
    }

    /// The configured providers whose payouts are two objects.
    pub fn two_step_names(&self) -> Vec<&'static str> {
        self.all
            .iter()
            .filter(|p| p.two_step())
            .map(|p| p.name())
            .collect()
    }
}
