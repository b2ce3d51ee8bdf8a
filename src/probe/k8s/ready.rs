//! When a Kubernetes object counts as ready: pure functions of the objects the API
//! returned (JSON as the API reference shapes it), one per kind of target.
//!
//! Rollouts follow `kubectl rollout status` (kubectl's
//! `pkg/polymorphichelpers/rollout_status.go`), including its errors, which are
//! permanent here: a Deployment past its progress deadline, a StatefulSet or
//! DaemonSet whose update strategy is not RollingUpdate.

use super::object::{Cond, Condition, Kept, Object};
use std::collections::BTreeSet;

/// What a target waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum What {
    /// A Service: its EndpointSlices hold at least `min` ready endpoints.
    Service {
        /// The Service's name.
        name: String,
        /// Ready endpoints needed.
        min: u64,
    },
    /// A Job: condition Complete=True (Failed=True is permanent).
    Job(String),
    /// A Deployment rolled out.
    Deployment(String),
    /// A StatefulSet rolled out.
    StatefulSet(String),
    /// A DaemonSet rolled out.
    DaemonSet(String),
    /// A Pod with Ready=True.
    Pod(String),
    /// Pods matching a label selector: at least `min`, and all of them Ready.
    Pods {
        /// The label selector, as the API takes it.
        selector: String,
        /// Matching pods needed.
        min: u64,
    },
}

/// The verdict on the objects seen: ready, not yet (why), or never (why).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Ready.
    Ready,
    /// Not ready yet; the reason.
    NotYet(String),
    /// Cannot become ready by waiting; the reason.
    Never(String),
}

impl What {
    /// The API path of the collection in `ns` (with the API group and version).
    pub fn collection(&self, ns: &str) -> String {
        let (prefix, resource) = self.resource();
        format!("{prefix}/namespaces/{ns}/{resource}")
    }

    /// The API prefix and resource name: `("/apis/apps/v1", "deployments")`.
    pub fn resource(&self) -> (&'static str, &'static str) {
        match self {
            What::Service { .. } => ("/apis/discovery.k8s.io/v1", "endpointslices"),
            What::Job(_) => ("/apis/batch/v1", "jobs"),
            What::Deployment(_) => ("/apis/apps/v1", "deployments"),
            What::StatefulSet(_) => ("/apis/apps/v1", "statefulsets"),
            What::DaemonSet(_) => ("/apis/apps/v1", "daemonsets"),
            What::Pod(_) | What::Pods { .. } => ("/api/v1", "pods"),
        }
    }

    /// The API group of the resource (`""` for the core group).
    pub fn group(&self) -> &'static str {
        let (prefix, _) = self.resource();
        match prefix.strip_prefix("/apis/") {
            Some(gv) => gv.split('/').next().unwrap_or(""),
            None => "",
        }
    }

    /// The selector that narrows the collection to what the target is about:
    /// `("fieldSelector", "metadata.name=NAME")` or a label selector.
    pub fn selector(&self) -> (&'static str, String) {
        match self {
            What::Service { name, .. } => (
                "labelSelector",
                format!("kubernetes.io/service-name={name}"),
            ),
            What::Pods { selector, .. } => ("labelSelector", selector.clone()),
            What::Job(n)
            | What::Deployment(n)
            | What::StatefulSet(n)
            | What::DaemonSet(n)
            | What::Pod(n) => ("fieldSelector", format!("metadata.name={n}")),
        }
    }

    /// The condition types the verdict reads (the others are not kept).
    pub fn conditions(&self) -> &'static [&'static str] {
        match self {
            What::Job(_) => &["Failed", "Complete"],
            What::Deployment(_) => &["Progressing"],
            What::Pod(_) | What::Pods { .. } => &["Ready"],
            What::Service { .. } | What::StatefulSet(_) | What::DaemonSet(_) => &[],
        }
    }

    /// The verdict on the objects the selector matches now (by name, as
    /// [`Object::keep`] kept them).
    pub fn verdict<'a>(
        &self,
        objects: impl Iterator<Item = (&'a str, &'a Kept)> + Clone,
    ) -> Verdict {
        match self {
            What::Service { name, min } => service(name, *min, objects),
            What::Pods { selector, min } => pods(selector, *min, objects),
            What::Job(n)
            | What::Deployment(n)
            | What::StatefulSet(n)
            | What::DaemonSet(n)
            | What::Pod(n) => {
                let kind = self.kind_word();
                let Some((_, kept)) = objects.clone().find(|(name, _)| *name == n.as_str()) else {
                    return Verdict::NotYet(format!("{kind} {n:?} not found"));
                };
                match (self, kept) {
                    (What::Pod(_), Kept::Pod { phase, ready }) => {
                        pod(n, phase.as_deref(), ready.as_ref())
                    }
                    (What::Job(_), Kept::Whole(o)) => job(n, o),
                    (What::Deployment(_), Kept::Whole(o)) => deployment(n, o),
                    (What::StatefulSet(_), Kept::Whole(o)) => statefulset(o),
                    (What::DaemonSet(_), Kept::Whole(o)) => daemonset(n, o),
                    _ => Verdict::NotYet(format!("{kind} {n:?} not found")),
                }
            }
        }
    }

    fn kind_word(&self) -> &'static str {
        match self {
            What::Service { .. } => "service",
            What::Job(_) => "job",
            What::Deployment(_) => "deployment",
            What::StatefulSet(_) => "statefulset",
            What::DaemonSet(_) => "daemon set",
            What::Pod(_) | What::Pods { .. } => "pod",
        }
    }
}

fn num(v: Option<i64>) -> i64 {
    v.unwrap_or(0)
}

fn is_true(c: Option<&Condition>) -> bool {
    c.and_then(|c| c.status.as_deref()) == Some("True")
}

/// `Reason: message`, or whichever of them is there.
fn reason_message(c: &Condition) -> String {
    c.reason_message()
        .unwrap_or_else(|| "no reason given".to_string())
}

/// EndpointSlices: endpoints whose `conditions.ready` is true or absent (the API
/// says nil means ready), each counted once across the slices: a dual-stack
/// Service lists a pod in its IPv4 and its IPv6 slice, and the API says an endpoint
/// may appear in more than one slice (consumers de-duplicate). The key is the uid
/// of the pod behind the endpoint, else its address ([`Object::keep`]).
fn service<'a>(name: &str, min: u64, slices: impl Iterator<Item = (&'a str, &'a Kept)>) -> Verdict {
    let mut count = 0;
    let mut ready: BTreeSet<&str> = BTreeSet::new();
    for (_, s) in slices {
        count += 1;
        if let Kept::Slice(keys) = s {
            ready.extend(keys.iter().map(|k| &**k));
        }
    }
    if count == 0 {
        return Verdict::NotYet(format!("service {name:?} has no EndpointSlice"));
    }
    let ready = ready.len() as u64;
    if ready >= min {
        Verdict::Ready
    } else {
        Verdict::NotYet(format!(
            "service {name:?} has {ready} ready endpoint{} (needs {min})",
            if ready == 1 { "" } else { "s" }
        ))
    }
}

fn job(name: &str, o: &Object) -> Verdict {
    if let Some(c) = o.condition("Failed").filter(|c| is_true(Some(c))) {
        return Verdict::Never(format!("job {name:?} failed: {}", reason_message(c)));
    }
    if is_true(o.condition("Complete")) {
        return Verdict::Ready;
    }
    let s = o.status();
    Verdict::NotYet(format!(
        "job {name:?} not complete ({} active, {} succeeded, {} failed)",
        num(s.active),
        num(s.succeeded),
        num(s.failed)
    ))
}

fn deployment(name: &str, o: &Object) -> Verdict {
    let s = o.status();
    let generation = num(o.metadata.generation);
    if generation > num(s.observed_generation) {
        return Verdict::NotYet("waiting for deployment spec update to be observed".into());
    }
    if let Some(c) = o.condition("Progressing") {
        if c.reason.as_deref() == Some("ProgressDeadlineExceeded") {
            return Verdict::Never(format!(
                "deployment {name:?} exceeded its progress deadline"
            ));
        }
    }
    let updated = num(s.updated_replicas);
    if let Some(want) = o.spec.replicas {
        if updated < want {
            return Verdict::NotYet(format!(
                "waiting for deployment {name:?} rollout to finish: {updated} out of {want} new replicas have been updated"
            ));
        }
    }
    let replicas = num(s.replicas);
    if replicas > updated {
        return Verdict::NotYet(format!(
            "waiting for deployment {name:?} rollout to finish: {} old replicas are pending termination",
            replicas - updated
        ));
    }
    let available = num(s.available_replicas);
    if available < updated {
        return Verdict::NotYet(format!(
            "waiting for deployment {name:?} rollout to finish: {available} of {updated} updated replicas are available"
        ));
    }
    Verdict::Ready
}

/// The update strategy (the API server defaults it to RollingUpdate).
fn rolling(o: &Object) -> Result<(), Verdict> {
    match o
        .spec
        .update_strategy
        .as_ref()
        .and_then(|s| s.kind.as_deref())
    {
        None | Some("RollingUpdate") => Ok(()),
        Some(other) => Err(Verdict::Never(format!(
            "rollout status is only available for RollingUpdate strategy type (this one is {other})"
        ))),
    }
}

fn daemonset(name: &str, o: &Object) -> Verdict {
    if let Err(v) = rolling(o) {
        return v;
    }
    let s = o.status();
    if num(o.metadata.generation) > num(s.observed_generation) {
        return Verdict::NotYet("waiting for daemon set spec update to be observed".into());
    }
    let desired = num(s.desired_number_scheduled);
    let updated = num(s.updated_number_scheduled);
    if updated < desired {
        return Verdict::NotYet(format!(
            "waiting for daemon set {name:?} rollout to finish: {updated} out of {desired} new pods have been updated"
        ));
    }
    let available = num(s.number_available);
    if available < desired {
        return Verdict::NotYet(format!(
            "waiting for daemon set {name:?} rollout to finish: {available} of {desired} updated pods are available"
        ));
    }
    Verdict::Ready
}

fn statefulset(o: &Object) -> Verdict {
    if let Err(v) = rolling(o) {
        return v;
    }
    let s = o.status();
    let observed = num(s.observed_generation);
    if observed == 0 || num(o.metadata.generation) > observed {
        return Verdict::NotYet("waiting for statefulset spec update to be observed".into());
    }
    let replicas = o.spec.replicas;
    let ready = num(s.ready_replicas);
    if let Some(want) = replicas {
        if ready < want {
            return Verdict::NotYet(format!("waiting for {} pods to be ready", want - ready));
        }
    }
    let updated = num(s.updated_replicas);
    if let Some(ru) = o
        .spec
        .update_strategy
        .as_ref()
        .and_then(|s| s.rolling_update.as_ref())
    {
        if let (Some(want), Some(partition)) = (replicas, ru.partition) {
            if updated < want - partition {
                return Verdict::NotYet(format!(
                    "waiting for partitioned roll out to finish: {updated} out of {} new pods have been updated",
                    want - partition
                ));
            }
        }
        return Verdict::Ready;
    }
    let update = s.update_revision.as_deref().unwrap_or("");
    if update != s.current_revision.as_deref().unwrap_or("") {
        return Verdict::NotYet(format!(
            "waiting for statefulset rolling update to complete {updated} pods at revision {update}"
        ));
    }
    Verdict::Ready
}

fn pod(name: &str, phase: Option<&str>, ready: Option<&Cond>) -> Verdict {
    if ready.is_some_and(|c| c.is_true) {
        return Verdict::Ready;
    }
    let phase = phase.unwrap_or("Pending");
    if matches!(phase, "Succeeded" | "Failed") {
        // A finished pod never becomes Ready again.
        return Verdict::Never(format!("pod {name:?} has ended (phase {phase})"));
    }
    match ready {
        Some(c) => Verdict::NotYet(format!(
            "pod {name:?} not ready ({phase}; {})",
            c.why.as_deref().unwrap_or("no reason given")
        )),
        None => Verdict::NotYet(format!("pod {name:?} not ready ({phase})")),
    }
}

fn pods<'a>(
    selector: &str,
    min: u64,
    objects: impl Iterator<Item = (&'a str, &'a Kept)>,
) -> Verdict {
    let (mut total, mut ready) = (0u64, 0u64);
    let mut first_unready = None;
    for (name, o) in objects {
        total += 1;
        if matches!(o, Kept::Pod { ready: Some(c), .. } if c.is_true) {
            ready += 1;
        } else if first_unready.is_none() {
            first_unready = Some(name);
        }
    }
    if total == 0 {
        return Verdict::NotYet(format!("no pod matches {selector}"));
    }
    if ready == total && total >= min {
        return Verdict::Ready;
    }
    let mut why = format!("{ready} of {total} pods matching {selector} ready");
    if total < min {
        why.push_str(&format!(" (needs at least {min})"));
    }
    if let Some(n) = first_unready {
        why.push_str(&format!("; {n:?} is not"));
    }
    Verdict::NotYet(why)
}

#[cfg(test)]
mod tests {
    use super::super::object::Objects;
    use super::*;
    use serde_json::{json, Value};

    /// Objects as the API would send them, as readiness keeps them.
    fn all(w: &What, os: Vec<Value>) -> Verdict {
        let mut objects = Objects::default();
        for o in os {
            objects
                .insert(serde_json::from_value(o).unwrap(), w)
                .unwrap();
        }
        w.verdict(objects.iter())
    }

    fn one(w: &What, o: Value) -> Verdict {
        all(w, vec![o])
    }

    #[test]
    fn deployments_roll_out_as_kubectl_says() {
        let w = What::Deployment("web".into());
        let d = |gen: i64, obs: i64, want: i64, replicas: i64, updated: i64, avail: i64| {
            json!({"metadata": {"name": "web", "generation": gen},
                   "spec": {"replicas": want},
                   "status": {"observedGeneration": obs, "replicas": replicas,
                              "updatedReplicas": updated, "availableReplicas": avail}})
        };
        assert!(
            matches!(one(&w, d(2, 1, 3, 3, 3, 3)), Verdict::NotYet(r) if r.contains("spec update"))
        );
        assert!(
            matches!(one(&w, d(2, 2, 3, 3, 1, 3)), Verdict::NotYet(r) if r.contains("1 out of 3 new replicas"))
        );
        assert!(
            matches!(one(&w, d(2, 2, 3, 4, 3, 3)), Verdict::NotYet(r) if r.contains("1 old replicas"))
        );
        assert!(
            matches!(one(&w, d(2, 2, 3, 3, 3, 2)), Verdict::NotYet(r) if r.contains("2 of 3 updated"))
        );
        assert_eq!(one(&w, d(2, 2, 3, 3, 3, 3)), Verdict::Ready);
        let mut late = d(2, 2, 3, 3, 1, 1);
        late["status"]["conditions"] = json!([{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]);
        assert!(matches!(one(&w, late), Verdict::Never(r) if r.contains("progress deadline")));
        assert!(
            matches!(all(&w, vec![]), Verdict::NotYet(r) if r == "deployment \"web\" not found")
        );
    }

    #[test]
    fn statefulsets_and_daemonsets() {
        let s = What::StatefulSet("db".into());
        let sts = |ready: i64, cur: &str, upd: &str| {
            json!({"metadata": {"name": "db", "generation": 1},
                   "spec": {"replicas": 2, "updateStrategy": {"type": "RollingUpdate"}},
                   "status": {"observedGeneration": 1, "readyReplicas": ready, "updatedReplicas": 2,
                              "currentRevision": cur, "updateRevision": upd}})
        };
        assert!(
            matches!(one(&s, sts(1, "a", "a")), Verdict::NotYet(r) if r.contains("1 pods to be ready"))
        );
        assert!(
            matches!(one(&s, sts(2, "a", "b")), Verdict::NotYet(r) if r.contains("revision b"))
        );
        assert_eq!(one(&s, sts(2, "b", "b")), Verdict::Ready);
        let mut part = sts(2, "a", "b");
        part["spec"]["updateStrategy"]["rollingUpdate"] = json!({"partition": 1});
        assert_eq!(one(&s, part), Verdict::Ready);
        let mut ondelete = sts(2, "b", "b");
        ondelete["spec"]["updateStrategy"]["type"] = json!("OnDelete");
        assert!(matches!(one(&s, ondelete), Verdict::Never(_)));

        let d = What::DaemonSet("agent".into());
        let ds = |upd: i64, avail: i64| {
            json!({"metadata": {"name": "agent", "generation": 3},
                   "status": {"observedGeneration": 3, "desiredNumberScheduled": 2,
                              "updatedNumberScheduled": upd, "numberAvailable": avail}})
        };
        assert!(
            matches!(one(&d, ds(1, 2)), Verdict::NotYet(r) if r.contains("1 out of 2 new pods"))
        );
        assert!(
            matches!(one(&d, ds(2, 1)), Verdict::NotYet(r) if r.contains("1 of 2 updated pods"))
        );
        assert_eq!(one(&d, ds(2, 2)), Verdict::Ready);
    }

    #[test]
    fn jobs_pods_and_services() {
        let j = What::Job("migrate".into());
        let job = |t: &str| {
            json!({"metadata": {"name": "migrate"}, "status": {"conditions": [
            {"type": t, "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}})
        };
        assert_eq!(one(&j, job("Complete")), Verdict::Ready);
        assert_eq!(
            one(&j, job("Failed")),
            Verdict::Never("job \"migrate\" failed: BackoffLimitExceeded: Job has reached the specified backoff limit".into())
        );
        assert!(
            matches!(one(&j, json!({"metadata": {"name": "migrate"}, "status": {"active": 1}})), Verdict::NotYet(r) if r.contains("1 active"))
        );

        let p = What::Pod("web-0".into());
        let pod = |ready: &str, phase: &str| {
            json!({"metadata": {"name": "web-0"}, "status": {"phase": phase,
            "conditions": [{"type": "Ready", "status": ready, "reason": "ContainersNotReady"}]}})
        };
        assert_eq!(one(&p, pod("True", "Running")), Verdict::Ready);
        assert!(
            matches!(one(&p, pod("False", "Running")), Verdict::NotYet(r) if r.contains("ContainersNotReady"))
        );
        assert!(matches!(one(&p, pod("False", "Failed")), Verdict::Never(_)));

        let ps = What::Pods {
            selector: "app=db".into(),
            min: 2,
        };
        let named = |n: &str, ready: &str| {
            let mut o = pod(ready, "Running");
            o["metadata"]["name"] = json!(n);
            o
        };
        assert!(
            matches!(all(&ps, vec![]), Verdict::NotYet(r) if r.contains("no pod matches app=db"))
        );
        assert!(
            matches!(all(&ps, vec![named("a", "True")]), Verdict::NotYet(r) if r.contains("needs at least 2"))
        );
        assert!(
            matches!(all(&ps, vec![named("a", "True"), named("b", "False")]), Verdict::NotYet(r) if r.contains("\"b\" is not"))
        );
        assert_eq!(
            all(&ps, vec![named("a", "True"), named("b", "True")]),
            Verdict::Ready
        );

        let s = What::Service {
            name: "db".into(),
            min: 2,
        };
        let slice = json!({"metadata": {"name": "db-x1"}, "endpoints": [
            {"addresses": ["10.0.0.1"], "conditions": {"ready": true}},
            {"addresses": ["10.0.0.2"], "conditions": {"ready": false}},
            {"addresses": ["10.0.0.3"]}]});
        assert_eq!(all(&s, vec![slice.clone()]), Verdict::Ready);
        let s3 = What::Service {
            name: "db".into(),
            min: 3,
        };
        assert!(
            matches!(all(&s3, vec![slice]), Verdict::NotYet(r) if r.contains("2 ready endpoints (needs 3)"))
        );
        assert!(matches!(all(&s3, vec![]), Verdict::NotYet(r) if r.contains("no EndpointSlice")));
    }

    #[test]
    fn a_pod_in_two_slices_is_one_endpoint() {
        let s = What::Service {
            name: "web".into(),
            min: 2,
        };
        // Dual stack: the same pod (uid) in the IPv4 and the IPv6 slice.
        let v4 = json!({"metadata": {"name": "web-v4"}, "endpoints": [
            {"addresses": ["10.0.0.1"], "conditions": {"ready": true}, "targetRef": {"uid": "u1"}}]});
        let v6 = json!({"metadata": {"name": "web-v6"}, "endpoints": [
            {"addresses": ["fd00::1"], "conditions": {"ready": true}, "targetRef": {"uid": "u1"}}]});
        assert!(
            matches!(all(&s, vec![v4.clone(), v6.clone()]), Verdict::NotYet(r) if r.contains("has 1 ready endpoint (needs 2)"))
        );
        // Without a targetRef, the address is the key: the same address in two
        // slices (during a move between slices) counts once.
        let a = json!({"metadata": {"name": "a"}, "endpoints": [{"addresses": ["10.0.0.9"]}]});
        let b = json!({"metadata": {"name": "b"}, "endpoints": [{"addresses": ["10.0.0.9"]}]});
        assert!(matches!(all(&s, vec![a.clone(), b]), Verdict::NotYet(_)));
        assert_eq!(all(&s, vec![v4, v6, a]), Verdict::Ready);
    }
}
