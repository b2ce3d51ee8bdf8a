//! The resources whose readiness whenready knows (pods, services, jobs,
//! deployments, statefulsets, daemonsets), by any of their names, without API
//! discovery; and EndpointSlices, which a Service's readiness reads.

use super::spec::ResourceName;
#[cfg(test)]
use super::spec::Select;
use super::what::Resource;
#[cfg(test)]
use super::what::{Rule, What};

/// The resources whose readiness whenready knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// Pods: Ready.
    Pod,
    /// Services: ready endpoints.
    Service,
    /// Jobs: Complete.
    Job,
    /// Deployments: rolled out.
    Deployment,
    /// StatefulSets: rolled out.
    StatefulSet,
    /// DaemonSets: rolled out.
    DaemonSet,
}

/// A resource whenready knows: (group, version, plural, singular, short names,
/// rule).
type BuiltinEntry = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    Builtin,
);

const BUILTINS: &[BuiltinEntry] = &[
    ("", "v1", "pods", "pod", &["po"], Builtin::Pod),
    ("", "v1", "services", "service", &["svc"], Builtin::Service),
    ("batch", "v1", "jobs", "job", &[], Builtin::Job),
    (
        "apps",
        "v1",
        "deployments",
        "deployment",
        &["deploy"],
        Builtin::Deployment,
    ),
    (
        "apps",
        "v1",
        "statefulsets",
        "statefulset",
        &["sts"],
        Builtin::StatefulSet,
    ),
    (
        "apps",
        "v1",
        "daemonsets",
        "daemonset",
        &["ds"],
        Builtin::DaemonSet,
    ),
];

/// The resource and rule of a name whenready knows without asking (every one of
/// them is namespaced, lists and watches).
pub fn builtin(name: &ResourceName) -> Option<(Resource, Builtin)> {
    BUILTINS
        .iter()
        .find(|(group, version, plural, singular, short, _)| {
            (name.name == *plural || name.name == *singular || short.contains(&name.name.as_str()))
                && name.group.as_deref().is_none_or(|g| g == *group)
                && name.version.as_deref().is_none_or(|v| v == *version)
        })
        .map(|(group, version, plural, singular, _, rule)| {
            (
                Resource {
                    group: group.to_string(),
                    version: version.to_string(),
                    plural: plural.to_string(),
                    singular: singular.to_string(),
                    namespaced: true,
                    list: true,
                    watch: true,
                },
                *rule,
            )
        })
}

/// EndpointSlices: what a Service's readiness reads.
pub fn endpoint_slices() -> Resource {
    Resource {
        group: "discovery.k8s.io".into(),
        version: "v1".into(),
        plural: "endpointslices".into(),
        singular: "endpointslice".into(),
        namespaced: true,
        list: true,
        watch: true,
    }
}

/// A [`What`] for tests: the rule's resource (a built-in one, else
/// `widgets.example.com`), these objects, at least `min`.
#[cfg(test)]
pub fn for_test(rule: Rule, select: Select, min: u64) -> What {
    let named = |n: &str| builtin(&ResourceName::parse(n).unwrap()).unwrap().0;
    let resource = match rule {
        Rule::Service { .. } => endpoint_slices(),
        Rule::Job => named("jobs"),
        Rule::Deployment => named("deployments"),
        Rule::StatefulSet => named("statefulsets"),
        Rule::DaemonSet => named("daemonsets"),
        Rule::Pod => named("pods"),
        Rule::Exists | Rule::Expect(_) => Resource {
            group: "example.com".into(),
            version: "v1".into(),
            plural: "widgets".into(),
            singular: "widget".into(),
            namespaced: true,
            list: true,
            watch: true,
        },
    };
    What {
        resource,
        select,
        rule,
        min,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> ResourceName {
        ResourceName::parse(s).unwrap()
    }

    #[test]
    fn builtins_need_no_discovery() {
        assert_eq!(builtin(&name("deploy")).unwrap().1, Builtin::Deployment);
        assert_eq!(
            builtin(&name("deployments.apps")).unwrap().1,
            Builtin::Deployment
        );
        assert_eq!(builtin(&name("jobs.v1.batch")).unwrap().1, Builtin::Job);
        assert_eq!(builtin(&name("svc")).unwrap().1, Builtin::Service);
        assert!(builtin(&name("jobs.batch.volcano.sh")).is_none());
        assert!(builtin(&name("deployments.v2.apps")).is_none());
        assert!(builtin(&name("nodes")).is_none());
        assert_eq!(
            endpoint_slices().collection("app"),
            "/apis/discovery.k8s.io/v1/namespaces/app/endpointslices"
        );
    }
}
