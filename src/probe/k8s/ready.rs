//! When Kubernetes objects count as ready (or, with `--reverse`, gone): pure
//! functions of the objects the API returned, as [`super::object`] kept them.
//!
//! A target names its own rule (`condition=`, `field=`: [`Expect`], as `kubectl
//! wait --for=condition=` and `--for=jsonpath=` judge), or the resource's:
//! rollouts follow `kubectl rollout status` (kubectl's
//! `pkg/polymorphichelpers/rollout_status.go`), including its errors, which are
//! permanent here: a Deployment past its progress deadline, a StatefulSet or
//! DaemonSet whose update strategy is not RollingUpdate; a Job is Complete (Failed
//! is permanent), a Pod Ready, a Service has ready endpoints; any other resource
//! counts once it exists. Under a label selector every object must count, and at
//! least `min` of them; pods that have finished (Succeeded, Failed) are not
//! counted by the pods' own rule.

use super::object::{Cond, Condition, Kept, KeptExpect, Object};
use super::spec::Select;
use super::what::{Expect, Rule, What};
use std::collections::BTreeSet;

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
    /// The verdict on the objects the selector matches now (by name, as
    /// [`Object::keep`] kept them).
    pub fn verdict<'a>(
        &self,
        objects: impl Iterator<Item = (&'a str, &'a Kept)> + Clone,
    ) -> Verdict {
        if let Rule::Service { name } = &self.rule {
            return service(name, self.min, objects);
        }
        match &self.select {
            Select::Name(n) => match objects.clone().find(|(name, _)| *name == n.as_str()) {
                Some((_, kept)) => self.one(n, kept),
                None => Verdict::NotYet(format!("{} {n:?} not found", self.word())),
            },
            Select::Labels(selector) => self.many(selector, objects),
        }
    }

    /// With `--reverse`: why the objects are gone (none is left), or `None`.
    pub fn gone<'a>(
        &self,
        mut objects: impl Iterator<Item = (&'a str, &'a Kept)>,
    ) -> Option<String> {
        match &self.select {
            Select::Name(n) => objects
                .all(|(name, _)| name != n)
                .then(|| format!("{} {n:?} not found", self.word())),
            Select::Labels(selector) => objects
                .next()
                .is_none()
                .then(|| format!("no {} matches {selector}", self.word())),
        }
    }

    /// The verdict on one object.
    fn one(&self, n: &str, kept: &Kept) -> Verdict {
        match (&self.rule, kept) {
            (Rule::Pod, Kept::Pod { phase, ready }) => pod(n, phase.as_deref(), ready.as_ref()),
            (Rule::Job, Kept::Whole(o)) => job(n, o),
            (Rule::Deployment, Kept::Whole(o)) => deployment(n, o),
            (Rule::StatefulSet, Kept::Whole(o)) => statefulset(o),
            (Rule::DaemonSet, Kept::Whole(o)) => daemonset(n, o),
            (Rule::Exists, _) => Verdict::Ready,
            (Rule::Expect(e), Kept::Expect(k)) => expect(self.word(), n, e, k),
            _ => Verdict::NotYet(format!("{} {n:?} not found", self.word())),
        }
    }

    /// Every object a label selector matches counts, and at least `min` of them
    /// (pods that have finished are left out by the pods' own rule).
    fn many<'a>(
        &self,
        selector: &str,
        objects: impl Iterator<Item = (&'a str, &'a Kept)>,
    ) -> Verdict {
        let (mut total, mut ready, mut finished) = (0u64, 0u64, 0u64);
        let mut first_unready = None;
        for (name, kept) in objects {
            if let (Rule::Pod, Kept::Pod { phase, .. }) = (&self.rule, kept) {
                if matches!(phase.as_deref(), Some("Succeeded" | "Failed")) {
                    finished += 1;
                    continue;
                }
            }
            total += 1;
            match self.one(name, kept) {
                Verdict::Ready => ready += 1,
                Verdict::NotYet(why) => {
                    first_unready.get_or_insert(why);
                }
                Verdict::Never(why) => return Verdict::Never(why),
            }
        }
        let finished = match finished {
            0 => String::new(),
            1 => " (1 finished pod not counted)".to_string(),
            n => format!(" ({n} finished pods not counted)"),
        };
        if total == 0 {
            return Verdict::NotYet(format!("no {} matches {selector}{finished}", self.word()));
        }
        if ready == total && total >= self.min {
            return Verdict::Ready;
        }
        let mut why = format!(
            "{ready} of {total} {} matching {selector} ready{finished}",
            self.resource.plural
        );
        if total < self.min {
            why.push_str(&format!(" (needs at least {})", self.min));
        }
        if let Some(w) = first_unready {
            why.push_str("; ");
            why.push_str(&w);
        }
        Verdict::NotYet(why)
    }
}

/// `condition=` as `kubectl wait --for=condition=` judges it: the first condition
/// of that type (compared without regard to case) whose status is a string; not
/// met while it is for an older generation than the object's (its own
/// `observedGeneration`, else the status's); met when its status is the one
/// wanted (without regard to case). Then every `field=`: the value at its pointer
/// is one of its values.
fn expect(word: &str, name: &str, e: &Expect, k: &KeptExpect) -> Verdict {
    if let Some(want) = &e.condition {
        let Some(c) = &k.condition else {
            return Verdict::NotYet(format!(
                "{word} {name:?} has no condition {} yet",
                want.kind
            ));
        };
        if let Some((observed, generation)) = c.stale {
            return Verdict::NotYet(format!(
                "{word} {name:?}: condition {} is for generation {observed}, the object is at {generation}",
                want.kind
            ));
        }
        if !c.status.to_lowercase().eq(&want.status.to_lowercase()) {
            let why = c
                .why
                .as_deref()
                .map(|w| format!(" ({w})"))
                .unwrap_or_default();
            return Verdict::NotYet(format!(
                "{word} {name:?}: {} is {} (waiting for {}){why}",
                want.kind, c.status, want.status
            ));
        }
    }
    for ((want, _), found) in e.fields.iter().zip(k.fields.iter()) {
        match found {
            None => {
                return Verdict::NotYet(format!(
                    "{word} {name:?} has no {} ({})",
                    want.shown(),
                    want.expected()
                ))
            }
            Some(leaf) if !want.accepts(leaf.scalar()) => {
                return Verdict::NotYet(format!(
                    "{word} {name:?}: {} is {leaf} ({})",
                    want.shown(),
                    want.expected()
                ))
            }
            Some(_) => {}
        }
    }
    Verdict::Ready
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

#[cfg(test)]
mod tests {
    use super::super::builtin::for_test;
    use super::super::page::{item, Objects};
    use super::super::spec::CondWant;
    use super::*;
    use crate::probe::pointer::JsonExpectation;
    use serde_json::{json, Value};

    /// Objects as the API would send them, as readiness keeps them.
    fn all(w: &What, os: Vec<Value>) -> Verdict {
        w.verdict(kept(w, os).iter())
    }

    fn kept(w: &What, os: Vec<Value>) -> Objects {
        let mut objects = Objects::default();
        for o in os {
            objects.insert(item(&o.to_string(), w).unwrap()).unwrap();
        }
        objects
    }

    fn named(rule: Rule, name: &str) -> What {
        for_test(rule, Select::Name(name.into()), 1)
    }

    fn one(w: &What, o: Value) -> Verdict {
        all(w, vec![o])
    }

    #[test]
    fn deployments_roll_out_as_kubectl_says() {
        let w = named(Rule::Deployment, "web");
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
        let s = named(Rule::StatefulSet, "db");
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

        let d = named(Rule::DaemonSet, "agent");
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
        let j = named(Rule::Job, "migrate");
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

        let p = named(Rule::Pod, "web-0");
        let pod = |ready: &str, phase: &str| {
            json!({"metadata": {"name": "web-0"}, "status": {"phase": phase,
            "conditions": [{"type": "Ready", "status": ready, "reason": "ContainersNotReady"}]}})
        };
        assert_eq!(one(&p, pod("True", "Running")), Verdict::Ready);
        assert!(
            matches!(one(&p, pod("False", "Running")), Verdict::NotYet(r) if r.contains("ContainersNotReady"))
        );
        assert!(matches!(one(&p, pod("False", "Failed")), Verdict::Never(_)));

        let ps = for_test(Rule::Pod, Select::Labels("app=db".into()), 2);
        let named = |n: &str, ready: &str| -> Value {
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
        assert_eq!(
            all(&ps, vec![named("a", "True"), named("b", "False")]),
            Verdict::NotYet("1 of 2 pods matching app=db ready; pod \"b\" not ready (Running; ContainersNotReady)".into())
        );
        assert_eq!(
            all(&ps, vec![named("a", "True"), named("b", "True")]),
            Verdict::Ready
        );
        // Finished pods are not counted: an evicted pod (Failed) does not block.
        let mut evicted = named("c", "False");
        evicted["status"]["phase"] = json!("Failed");
        evicted["status"]["reason"] = json!("Evicted");
        let mut done = named("d", "False");
        done["status"]["phase"] = json!("Succeeded");
        assert_eq!(
            all(
                &ps,
                vec![
                    named("a", "True"),
                    named("b", "True"),
                    evicted.clone(),
                    done
                ]
            ),
            Verdict::Ready
        );
        assert_eq!(
            all(&ps, vec![named("a", "True"), evicted.clone()]),
            Verdict::NotYet(
                "1 of 1 pods matching app=db ready (1 finished pod not counted) (needs at least 2)"
                    .into()
            )
        );
        assert_eq!(
            all(&ps, vec![evicted]),
            Verdict::NotYet("no pod matches app=db (1 finished pod not counted)".into())
        );

        let s = for_test(
            Rule::Service { name: "db".into() },
            Select::Labels("x".into()),
            2,
        );
        let slice = json!({"metadata": {"name": "db-x1"}, "endpoints": [
            {"addresses": ["10.0.0.1"], "conditions": {"ready": true}},
            {"addresses": ["10.0.0.2"], "conditions": {"ready": false}},
            {"addresses": ["10.0.0.3"]}]});
        assert_eq!(all(&s, vec![slice.clone()]), Verdict::Ready);
        let s3 = for_test(
            Rule::Service { name: "db".into() },
            Select::Labels("x".into()),
            3,
        );
        assert!(
            matches!(all(&s3, vec![slice]), Verdict::NotYet(r) if r.contains("2 ready endpoints (needs 3)"))
        );
        assert!(matches!(all(&s3, vec![]), Verdict::NotYet(r) if r.contains("no EndpointSlice")));
    }

    #[test]
    fn a_pod_in_two_slices_is_one_endpoint() {
        let s = for_test(
            Rule::Service { name: "web".into() },
            Select::Labels("x".into()),
            2,
        );
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

    fn expect(condition: Option<(&str, &str)>, fields: &[&str]) -> Expect {
        Expect {
            condition: condition.map(|(k, v)| CondWant {
                kind: k.into(),
                status: v.into(),
            }),
            fields: fields
                .iter()
                .map(|f| {
                    let e = JsonExpectation::parse(f, "field", "field=/x").unwrap();
                    let t = e.tokens();
                    (e, t)
                })
                .collect(),
        }
    }

    fn widget(name: &str, generation: i64, conditions: Value) -> Value {
        json!({"metadata": {"name": name, "generation": generation},
               "status": {"observedGeneration": 1, "conditions": conditions}})
    }

    #[test]
    fn conditions_are_judged_as_kubectl_wait_judges_them() {
        let w = named(Rule::Expect(expect(Some(("ready", "true")), &[])), "web");
        let ready = |status: &str| json!([{"type": "Ready", "status": status, "reason": "Issuing", "message": "Issuing certificate as Secret does not exist"}]);
        // Type and status without regard to case.
        assert_eq!(one(&w, widget("web", 1, ready("True"))), Verdict::Ready);
        assert_eq!(
            one(&w, widget("web", 1, ready("False"))),
            Verdict::NotYet("widget \"web\": ready is False (waiting for true) (Issuing: Issuing certificate as Secret does not exist)".into())
        );
        // Absent: not met.
        assert_eq!(
            one(
                &w,
                widget("web", 1, json!([{"type": "Other", "status": "True"}]))
            ),
            Verdict::NotYet("widget \"web\" has no condition ready yet".into())
        );
        assert_eq!(
            one(&w, json!({"metadata": {"name": "web"}})),
            Verdict::NotYet("widget \"web\" has no condition ready yet".into())
        );
        // A condition for an older generation does not count: its own
        // observedGeneration, else the status's.
        assert_eq!(
            one(&w, widget("web", 2, ready("True"))),
            Verdict::NotYet(
                "widget \"web\": condition ready is for generation 1, the object is at 2".into()
            )
        );
        let own = json!([{"type": "Ready", "status": "True", "observedGeneration": 2}]);
        assert_eq!(one(&w, widget("web", 2, own)), Verdict::Ready);
        // The first of the type with a string status.
        let two = json!([{"type": "Ready", "status": 1}, {"type": "READY", "status": "True"}, {"type": "Ready", "status": "False"}]);
        assert_eq!(one(&w, widget("web", 1, two)), Verdict::Ready);
        // An entry that is not an object ends the search, as in kubectl.
        let odd = json!(["x", {"type": "Ready", "status": "True"}]);
        assert!(matches!(one(&w, widget("web", 1, odd)), Verdict::NotYet(_)));
        // Conditions that are not a list, a status that is a string: not met, no error.
        assert!(matches!(
            one(&w, widget("web", 1, json!({"Ready": true}))),
            Verdict::NotYet(_)
        ));
        assert!(matches!(
            one(&w, json!({"metadata": {"name": "web"}, "status": "ok"})),
            Verdict::NotYet(_)
        ));
        // A VALUE other than True.
        let f = named(Rule::Expect(expect(Some(("Ready", "False")), &[])), "web");
        assert_eq!(one(&f, widget("web", 1, ready("False"))), Verdict::Ready);
    }

    #[test]
    fn fields_are_judged_as_http_json_judges_them() {
        let w = named(Rule::Expect(expect(None, &["/status/phase:Bound"])), "data");
        let pvc = |phase: Value| json!({"metadata": {"name": "data"}, "status": {"phase": phase}});
        assert_eq!(one(&w, pvc(json!("Bound"))), Verdict::Ready);
        assert_eq!(
            one(&w, pvc(json!("Pending"))),
            Verdict::NotYet(
                "widget \"data\": /status/phase is \"Pending\" (expected Bound)".into()
            )
        );
        assert_eq!(
            one(&w, json!({"metadata": {"name": "data"}})),
            Verdict::NotYet("widget \"data\" has no /status/phase (expected Bound)".into())
        );
        // A LoadBalancer's ingress: present, and a condition as well.
        let lb = named(
            Rule::Expect(expect(
                Some(("Ready", "True")),
                &["/status/loadBalancer/ingress/0", "/spec/n:3"],
            )),
            "web",
        );
        let mut svc = widget("web", 1, json!([{"type": "Ready", "status": "True"}]));
        svc["spec"] = json!({"n": 3.0});
        assert!(
            matches!(one(&lb, svc.clone()), Verdict::NotYet(r) if r.contains("has no /status/loadBalancer/ingress/0"))
        );
        svc["status"]["loadBalancer"] = json!({"ingress": [{"ip": "192.0.2.7"}]});
        assert_eq!(one(&lb, svc), Verdict::Ready);
    }

    #[test]
    fn selectors_on_any_resource_and_deletion() {
        let jobs = for_test(Rule::Job, Select::Labels("release=r1".into()), 2);
        let job = |n: &str, t: &str| json!({"metadata": {"name": n}, "status": {"conditions": [{"type": t, "status": "True", "reason": "BackoffLimitExceeded"}]}});
        assert_eq!(
            all(&jobs, vec![job("a", "Complete"), job("b", "Complete")]),
            Verdict::Ready
        );
        assert!(
            matches!(all(&jobs, vec![job("a", "Complete")]), Verdict::NotYet(r) if r == "1 of 1 jobs matching release=r1 ready (needs at least 2)")
        );
        assert!(
            matches!(all(&jobs, vec![job("a", "Complete"), job("b", "Failed")]), Verdict::Never(r) if r.contains("job \"b\" failed"))
        );
        let certs = for_test(
            Rule::Expect(expect(Some(("Ready", "True")), &[])),
            Select::Labels("app=web".into()),
            1,
        );
        let c = |n: &str, s: &str| widget(n, 1, json!([{"type": "Ready", "status": s}]));
        assert_eq!(
            all(&certs, vec![c("a", "True"), c("b", "True")]),
            Verdict::Ready
        );
        assert_eq!(
            all(&certs, vec![c("a", "True"), c("b", "False")]),
            Verdict::NotYet("1 of 2 widgets matching app=web ready; widget \"b\": Ready is False (waiting for True)".into())
        );
        assert_eq!(
            all(&certs, vec![]),
            Verdict::NotYet("no widget matches app=web".into())
        );
        let exists = for_test(Rule::Exists, Select::Name("x".into()), 1);
        assert_eq!(
            all(&exists, vec![json!({"metadata": {"name": "x"}})]),
            Verdict::Ready
        );
        assert_eq!(
            all(&exists, vec![]),
            Verdict::NotYet("widget \"x\" not found".into())
        );
        // Gone: none left.
        assert_eq!(
            exists.gone(kept(&exists, vec![]).iter()),
            Some("widget \"x\" not found".into())
        );
        assert_eq!(
            exists.gone(kept(&exists, vec![json!({"metadata": {"name": "x"}})]).iter()),
            None
        );
        let sel = for_test(Rule::Exists, Select::Labels("app=web".into()), 1);
        assert_eq!(
            sel.gone(kept(&sel, vec![]).iter()),
            Some("no widget matches app=web".into())
        );
        assert_eq!(
            sel.gone(kept(&sel, vec![json!({"metadata": {"name": "y"}})]).iter()),
            None
        );
    }
}
