//! The typed parts of Kubernetes objects that readiness reads, and what a target
//! keeps of each object.
//!
//! The built-in rules read a few typed fields ([`Object`]: a pod's phase and
//! conditions, a rollout's counts and revisions, an EndpointSlice's endpoints);
//! what a target keeps of an object is less ([`Object::keep`], [`Kept`]): a pod's
//! phase and Ready condition, an EndpointSlice's ready endpoints as keys, the
//! fields a rollout or Job rule reads, or, for a target's own `condition=` and
//! `field=`, the one condition of that type and the value at each pointer
//! ([`KeptExpect`]). What is kept is counted ([`Kept::cost`]) against the
//! target's budget ([`MAX_KEPT`]): about 150 bytes a ready pod.
//!
//! Sequences a peer could make long are bounded while they are parsed
//! ([`super::bounded`]): a rollout's conditions (64), an EndpointSlice's
//! endpoints (1000, the API's own maximum), an endpoint's addresses (the first is
//! kept); every text kept is capped. A list page or a watch event becomes these
//! objects in [`super::page`].

use super::bounded::{truncate, Bounded, First, Lenient, MAX_TEXT};
use super::what::{Rule, What};
use crate::probe::pointer::Leaf;
use serde::Deserialize;

/// The most a target keeps of the objects it watches (what [`Object::keep`]
/// leaves of them), about 25,000 pods or 60,000 ready endpoints: a selector that
/// matches more is a transient failure that says so.
pub const MAX_KEPT: usize = 4 << 20;

/// An object as the built-in rules see it: a Pod, Job, Deployment, StatefulSet,
/// DaemonSet or EndpointSlice (only the fields of its kind are there).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Object {
    /// Name, resourceVersion, generation.
    pub metadata: Meta,
    /// What the object asks for.
    pub spec: Spec,
    /// What it has; absent for a `Status` (whose `status` is a string).
    pub status: Lenient<Status>,
    /// An EndpointSlice's endpoints.
    pub endpoints: Bounded<Endpoint, 1000>,
}

/// `metadata`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Meta {
    /// The object's name.
    pub name: Option<String>,
    /// Its resourceVersion.
    pub resource_version: Option<String>,
    /// Its generation.
    pub generation: Option<i64>,
}

/// `spec`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Spec {
    /// Replicas wanted (Deployment, StatefulSet).
    pub replicas: Option<i64>,
    /// The update strategy (StatefulSet, DaemonSet).
    pub update_strategy: Option<Strategy>,
}

/// `spec.updateStrategy`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Strategy {
    /// `RollingUpdate`, `OnDelete`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Present (even empty) for a rolling update with settings.
    pub rolling_update: Option<RollingUpdate>,
}

/// `spec.updateStrategy.rollingUpdate`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RollingUpdate {
    /// A StatefulSet's partition.
    pub partition: Option<i64>,
}

/// `status`: the fields of every kind readiness reads.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Status {
    /// A Pod's phase.
    pub phase: Option<String>,
    /// Conditions (Pod Ready, Job Complete/Failed, Deployment Progressing).
    pub conditions: Bounded<Condition, 64>,
    /// Job: active pods.
    pub active: Option<i64>,
    /// Job: succeeded pods.
    pub succeeded: Option<i64>,
    /// Job: failed pods.
    pub failed: Option<i64>,
    /// The generation the controller has seen.
    pub observed_generation: Option<i64>,
    /// Deployment: replicas.
    pub replicas: Option<i64>,
    /// Deployment, StatefulSet: updated replicas.
    pub updated_replicas: Option<i64>,
    /// Deployment: available replicas.
    pub available_replicas: Option<i64>,
    /// StatefulSet: ready replicas.
    pub ready_replicas: Option<i64>,
    /// StatefulSet: current revision.
    pub current_revision: Option<String>,
    /// StatefulSet: update revision.
    pub update_revision: Option<String>,
    /// DaemonSet: pods that should run.
    pub desired_number_scheduled: Option<i64>,
    /// DaemonSet: pods updated.
    pub updated_number_scheduled: Option<i64>,
    /// DaemonSet: pods available.
    pub number_available: Option<i64>,
}

/// One of `status.conditions`.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(default)]
pub struct Condition {
    /// `Ready`, `Complete`, ...
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// `True`, `False`, `Unknown`.
    pub status: Option<String>,
    /// A CamelCase reason.
    pub reason: Option<String>,
    /// A sentence.
    pub message: Option<String>,
}

/// One of an EndpointSlice's `endpoints`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Endpoint {
    /// The first of its addresses.
    pub addresses: First,
    /// `conditions.ready`: absent (null) means ready.
    pub conditions: EndpointConditions,
    /// The pod behind it.
    pub target_ref: Option<TargetRef>,
}

/// An endpoint's `conditions`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EndpointConditions {
    /// Ready, or not; `None`: ready (the API's rule for nil).
    pub ready: Option<bool>,
}

/// An endpoint's `targetRef`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TargetRef {
    /// The pod's uid.
    pub uid: Option<String>,
}

impl Object {
    /// The object's name (empty when it has none).
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or("")
    }

    /// `status`, or an empty one.
    pub fn status(&self) -> &Status {
        static EMPTY: Status = Status {
            phase: None,
            conditions: Bounded(Vec::new()),
            active: None,
            succeeded: None,
            failed: None,
            observed_generation: None,
            replicas: None,
            updated_replicas: None,
            available_replicas: None,
            ready_replicas: None,
            current_revision: None,
            update_revision: None,
            desired_number_scheduled: None,
            updated_number_scheduled: None,
            number_available: None,
        };
        self.status.0.as_ref().unwrap_or(&EMPTY)
    }

    /// The condition of type `kind`.
    pub fn condition(&self, kind: &str) -> Option<&Condition> {
        self.status()
            .conditions
            .0
            .iter()
            .find(|c| c.kind.as_deref() == Some(kind))
    }

    /// What `what` keeps of this object: a pod's phase and Ready condition, an
    /// EndpointSlice's ready endpoints (the uid of the pod behind each, else its
    /// first address), else the object with only the conditions its rules read
    /// (texts capped).
    pub fn keep(mut self, what: &What) -> Kept {
        match what.rule {
            Rule::Pod => Kept::Pod {
                phase: self
                    .status
                    .0
                    .as_mut()
                    .and_then(|s| s.phase.take())
                    .map(String::into_boxed_str),
                ready: self.condition("Ready").map(|c| Cond {
                    is_true: c.status.as_deref() == Some("True"),
                    why: c.reason_message().map(|mut w| {
                        truncate(&mut w, MAX_TEXT);
                        w.into_boxed_str()
                    }),
                }),
            },
            Rule::Service { .. } => Kept::Slice(
                std::mem::take(&mut self.endpoints.0)
                    .into_iter()
                    .filter(|e| e.conditions.ready != Some(false))
                    .filter_map(|e| e.target_ref.and_then(|t| t.uid).or(e.addresses.0))
                    .map(String::into_boxed_str)
                    .collect(),
            ),
            _ => {
                let wanted = what.conditions();
                if let Some(status) = self.status.0.as_mut() {
                    status.conditions.0.retain_mut(|c| {
                        for text in [&mut c.reason, &mut c.message].into_iter().flatten() {
                            truncate(text, MAX_TEXT);
                        }
                        c.kind.as_deref().is_some_and(|k| wanted.contains(&k))
                    });
                }
                self.endpoints = Bounded::default();
                self.metadata.resource_version = None;
                Kept::Whole(Box::new(self))
            }
        }
    }

    /// About what this object takes in memory (strings and the conditions kept
    /// included), in bytes.
    fn cost(&self) -> usize {
        let text = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        let status = self.status.0.as_ref().map_or(0, |s| {
            text(&s.phase)
                + text(&s.current_revision)
                + text(&s.update_revision)
                + s.conditions
                    .0
                    .iter()
                    .map(|c| {
                        std::mem::size_of::<Condition>()
                            + text(&c.kind)
                            + text(&c.status)
                            + text(&c.reason)
                            + text(&c.message)
                    })
                    .sum::<usize>()
        });
        std::mem::size_of::<Object>() + self.name().len() + status
    }
}

impl Condition {
    /// `Reason: message`, or whichever of them is there.
    pub fn reason_message(&self) -> Option<String> {
        let reason = self.reason.as_deref().unwrap_or("");
        let message = self.message.as_deref().unwrap_or("");
        match (reason.is_empty(), message.is_empty()) {
            (false, false) => Some(format!("{reason}: {message}")),
            (false, true) => Some(reason.to_string()),
            (true, false) => Some(message.to_string()),
            (true, true) => None,
        }
    }
}

/// What a target keeps of an object ([`Object::keep`]).
#[derive(Debug)]
pub enum Kept {
    /// A pod: its phase and its Ready condition.
    Pod {
        /// `status.phase`.
        phase: Option<Box<str>>,
        /// The Ready condition.
        ready: Option<Cond>,
    },
    /// An EndpointSlice: the keys of its ready endpoints.
    Slice(Box<[Box<str>]>),
    /// One object a rollout or Job rule reads, cut down.
    Whole(Box<Object>),
    /// What a target's own condition and fields read (nothing for a target that
    /// waits for an object to exist).
    Expect(KeptExpect),
}

/// What `condition=` and `field=` read of an object.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct KeptExpect {
    /// The condition of the type wanted, if the object has one.
    pub condition: Option<KeptCond>,
    /// The value at each `field=` pointer (`None`: the pointer leads nowhere).
    pub fields: Box<[Option<Leaf>]>,
}

/// A condition as `condition=` keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptCond {
    /// Its status (capped).
    pub status: Box<str>,
    /// `Reason: message` (capped), if it gives either.
    pub why: Option<Box<str>>,
    /// `(observed, generation)` when it is for an older generation than the
    /// object's.
    pub stale: Option<(i64, i64)>,
}

/// A condition as a pod's is kept: whether it holds, and why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cond {
    /// Its status is `True`.
    pub is_true: bool,
    /// `Reason: message` (capped), if it gives either.
    pub why: Option<Box<str>>,
}

impl Kept {
    /// About what this takes in memory, in bytes, with its name as the key of the
    /// map of objects and that map's share of a node.
    pub fn cost(&self, name: &str) -> usize {
        let own = match self {
            Kept::Pod { phase, ready } => {
                phase.as_ref().map_or(0, |p| p.len())
                    + ready
                        .as_ref()
                        .and_then(|c| c.why.as_ref())
                        .map_or(0, |w| w.len())
            }
            Kept::Slice(keys) => keys
                .iter()
                .map(|k| std::mem::size_of::<Box<str>>() + k.len())
                .sum(),
            Kept::Whole(o) => o.cost(),
            Kept::Expect(e) => {
                e.condition.as_ref().map_or(0, |c| {
                    std::mem::size_of::<KeptCond>()
                        + c.status.len()
                        + c.why.as_ref().map_or(0, |w| w.len())
                }) + e
                    .fields
                    .iter()
                    .map(|f| std::mem::size_of::<Option<Leaf>>() + f.as_ref().map_or(0, Leaf::heap))
                    .sum::<usize>()
            }
        };
        std::mem::size_of::<Kept>() + std::mem::size_of::<String>() + name.len() + own + 48
    }
}
