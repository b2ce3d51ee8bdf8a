//! What a Kubernetes target waits for, once its resource is known: the resource as
//! the API server serves it, which of its objects, and the rule by which they
//! count. Plain data, read by the listing ([`super::api`]), by what is kept of each
//! object ([`super::object`]) and by the judging ([`super::ready`]).

use super::spec::{CondWant, Select};
use crate::probe::pointer::JsonExpectation;

/// A resource as the API server serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// The API group (`""` for the core group).
    pub group: String,
    /// The version (`v1`).
    pub version: String,
    /// The plural (`certificates`): the path's last segment.
    pub plural: String,
    /// The singular (`certificate`), for messages.
    pub singular: String,
    /// Namespaced (else cluster-scoped).
    pub namespaced: bool,
    /// The server lists it.
    pub list: bool,
    /// The server watches it.
    pub watch: bool,
}

impl Resource {
    /// `/api/v1` or `/apis/GROUP/VERSION`.
    pub fn prefix(&self) -> String {
        if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        }
    }

    /// The path of its collection: in namespace `ns` when it is namespaced.
    pub fn collection(&self, ns: &str) -> String {
        if self.namespaced {
            format!("{}/namespaces/{ns}/{}", self.prefix(), self.plural)
        } else {
            format!("{}/{}", self.prefix(), self.plural)
        }
    }

    /// `certificates.cert-manager.io`, `pods`: as kubectl names it.
    pub fn shown(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
}

/// What a target waits for, once its resource is known: what is listed and
/// watched, which of its objects, and when they count.
#[derive(Debug, Clone, PartialEq)]
pub struct What {
    /// The resource listed and watched (EndpointSlices for a Service's endpoints).
    pub resource: Resource,
    /// Which of its objects.
    pub select: Select,
    /// When they count.
    pub rule: Rule,
    /// How many must (a selector's objects; a Service's ready endpoints).
    pub min: u64,
}

/// When an object counts.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// A Service's EndpointSlices hold at least `min` ready endpoints.
    Service {
        /// The Service's name.
        name: String,
    },
    /// Condition Complete=True (Failed=True is permanent).
    Job,
    /// Rolled out.
    Deployment,
    /// Rolled out.
    StatefulSet,
    /// Rolled out.
    DaemonSet,
    /// Ready=True; under a selector, finished pods are not counted.
    Pod,
    /// It exists (`--reverse`: until it does not).
    Exists,
    /// The target's own condition and fields.
    Expect(Expect),
}

/// `condition=` and `field=`.
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    /// The condition wanted.
    pub condition: Option<CondWant>,
    /// The fields wanted, with their pointers' tokens.
    pub fields: Vec<(JsonExpectation, Vec<String>)>,
}

impl What {
    /// The API path of the collection listed (in `ns` when it is namespaced).
    pub fn collection(&self, ns: &str) -> String {
        self.resource.collection(ns)
    }

    /// The selector that narrows the collection to what the target is about:
    /// `("fieldSelector", "metadata.name=NAME")` or a label selector.
    pub fn selector(&self) -> (&'static str, String) {
        match &self.select {
            Select::Name(n) => ("fieldSelector", format!("metadata.name={n}")),
            Select::Labels(l) => ("labelSelector", l.clone()),
        }
    }

    /// The condition types a rollout or Job rule reads (the others are not kept).
    pub fn conditions(&self) -> &'static [&'static str] {
        match self.rule {
            Rule::Job => &["Failed", "Complete"],
            Rule::Deployment => &["Progressing"],
            Rule::Pod => &["Ready"],
            _ => &[],
        }
    }

    /// How messages name one object of it: `pod`, `daemon set`, `certificate`.
    pub fn word(&self) -> &str {
        match self.rule {
            Rule::Service { .. } => "service",
            Rule::Job => "job",
            Rule::Deployment => "deployment",
            Rule::StatefulSet => "statefulset",
            Rule::DaemonSet => "daemon set",
            Rule::Pod => "pod",
            Rule::Exists | Rule::Expect(_) => &self.resource.singular,
        }
    }
}
