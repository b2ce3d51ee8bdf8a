//! From a target as written to what it waits for ([`What`]): its resource (one
//! whenready knows, [`super::builtin`], else found by API discovery,
//! [`super::discovery`]), which of its objects (a Service's EndpointSlices), and
//! the rule by which they count (the target's own `condition=` and `field=`, else
//! the resource's own; with `--reverse`, only that they exist). A target that
//! cannot be waited for as written is a permanent failure that says why.

use super::api::Client;
use super::builtin::{self, Builtin};
use super::discovery::Discovery;
use super::spec::{Select, Spec};
use super::what::{Expect, Rule, What};
use crate::probe::error::ProbeError;

/// What the target `spec` waits for: its resource (found by discovery unless it
/// is one whenready knows), which objects, and the rule. `None`: the server does
/// not know the resource (yet).
pub async fn resolve(
    spec: &Spec,
    client: &Client,
    discovery: &Discovery,
    reverse: bool,
) -> Result<Option<What>, ProbeError> {
    if reverse && (spec.expects() || spec.min.is_some()) {
        return Err(ProbeError::permanent(
            "with --reverse a k8s target waits until its objects are deleted: condition=, field= and min= do not apply",
        ));
    }
    let (resource, builtin) = match builtin::builtin(&spec.resource) {
        Some((r, b)) => (r, Some(b)),
        None => match discovery.resolve(client, &spec.resource).await? {
            Some(r) => (r, None),
            None => return Ok(None),
        },
    };
    if !resource.list {
        return Err(ProbeError::permanent(format!(
            "the API server cannot list {} (its verbs do not include \"list\")",
            resource.shown()
        )));
    }
    if !resource.namespaced && spec.namespace.is_some() {
        return Err(ProbeError::permanent(format!(
            "{} are cluster-scoped: write k8s://{}/… without a namespace",
            resource.shown(),
            spec.resource
        )));
    }
    let rule = if reverse {
        Rule::Exists
    } else if spec.expects() {
        Rule::Expect(Expect {
            condition: spec.condition.clone(),
            fields: spec
                .fields
                .iter()
                .map(|f| (f.clone(), f.tokens()))
                .collect(),
        })
    } else {
        match (builtin, &spec.select) {
            (Some(Builtin::Service), Select::Name(name)) => Rule::Service { name: name.clone() },
            (Some(Builtin::Pod), _) => Rule::Pod,
            (Some(Builtin::Job), _) => Rule::Job,
            (Some(Builtin::Deployment), _) => Rule::Deployment,
            (Some(Builtin::StatefulSet), _) => Rule::StatefulSet,
            (Some(Builtin::DaemonSet), _) => Rule::DaemonSet,
            _ => Rule::Exists,
        }
    };
    let (resource, select) = match &rule {
        Rule::Service { name } => (
            builtin::endpoint_slices(),
            Select::Labels(format!("kubernetes.io/service-name={name}")),
        ),
        _ => (resource, spec.select.clone()),
    };
    Ok(Some(What {
        resource,
        select,
        rule,
        min: spec.min.unwrap_or(1),
    }))
}
