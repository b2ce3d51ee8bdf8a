//! When a Kubernetes object counts as ready: pure functions of the objects the API
//! returned (JSON as the API reference shapes it), one per kind of target.
//!
//! Rollouts follow `kubectl rollout status` (kubectl's
//! `pkg/polymorphichelpers/rollout_status.go`), including its errors, which are
//! permanent here: a Deployment past its progress deadline, a StatefulSet or
//! DaemonSet whose update strategy is not RollingUpdate.

use serde_json::Value;

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

    /// The verdict on the objects the selector matches now.
    pub fn verdict<'a>(&self, objects: impl Iterator<Item = &'a Value> + Clone) -> Verdict {
        match self {
            What::Service { name, min } => service(name, *min, objects),
            What::Pods { selector, min } => pods(selector, *min, objects),
            What::Job(n)
            | What::Deployment(n)
            | What::StatefulSet(n)
            | What::DaemonSet(n)
            | What::Pod(n) => {
                let kind = self.kind_word();
                let Some(o) = objects
                    .clone()
                    .find(|o| str_at(o, "/metadata/name") == Some(n.as_str()))
                else {
                    return Verdict::NotYet(format!("{kind} {n:?} not found"));
                };
                match self {
                    What::Job(_) => job(n, o),
                    What::Deployment(_) => deployment(n, o),
                    What::StatefulSet(_) => statefulset(o),
                    What::DaemonSet(_) => daemonset(n, o),
                    _ => pod(n, o),
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

fn str_at<'a>(o: &'a Value, pointer: &str) -> Option<&'a str> {
    o.pointer(pointer).and_then(Value::as_str)
}

fn num(o: &Value, pointer: &str) -> i64 {
    o.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn opt_num(o: &Value, pointer: &str) -> Option<i64> {
    o.pointer(pointer).and_then(Value::as_i64)
}

/// The condition of `type` in `status.conditions`.
fn condition<'a>(o: &'a Value, kind: &str) -> Option<&'a Value> {
    o.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"].as_str() == Some(kind))
}

fn is_true(c: Option<&Value>) -> bool {
    c.and_then(|c| c["status"].as_str()) == Some("True")
}

/// `Reason: message`, or whichever of them is there.
fn reason_message(c: &Value) -> String {
    let reason = c["reason"].as_str().unwrap_or("");
    let message = c["message"].as_str().unwrap_or("");
    match (reason.is_empty(), message.is_empty()) {
        (false, false) => format!("{reason}: {message}"),
        (false, true) => reason.to_string(),
        (true, false) => message.to_string(),
        (true, true) => "no reason given".to_string(),
    }
}

/// EndpointSlices: endpoints whose `conditions.ready` is true or absent (the API
/// says nil means ready).
fn service<'a>(name: &str, min: u64, slices: impl Iterator<Item = &'a Value>) -> Verdict {
    let mut count = 0;
    let mut ready = 0u64;
    for s in slices {
        count += 1;
        for e in s["endpoints"].as_array().into_iter().flatten() {
            if e.pointer("/conditions/ready").and_then(Value::as_bool) != Some(false) {
                ready += 1;
            }
        }
    }
    if count == 0 {
        return Verdict::NotYet(format!("service {name:?} has no EndpointSlice"));
    }
    if ready >= min {
        Verdict::Ready
    } else {
        Verdict::NotYet(format!(
            "service {name:?} has {ready} ready endpoint{} (needs {min})",
            if ready == 1 { "" } else { "s" }
        ))
    }
}

fn job(name: &str, o: &Value) -> Verdict {
    if let Some(c) = condition(o, "Failed").filter(|c| is_true(Some(c))) {
        return Verdict::Never(format!("job {name:?} failed: {}", reason_message(c)));
    }
    if is_true(condition(o, "Complete")) {
        return Verdict::Ready;
    }
    Verdict::NotYet(format!(
        "job {name:?} not complete ({} active, {} succeeded, {} failed)",
        num(o, "/status/active"),
        num(o, "/status/succeeded"),
        num(o, "/status/failed")
    ))
}

fn deployment(name: &str, o: &Value) -> Verdict {
    let generation = num(o, "/metadata/generation");
    if generation > num(o, "/status/observedGeneration") {
        return Verdict::NotYet("waiting for deployment spec update to be observed".into());
    }
    if let Some(c) = condition(o, "Progressing") {
        if c["reason"].as_str() == Some("ProgressDeadlineExceeded") {
            return Verdict::Never(format!(
                "deployment {name:?} exceeded its progress deadline"
            ));
        }
    }
    let updated = num(o, "/status/updatedReplicas");
    if let Some(want) = opt_num(o, "/spec/replicas") {
        if updated < want {
            return Verdict::NotYet(format!(
                "waiting for deployment {name:?} rollout to finish: {updated} out of {want} new replicas have been updated"
            ));
        }
    }
    let replicas = num(o, "/status/replicas");
    if replicas > updated {
        return Verdict::NotYet(format!(
            "waiting for deployment {name:?} rollout to finish: {} old replicas are pending termination",
            replicas - updated
        ));
    }
    let available = num(o, "/status/availableReplicas");
    if available < updated {
        return Verdict::NotYet(format!(
            "waiting for deployment {name:?} rollout to finish: {available} of {updated} updated replicas are available"
        ));
    }
    Verdict::Ready
}

/// The update strategy (the API server defaults it to RollingUpdate).
fn rolling(o: &Value) -> Result<(), Verdict> {
    match str_at(o, "/spec/updateStrategy/type") {
        None | Some("RollingUpdate") => Ok(()),
        Some(other) => Err(Verdict::Never(format!(
            "rollout status is only available for RollingUpdate strategy type (this one is {other})"
        ))),
    }
}

fn daemonset(name: &str, o: &Value) -> Verdict {
    if let Err(v) = rolling(o) {
        return v;
    }
    if num(o, "/metadata/generation") > num(o, "/status/observedGeneration") {
        return Verdict::NotYet("waiting for daemon set spec update to be observed".into());
    }
    let desired = num(o, "/status/desiredNumberScheduled");
    let updated = num(o, "/status/updatedNumberScheduled");
    if updated < desired {
        return Verdict::NotYet(format!(
            "waiting for daemon set {name:?} rollout to finish: {updated} out of {desired} new pods have been updated"
        ));
    }
    let available = num(o, "/status/numberAvailable");
    if available < desired {
        return Verdict::NotYet(format!(
            "waiting for daemon set {name:?} rollout to finish: {available} of {desired} updated pods are available"
        ));
    }
    Verdict::Ready
}

fn statefulset(o: &Value) -> Verdict {
    if let Err(v) = rolling(o) {
        return v;
    }
    let observed = num(o, "/status/observedGeneration");
    if observed == 0 || num(o, "/metadata/generation") > observed {
        return Verdict::NotYet("waiting for statefulset spec update to be observed".into());
    }
    let replicas = opt_num(o, "/spec/replicas");
    let ready = num(o, "/status/readyReplicas");
    if let Some(want) = replicas {
        if ready < want {
            return Verdict::NotYet(format!("waiting for {} pods to be ready", want - ready));
        }
    }
    let updated = num(o, "/status/updatedReplicas");
    if let Some(ru) = o
        .pointer("/spec/updateStrategy/rollingUpdate")
        .filter(|v| !v.is_null())
    {
        if let (Some(want), Some(partition)) = (replicas, ru["partition"].as_i64()) {
            if updated < want - partition {
                return Verdict::NotYet(format!(
                    "waiting for partitioned roll out to finish: {updated} out of {} new pods have been updated",
                    want - partition
                ));
            }
        }
        return Verdict::Ready;
    }
    let update = str_at(o, "/status/updateRevision").unwrap_or("");
    if update != str_at(o, "/status/currentRevision").unwrap_or("") {
        return Verdict::NotYet(format!(
            "waiting for statefulset rolling update to complete {updated} pods at revision {update}"
        ));
    }
    Verdict::Ready
}

fn pod_phase(o: &Value) -> &str {
    str_at(o, "/status/phase").unwrap_or("Pending")
}

fn pod(name: &str, o: &Value) -> Verdict {
    if is_true(condition(o, "Ready")) {
        return Verdict::Ready;
    }
    let phase = pod_phase(o);
    if matches!(phase, "Succeeded" | "Failed") {
        // A finished pod never becomes Ready again.
        return Verdict::Never(format!("pod {name:?} has ended (phase {phase})"));
    }
    match condition(o, "Ready") {
        Some(c) => Verdict::NotYet(format!(
            "pod {name:?} not ready ({phase}; {})",
            reason_message(c)
        )),
        None => Verdict::NotYet(format!("pod {name:?} not ready ({phase})")),
    }
}

fn pods<'a>(selector: &str, min: u64, objects: impl Iterator<Item = &'a Value>) -> Verdict {
    let (mut total, mut ready) = (0u64, 0u64);
    let mut first_unready = None;
    for o in objects {
        total += 1;
        if is_true(condition(o, "Ready")) {
            ready += 1;
        } else if first_unready.is_none() {
            first_unready = str_at(o, "/metadata/name").map(str::to_string);
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
    use super::*;
    use serde_json::json;

    fn one(w: &What, o: Value) -> Verdict {
        w.verdict([o].iter())
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
            matches!(w.verdict([].iter()), Verdict::NotYet(r) if r == "deployment \"web\" not found")
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
            matches!(ps.verdict([].iter()), Verdict::NotYet(r) if r.contains("no pod matches app=db"))
        );
        assert!(
            matches!(ps.verdict([named("a", "True")].iter()), Verdict::NotYet(r) if r.contains("needs at least 2"))
        );
        assert!(
            matches!(ps.verdict([named("a", "True"), named("b", "False")].iter()), Verdict::NotYet(r) if r.contains("\"b\" is not"))
        );
        assert_eq!(
            ps.verdict([named("a", "True"), named("b", "True")].iter()),
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
        assert_eq!(s.verdict([slice.clone()].iter()), Verdict::Ready);
        let s3 = What::Service {
            name: "db".into(),
            min: 3,
        };
        assert!(
            matches!(s3.verdict([slice].iter()), Verdict::NotYet(r) if r.contains("2 ready endpoints (needs 3)"))
        );
        assert!(
            matches!(s3.verdict([].iter()), Verdict::NotYet(r) if r.contains("no EndpointSlice"))
        );
    }
}
