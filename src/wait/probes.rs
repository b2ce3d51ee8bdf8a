//! The run's targets as the wait makes attempts at them: each target's
//! [`Check`](crate::probe::Check) with the probes' shared context.

use super::{Attempt, Targets};
use crate::probe::{Ctx, ProbeError};
use crate::target::Target;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// Parsed targets and what their probes share.
pub struct Probes {
    targets: Vec<Target>,
    ctx: Arc<Ctx>,
}

impl Probes {
    /// The targets to wait for, probed with `ctx`.
    pub fn new(targets: Vec<Target>, ctx: Arc<Ctx>) -> Probes {
        Probes { targets, ctx }
    }
}

impl Targets for Probes {
    fn count(&self) -> usize {
        self.targets.len()
    }
    fn attempt_now(&self, i: usize) -> Option<Result<(), ProbeError>> {
        self.targets[i].check.attempt_now()
    }
    fn probe(&self, i: usize) -> Attempt {
        let (check, ctx) = (self.targets[i].check.clone(), self.ctx.clone());
        Box::pin(async move { check.probe(&ctx).await })
    }
    fn changed(&self, i: usize) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let check = self.targets[i].check.clone();
        Box::pin(async move { check.changed().await })
    }
    fn requests(&self, i: usize) -> Option<u64> {
        self.targets[i].check.requests()
    }
    fn silence_is_gone(&self, i: usize) -> bool {
        self.targets[i].check.silence_is_gone()
    }
}
