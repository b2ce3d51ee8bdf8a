//! k8s:// targets against a fake API server (tests/common/k8s.rs) that speaks
//! HTTPS with a test CA, bearer tokens, client certificates, lists, watches,
//! bookmarks and 410 Gone as the API does; kubectl itself checks the fake.
//!
//! Each target is ready at once, becomes ready during the wait over one list and
//! one watch, or never does (exit 1 at the deadline); a failed Job and a refused
//! request are permanent (exit 3); an object may be created late; a dropped watch
//! resumes from its resourceVersion and an expired one lists again. Credentials come
//! from a kubeconfig (token, client certificate, CA file) or, in a private mount
//! namespace, from the real service-account path, whose token is read again.

mod common;
#[path = "common/k8s.rs"]
mod k8s;

use common::*;
use k8s::*;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// whenready with a kubeconfig whose user has the default token.
fn with_token(api: &FakeApi) -> Command {
    let kc = api.kubeconfig(&format!("    token: {TOKEN}"));
    let mut cmd = whenready();
    cmd.env("KUBECONFIG", kc);
    cmd
}

/// The `--json` events of a run.
fn events(run: &Run) -> Vec<Value> {
    run.stderr
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The `requests` of target's `event` in a `--json` run.
fn requests(run: &Run, event: &str, target: &str) -> u64 {
    events(run)
        .iter()
        .find(|e| e["event"] == event && e["target"] == target)
        .and_then(|e| e["requests"].as_u64())
        .unwrap_or_else(|| panic!("no {event} event with requests for {target}: {run:?}"))
}

/// The verbs and paths of the requests (without their queries).
fn verbs(api: &FakeApi) -> Vec<String> {
    api.requests()
        .iter()
        .map(|(r, _)| r.split('?').next().unwrap_or("").to_string())
        .collect()
}

fn watches(n: usize) -> impl Fn(&[(String, String)]) -> bool {
    move |r| r.iter().filter(|(q, _)| q.starts_with("watch ")).count() >= n
}

fn lists(n: usize) -> impl Fn(&[(String, String)]) -> bool {
    move |r| r.iter().filter(|(q, _)| q.starts_with("list ")).count() >= n
}

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn every_kind_ready_at_once_with_one_request_each() {
    let api = FakeApi::start();
    api.put("deployments", deployment("web", 3, 3, 3));
    api.put("statefulsets", statefulset("db", 2, 2));
    api.put("daemonsets", daemonset("agent", 4, 4));
    api.put("jobs", job("migrate", "Complete"));
    api.put("pods", pod("web-0", true, json!({"app": "web"})));
    api.put("pods", pod("web-1", true, json!({"app": "web"})));
    api.put("pods", pod("other", false, json!({"app": "other"})));
    api.put(
        "endpointslices",
        endpoint_slice("db-abc12", "db", &[true, false]),
    );
    let targets = [
        "k8s://deployment/web",
        "k8s://app/statefulset/db",
        "k8s://app/ds/agent",
        "k8s://job/migrate",
        "k8s://pod/web-0",
        "k8s://app/pods?selector=app%3Dweb&min=2",
        "k8s://svc/db",
    ];
    let r = run(with_token(&api).arg("--json").args(targets), LIMIT);
    assert_exited(&r, 0);
    for t in targets {
        assert_eq!(requests(&r, "ready", t), 1, "{t}");
    }
    assert_no_secret(&r, TOKEN);
    // The namespace came from the context; every request was a list with the
    // selector of its target.
    let reqs = api.requests();
    assert_eq!(reqs.len(), targets.len(), "{reqs:?}");
    for (q, token) in &reqs {
        assert_eq!(token, TOKEN);
        assert!(q.starts_with("list /api"), "{q}");
        assert!(q.contains("/namespaces/app/"), "{q}");
    }
    assert!(reqs.iter().any(|(q, _)| q
        == "list /apis/discovery.k8s.io/v1/namespaces/app/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Ddb&limit=100"));
    assert!(reqs.iter().any(|(q, _)| q
        == "list /apis/apps/v1/namespaces/app/deployments?fieldSelector=metadata.name%3Dweb&limit=100"));
}

#[test]
fn a_deployment_rolls_out_during_the_wait_over_one_list_and_one_watch() {
    let api = FakeApi::start();
    api.put("deployments", deployment("web", 3, 1, 1));
    let start = Instant::now();
    let mut w =
        Watched::spawn(with_token(&api).args(["--json", "-t", "30s", "k8s://app/deployment/web"]));
    w.wait_for_line("1 out of 3 new replicas have been updated", LIMIT);
    api.wait_for_requests("the watch", watches(1));
    api.put("deployments", deployment("web", 3, 3, 2));
    w.wait_for_line("2 of 3 updated replicas are available", LIMIT);
    api.put("deployments", deployment("web", 3, 3, 3));
    let r = w.finish(start, LIMIT);
    assert_exited(&r, 0);
    assert_eq!(
        verbs(&api),
        [
            "list /apis/apps/v1/namespaces/app/deployments",
            "watch /apis/apps/v1/namespaces/app/deployments"
        ]
    );
    let watch = &api.requests()[1].0;
    assert!(
        watch.contains("watch=1")
            && watch.contains("resourceVersion=101&")
            && watch.contains("allowWatchBookmarks=true"),
        "{watch}"
    );
    assert_eq!(requests(&r, "ready", "k8s://app/deployment/web"), 2);
}

#[test]
fn never_ready_exits_1_at_the_deadline_with_the_rollout_reason() {
    let api = FakeApi::start();
    api.put("deployments", deployment("web", 3, 3, 1));
    let r = run(
        with_token(&api).args(["-t", "2s", "k8s://deployment/web"]),
        LIMIT,
    );
    assert_exited(&r, 1);
    let last = r.stderr.lines().last().unwrap_or("");
    assert!(
        last.contains("k8s://deployment/web")
            && last.contains("1 of 3 updated replicas are available"),
        "{r:?}"
    );
    assert!(!r.stderr.contains("no answer within"), "{r:?}");
    // One list and one watch for the whole wait: attempts read the same watch.
    assert_eq!(verbs(&api).len(), 2, "{:?}", api.requests());
}

#[test]
fn a_failed_job_is_permanent_with_its_reason_and_message() {
    let api = FakeApi::start();
    api.put("jobs", job("migrate", "Running"));
    let start = Instant::now();
    let w = Watched::spawn(with_token(&api).args(["-t", "30s", "k8s://job/migrate"]));
    api.wait_for_requests("the watch", watches(1));
    api.put("jobs", job("migrate", "Failed"));
    let r = w.finish(start, LIMIT);
    assert_exited(&r, 3);
    assert!(
        r.stderr.contains(
            "job \"migrate\" failed: BackoffLimitExceeded: Job has reached the specified backoff limit"
        ),
        "{r:?}"
    );
    // Failed at the first look: the same, at once.
    let r = run(with_token(&api).arg("k8s://job/migrate"), LIMIT);
    assert_exited(&r, 3);
}

#[test]
fn forbidden_names_the_verb_resource_namespace_and_the_rule_that_grants_them() {
    let api = FakeApi::start();
    api.deny(USER, "list", "endpointslices");
    let r = run(with_token(&api).arg("k8s://app/service/db"), LIMIT);
    assert_exited(&r, 3);
    assert!(
        r.stderr.contains(r#"forbidden: cannot list discovery.k8s.io/endpointslices in namespace "app" (User "system:serviceaccount:app:web"); grant: apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list","watch"]"#),
        "{r:?}"
    );
    assert_eq!(api.requests().len(), 1);
}

#[test]
fn a_rejected_token_is_permanent_and_never_shown() {
    let api = FakeApi::start();
    let kc = api.kubeconfig("    token: not-a-valid-token-77");
    let r = run(
        whenready()
            .env("KUBECONFIG", kc)
            .args(["--json", "k8s://pod/web-0"]),
        LIMIT,
    );
    assert_exited(&r, 3);
    assert!(r.stderr.contains("unauthorized (HTTP 401)"), "{r:?}");
    assert_no_secret(&r, "not-a-valid-token-77");
}

#[test]
fn a_service_created_late_becomes_ready_when_an_endpoint_is() {
    let api = FakeApi::start();
    let start = Instant::now();
    let mut w = Watched::spawn(with_token(&api).args(["-t", "30s", "k8s://svc/db?min=2"]));
    w.wait_for_line("service \"db\" has no EndpointSlice", LIMIT);
    api.wait_for_requests("the watch", watches(1));
    api.put("endpointslices", endpoint_slice("db-abc12", "db", &[false]));
    w.wait_for_line("has 0 ready endpoints (needs 2)", LIMIT);
    api.put("endpointslices", endpoint_slice("db-abc12", "db", &[true]));
    api.put(
        "endpointslices",
        endpoint_slice_from("db-xyz34", "db", 1, &[true]),
    );
    let r = w.finish(start, LIMIT);
    assert_exited(&r, 0);
}

#[test]
fn a_dropped_watch_resumes_from_its_resource_version() {
    let api = FakeApi::start();
    api.put("pods", pod("web-0", false, json!({})));
    let start = Instant::now();
    let w = Watched::spawn(with_token(&api).args(["--json", "-t", "30s", "k8s://pod/web-0"]));
    api.wait_for_requests("the watch", watches(1));
    api.drop_watches();
    api.wait_for_requests("a second watch", watches(2));
    api.put("pods", pod("web-0", true, json!({})));
    let r = w.finish(start, LIMIT);
    assert_exited(&r, 0);
    let reqs = api.requests();
    assert_eq!(
        verbs(&api).iter().filter(|v| v.starts_with("list")).count(),
        1,
        "{reqs:?}"
    );
    assert!(reqs[2].0.contains("resourceVersion=101&"), "{reqs:?}");
    assert_eq!(requests(&r, "ready", "k8s://pod/web-0"), 3);
}

#[test]
fn an_expired_watch_lists_again() {
    let api = FakeApi::start();
    api.put("statefulsets", statefulset("db", 2, 1));
    let start = Instant::now();
    let w = Watched::spawn(with_token(&api).args(["-t", "30s", "k8s://statefulset/db"]));
    // Streaming: the compaction cuts this watch (a watch it came before would get
    // the 410 itself).
    api.wait_for_streaming_watches(1);
    api.put("statefulsets", statefulset("db", 2, 1));
    api.compact_and_drop_watches();
    api.wait_for_requests("a second list", lists(2));
    api.put("statefulsets", statefulset("db", 2, 2));
    let r = w.finish(start, LIMIT);
    assert_exited(&r, 0);
    let v = verbs(&api);
    assert_eq!(
        &v[..2],
        [
            "list /apis/apps/v1/namespaces/app/statefulsets",
            "watch /apis/apps/v1/namespaces/app/statefulsets"
        ]
    );
    // The watch from the compacted resourceVersion got 410 Expired, and only then
    // came a new list (not at once when the watch broke).
    assert_eq!(
        &v[2..4],
        [
            "watch /apis/apps/v1/namespaces/app/statefulsets",
            "list /apis/apps/v1/namespaces/app/statefulsets"
        ],
        "{:?}",
        api.requests()
    );
    assert_eq!(api.expired(), 1, "{:?}", api.requests());
}

#[test]
fn a_refused_watch_falls_back_to_polling() {
    let api = FakeApi::start();
    api.deny(USER, "watch", "daemonsets");
    api.put("daemonsets", daemonset("agent", 3, 1));
    let start = Instant::now();
    let mut w = Watched::spawn(with_token(&api).args(["-t", "30s", "k8s://ds/agent"]));
    w.wait_for_line("polling instead", LIMIT);
    api.wait_for_requests("a second list", lists(2));
    api.put("daemonsets", daemonset("agent", 3, 3));
    let r = w.finish(start, LIMIT);
    assert_exited(&r, 0);
    assert!(
        r.stderr.contains("1 of 3 updated pods are available"),
        "{r:?}"
    );
    assert_eq!(
        verbs(&api)
            .iter()
            .filter(|v| v.starts_with("watch"))
            .count(),
        1
    );
}

#[test]
fn pods_behind_a_selector_all_ready_and_enough_of_them() {
    let api = FakeApi::start();
    api.put("pods", pod("db-0", true, json!({"app": "db"})));
    let start = Instant::now();
    let mut w =
        Watched::spawn(with_token(&api).args(["-t", "30s", "k8s://pods?selector=app%3Ddb&min=2"]));
    w.wait_for_line(
        "1 of 1 pods matching app=db ready (needs at least 2)",
        LIMIT,
    );
    api.wait_for_requests("the watch", watches(1));
    api.put("pods", pod("db-1", false, json!({"app": "db"})));
    w.wait_for_line("pod \"db-1\" not ready", LIMIT);
    api.put("pods", pod("db-2", false, json!({"app": "db"})));
    api.put("pods", pod("db-1", true, json!({"app": "db"})));
    w.wait_for_line(
        "2 of 3 pods matching app=db ready; pod \"db-2\" not ready",
        LIMIT,
    );
    api.delete("pods", "app", "db-2");
    let r = w.finish(start, LIMIT);
    assert_exited(&r, 0);
    assert!(
        api.requests()[0]
            .0
            .ends_with("labelSelector=app%3Ddb&limit=100"),
        "{:?}",
        api.requests()
    );
}

#[test]
fn a_client_certificate_from_the_kubeconfig() {
    let api = FakeApi::start();
    api.put("pods", pod("web-0", true, json!({})));
    let kc = api.kubeconfig("    client-certificate: client.crt\n    client-key: client.key");
    let r = run(
        whenready().env("KUBECONFIG", &kc).arg("k8s://pod/web-0"),
        LIMIT,
    );
    assert_exited(&r, 0);
    assert_eq!(api.requests()[0].1, "", "no token was sent");
    // The same as data in the kubeconfig.
    let data = |p: &Path| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(std::fs::read(p).unwrap())
    };
    let kc = api.kubeconfig(&format!(
        "    client-certificate-data: {}\n    client-key-data: {}",
        data(&api.client_cert),
        data(&api.client_key)
    ));
    let r = run(
        whenready().env("KUBECONFIG", &kc).arg("k8s://pod/web-0"),
        LIMIT,
    );
    assert_exited(&r, 0);
    // Without the certificate, the same server answers 401.
    let kc = api.kubeconfig("    {}");
    let r = run(
        whenready().env("KUBECONFIG", &kc).arg("k8s://pod/web-0"),
        LIMIT,
    );
    assert_exited(&r, 3);
    assert!(r.stderr.contains("unauthorized"), "{r:?}");
}

#[test]
fn broken_or_missing_credentials_are_usage_errors() {
    let dir = TempDir::new("k8s-creds");
    let kc = dir.join("config");
    std::fs::write(&kc, "current-context: [").unwrap();
    let r = run(whenready().env("KUBECONFIG", &kc).arg("k8s://pod/x"), LIMIT);
    assert_exited(&r, 2);
    assert!(
        r.stderr.contains("k8s://pod/x") && r.stderr.contains("is not YAML"),
        "{r:?}"
    );
    let r = run(whenready().env("HOME", &dir.0).arg("k8s://pod/x"), LIMIT);
    assert_exited(&r, 2);
    assert!(r.stderr.contains("no Kubernetes credentials"), "{r:?}");
    let r = run(whenready().env("HOME", &dir.0).arg("k8s://pod/Bad"), LIMIT);
    assert_exited(&r, 2);
    assert!(r.stderr.contains("not an object name"), "{r:?}");
}

/// whenready in a private mount namespace (`unshare --mount`, root) after `setup`.
fn in_namespace(setup: &str, args: &[&str]) -> Command {
    require("unshare", "util-linux");
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "sh", "-c"])
        .arg(format!("set -e; {setup}; exec \"$@\""))
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_whenready"))
        .args(args);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    cmd.stdin(std::process::Stdio::null());
    cmd
}

#[test]
fn in_cluster_the_service_account_token_is_read_again() {
    let api = FakeApi::start();
    api.put("jobs", job("migrate", "Running"));
    api.add_token("rotated-token-2", USER);
    let sa = TempDir::new("k8s-sa");
    std::fs::copy(&api.ca, sa.join("ca.crt")).unwrap();
    std::fs::write(sa.join("token"), TOKEN).unwrap();
    std::fs::write(sa.join("namespace"), "app").unwrap();
    let setup = format!(
        "mount -t tmpfs tmpfs /run; mkdir -p /run/secrets/kubernetes.io/serviceaccount; mount --bind {} /run/secrets/kubernetes.io/serviceaccount",
        sa.0.display()
    );
    let mut cmd = in_namespace(&setup, &["-t", "30s", "k8s://job/migrate"]);
    cmd.env("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        .env("KUBERNETES_SERVICE_PORT", api.fake.port.to_string());
    let start = Instant::now();
    let w = Watched::spawn(&mut cmd);
    api.wait_for_requests("the watch", watches(1));
    std::fs::write(sa.join("token"), "rotated-token-2").unwrap();
    api.drop_watches();
    api.wait_for_requests("a watch with the new token", |r| {
        r.iter()
            .any(|(q, t)| q.starts_with("watch") && t == "rotated-token-2")
    });
    api.put("jobs", job("migrate", "Complete"));
    let r = w.finish(start, LIMIT);
    assert_exited(&r, 0);
    let reqs = api.requests();
    assert_eq!(reqs[0].1, TOKEN);
    assert!(reqs[0].0.contains("/namespaces/app/"), "{reqs:?}");
    assert_no_secret(&r, TOKEN);
    assert_no_secret(&r, "rotated-token-2");
}

#[test]
fn the_final_reason_goes_to_the_termination_log() {
    let api = FakeApi::start();
    api.deny(USER, "list", "jobs");
    let dir = TempDir::new("k8s-termlog");
    let log = dir.join("termination-log");
    std::fs::write(&log, "").unwrap();
    let kc = api.kubeconfig(&format!("    token: {TOKEN}"));
    let setup = format!(
        "mount -t tmpfs tmpfs /dev; touch /dev/termination-log; mount --bind {} /dev/termination-log",
        log.display()
    );
    let mut cmd = in_namespace(&setup, &["-q", "k8s://job/migrate"]);
    cmd.env("KUBECONFIG", &kc);
    let r = run(&mut cmd, LIMIT);
    assert_exited(&r, 3);
    let written = std::fs::read_to_string(&log).unwrap();
    assert!(
        written.starts_with(
            "k8s://job/migrate: forbidden: cannot list batch/jobs in namespace \"app\""
        ),
        "{written:?}"
    );
    // Outside a pod (a /dev without the file), nothing is created: looked at in
    // the same private /dev, after whenready ended.
    require("unshare", "util-linux");
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "sh", "-c"])
        .arg(
            "mount -t tmpfs tmpfs /dev || exit 99; \"$@\"; code=$?; \
             if [ -e /dev/termination-log ]; then echo created; else echo absent; fi; exit $code",
        )
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_whenready"))
        .args(["-q", "k8s://job/migrate"]);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("KUBECONFIG", &kc)
        .stdin(std::process::Stdio::null());
    let r = run(&mut cmd, LIMIT);
    assert_exited(&r, 3);
    assert!(r.stderr.contains("forbidden"), "{r:?}");
    assert_eq!(r.stdout, "absent\n", "{r:?}");
}

#[test]
fn kubectl_reads_the_fake_as_an_api_server() {
    let kubectl = require("kubectl", "kubernetes-client");
    let api = FakeApi::start();
    api.put("pods", pod("web-0", true, json!({"app": "web"})));
    api.put("deployments", deployment("web", 2, 2, 2));
    let kc = api.kubeconfig(&format!("    token: {TOKEN}"));
    let kubectl = |args: &[&str]| {
        let out = Command::new(&kubectl)
            .env_clear()
            .env("KUBECONFIG", &kc)
            .env("HOME", api.dir.0.as_os_str())
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = kubectl(&["get", "pods", "-n", "app", "-o", "name"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(out.trim(), "pod/web-0");
    // Pages: kubectl asks for 500 and follows the fake's continue tokens.
    api.put("pods", pod("web-1", true, json!({"app": "web"})));
    api.put("pods", pod("web-2", true, json!({"app": "web"})));
    api.page_size(1);
    let (code, out, err) = kubectl(&["get", "pods", "-n", "app", "-o", "name"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(out.trim(), "pod/web-0\npod/web-1\npod/web-2");
    let pages: Vec<String> = api
        .requests()
        .into_iter()
        .map(|(r, _)| r)
        .filter(|r| r.starts_with("list /api/v1/namespaces/app/pods"))
        .skip(1)
        .collect();
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert!(
        pages[0].contains("limit=500") && !pages[0].contains("continue="),
        "{pages:?}"
    );
    assert!(
        pages[1].contains("limit=500") && pages[1].contains("continue=c-"),
        "{pages:?}"
    );
    api.page_size(0);
    let (code, out, err) = kubectl(&[
        "rollout",
        "status",
        "deployment/web",
        "-n",
        "app",
        "--timeout=20s",
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("successfully rolled out"), "{out}{err}");
    // kubectl sees the same refusal whenready reports.
    api.deny(USER, "list", "jobs");
    let (code, out, err) = kubectl(&["get", "jobs", "-n", "app"]);
    assert_ne!(code, Some(0));
    assert!(
        err.contains(r#"jobs.batch is forbidden: User "system:serviceaccount:app:web" cannot list resource "jobs" in API group "batch" in the namespace "app""#),
        "{out}{err}"
    );
}

/// kubectl against the fake, in a HOME (and discovery cache) of its own.
fn kubectl_on(api: &FakeApi, home: &Path) -> impl Fn(&[&str]) -> (Option<i32>, String, String) {
    let kubectl = require("kubectl", "kubernetes-client");
    let kc = api.kubeconfig(&format!("    token: {TOKEN}"));
    let home = home.to_path_buf();
    move |args: &[&str]| {
        let out = Command::new(&kubectl)
            .env_clear()
            .env("KUBECONFIG", &kc)
            .env("HOME", &home)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

/// Runs `kubectl` on another thread (a `kubectl wait` that the test then
/// satisfies).
fn in_background(
    kubectl: &(impl Fn(&[&str]) -> (Option<i32>, String, String) + Sync),
    args: &[&str],
    then: impl FnOnce(),
) -> (Option<i32>, String, String) {
    std::thread::scope(|s| {
        let h = s.spawn(|| kubectl(args));
        then();
        h.join().unwrap()
    })
}

#[test]
fn kubectl_discovers_custom_resources_and_waits_on_the_fake() {
    let api = FakeApi::start();
    api.put("pods", pod("web-0", true, json!({"app": "web"})));
    api.put("persistentvolumeclaims", pvc("data", "Pending"));
    api.put("nodes", node("worker-1", true));
    let home = TempDir::new("kubectl-home");
    let kubectl = kubectl_on(&api, &home.0);
    // No CRD yet: kubectl does not know the resource.
    let (code, out, err) = kubectl(&["get", "certificates", "-n", "app"]);
    assert_ne!(code, Some(0), "{out}{err}");
    assert!(
        err.contains("the server doesn't have a resource type \"certificates\""),
        "{err}"
    );
    // The CRD, Established: served, and discovered in the aggregated document.
    api.put("customresourcedefinitions", certificate_crd(true));
    api.put("certificates", certificate("web", false, 2, 1));
    let (code, out, err) = kubectl(&["api-resources", "--cached=false"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let row = |name: &str| {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .unwrap_or_else(|| panic!("no {name} in {out}"))
    };
    assert_eq!(
        row("certificates"),
        [
            "certificates",
            "cert,certs",
            "cert-manager.io/v1",
            "true",
            "Certificate"
        ]
    );
    assert_eq!(row("nodes"), ["nodes", "no", "v1", "false", "Node"]);
    assert_eq!(
        row("persistentvolumeclaims"),
        [
            "persistentvolumeclaims",
            "pvc",
            "v1",
            "true",
            "PersistentVolumeClaim"
        ]
    );
    let accepts = api.discovery_accepts();
    assert!(
        accepts
            .iter()
            .any(|(p, a)| p == "/apis" && a.contains("as=APIGroupDiscoveryList")),
        "{accepts:?}"
    );
    let (code, out, err) = kubectl(&["get", "certs", "-n", "app", "-o", "name"]);
    assert_eq!(
        (code, out.trim()),
        (Some(0), "certificate.cert-manager.io/web"),
        "{err}"
    );
    // wait --for=condition on the custom resource: not met while its condition is
    // for an older generation, then met.
    let (code, out, err) = in_background(
        &kubectl,
        &[
            "wait",
            "--for=condition=Ready",
            "certificate/web",
            "-n",
            "app",
            "--timeout=20s",
        ],
        || {
            api.wait_for_requests("kubectl's watch", |r| {
                r.iter().any(|(q, _)| {
                    q.starts_with("watch /apis/cert-manager.io/v1/namespaces/app/certificates")
                })
            });
            api.put("certificates", certificate("web", true, 2, 1));
            std::thread::sleep(Duration::from_millis(300));
            api.put("certificates", certificate("web", true, 2, 2));
        },
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("certificate.cert-manager.io/web condition met"),
        "{out}{err}"
    );
    // --for=condition on a cluster-scoped Node, and its negation.
    let (code, out, err) = kubectl(&[
        "wait",
        "--for=condition=Ready",
        "node/worker-1",
        "--timeout=5s",
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    let (code, _, _) = kubectl(&[
        "wait",
        "--for=condition=Ready=false",
        "node/worker-1",
        "--timeout=1s",
    ]);
    assert_ne!(code, Some(0));
    // --for=jsonpath: a PVC Bound.
    let (code, out, err) = in_background(
        &kubectl,
        &[
            "wait",
            "--for=jsonpath={.status.phase}=Bound",
            "pvc/data",
            "-n",
            "app",
            "--timeout=20s",
        ],
        || {
            api.wait_for_requests("kubectl's watch", |r| {
                r.iter().any(|(q, _)| {
                    q.starts_with("watch /api/v1/namespaces/app/persistentvolumeclaims")
                })
            });
            api.put("persistentvolumeclaims", pvc("data", "Bound"));
        },
    );
    assert_eq!(code, Some(0), "{out}{err}");
    // --for=delete.
    let (code, out, err) = in_background(
        &kubectl,
        &[
            "wait",
            "--for=delete",
            "pod/web-0",
            "-n",
            "app",
            "--timeout=20s",
        ],
        || {
            api.wait_for_requests("kubectl's watch", |r| {
                r.iter()
                    .any(|(q, _)| q.starts_with("watch /api/v1/namespaces/app/pods"))
            });
            api.delete("pods", "app", "web-0");
        },
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("pod/web-0 condition met"), "{out}{err}");
    // Deleting the CRD deletes its objects and the resource.
    api.delete(
        "customresourcedefinitions",
        "",
        "certificates.cert-manager.io",
    );
    let (code, out, err) = kubectl(&[
        "get",
        "certificates",
        "-n",
        "app",
        "--cache-dir",
        &home.join("fresh").display().to_string(),
    ]);
    assert_ne!(code, Some(0), "{out}{err}");
    // The group lists, as a server without the aggregated document serves them.
    api.put("customresourcedefinitions", certificate_crd(true));
    api.legacy_discovery();
    let legacy = TempDir::new("kubectl-home-legacy");
    let kubectl = kubectl_on(&api, &legacy.0);
    let (code, out, err) = kubectl(&["api-resources"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("certificates ") && l.contains("cert-manager.io/v1")),
        "{out}"
    );
    let (code, out, err) = kubectl(&["get", "cert", "-n", "app"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        verbs(&api)
            .iter()
            .any(|q| q == "discover /apis/cert-manager.io/v1"),
        "{:?}",
        api.requests()
    );
}

/// A manifest of examples/kubernetes/, and what its init container needs.
struct Example {
    path: String,
    docs: Vec<yaml_rust2::Yaml>,
}

impl Example {
    fn load(file: &str) -> Example {
        let path = format!("{}/examples/kubernetes/{file}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        let docs = yaml_rust2::YamlLoader::load_from_str(&text)
            .unwrap_or_else(|e| panic!("{path} is not YAML: {e}"));
        Example { path, docs }
    }

    fn all(&self, kind: &str) -> Vec<&yaml_rust2::Yaml> {
        self.docs
            .iter()
            .filter(|d| d["kind"].as_str() == Some(kind))
            .collect()
    }

    fn of(&self, kind: &str) -> &yaml_rust2::Yaml {
        self.all(kind)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no {kind} in {}", self.path))
    }

    /// The rules granted to the ServiceAccount by the Roles and ClusterRoles bound
    /// to it, as the fake grants them.
    fn grants(&self, sa: &str) -> Vec<Grant> {
        let strings = |y: &yaml_rust2::Yaml| -> Vec<String> {
            y.as_vec()
                .map(|v| {
                    v.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut out = Vec::new();
        for (binding, role) in [
            ("RoleBinding", "Role"),
            ("ClusterRoleBinding", "ClusterRole"),
        ] {
            for b in self.all(binding) {
                if b["subjects"][0]["name"].as_str() != Some(sa) {
                    continue;
                }
                assert_eq!(b["roleRef"]["kind"].as_str(), Some(role), "{}", self.path);
                let name = b["roleRef"]["name"].as_str();
                let r = self
                    .all(role)
                    .into_iter()
                    .find(|r| r["metadata"]["name"].as_str() == name)
                    .unwrap_or_else(|| panic!("no {role} {name:?} in {}", self.path));
                for rule in r["rules"].as_vec().unwrap() {
                    for resource in strings(&rule["resources"]) {
                        for verb in strings(&rule["verbs"]) {
                            out.push(Grant {
                                verb,
                                resource: resource.clone(),
                                names: strings(&rule["resourceNames"]),
                            });
                        }
                    }
                }
            }
        }
        out
    }

    /// The Deployment's pod: the init container's k8s:// targets, after checking
    /// that only that container gets an API token, projected where whenready
    /// reads the service account (token, CA, namespace).
    fn waiting_pod(&self) -> (String, Vec<String>) {
        let pod = &self.of("Deployment")["spec"]["template"]["spec"];
        let sa = pod["serviceAccountName"].as_str().unwrap().to_string();
        assert_eq!(
            pod["automountServiceAccountToken"].as_bool(),
            Some(false),
            "{}",
            self.path
        );
        let account = self
            .all("ServiceAccount")
            .into_iter()
            .find(|a| a["metadata"]["name"].as_str() == Some(&sa))
            .unwrap_or_else(|| panic!("no ServiceAccount {sa} in {}", self.path));
        assert_eq!(
            account["automountServiceAccountToken"].as_bool(),
            Some(false)
        );
        let volume = pod["volumes"]
            .as_vec()
            .unwrap()
            .iter()
            .find(|v| !v["projected"].is_badvalue())
            .unwrap_or_else(|| panic!("no projected volume in {}", self.path));
        let sources = volume["projected"]["sources"].as_vec().unwrap();
        let has = |f: &dyn Fn(&yaml_rust2::Yaml) -> bool| sources.iter().any(f);
        assert!(has(
            &|s| s["serviceAccountToken"]["path"].as_str() == Some("token")
        ));
        assert!(has(&|s| s["configMap"]["name"].as_str()
            == Some("kube-root-ca.crt")
            && s["configMap"]["items"][0]["path"].as_str()
                == Some("ca.crt")));
        assert!(has(&|s| s["downwardAPI"]["items"][0]["path"].as_str()
            == Some("namespace")
            && s["downwardAPI"]["items"][0]["fieldRef"]["fieldPath"]
                .as_str()
                == Some("metadata.namespace")));
        let name = volume["name"].as_str().unwrap();
        let mounts_it = |c: &yaml_rust2::Yaml| {
            c["volumeMounts"]
                .as_vec()
                .into_iter()
                .flatten()
                .find(|m| m["name"].as_str() == Some(name))
                .map(|m| m["mountPath"].as_str().unwrap().to_string())
        };
        let init = &pod["initContainers"][0];
        assert_eq!(
            mounts_it(init).as_deref(),
            Some(whenready::probe::k8s::config::SERVICE_ACCOUNT),
            "{}",
            self.path
        );
        for c in pod["containers"].as_vec().unwrap() {
            assert_eq!(mounts_it(c), None, "{}: the app gets no token", self.path);
        }
        let targets = init["args"]
            .as_vec()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .filter(|a| a.starts_with("k8s://"))
            .collect();
        (sa, targets)
    }
}

/// Runs the targets against a fake that grants only `grants`, once `setup` has
/// made them not ready, and `ready` then makes them ready: lists, watches and
/// discovery only, and exit 0.
fn run_as_granted(
    grants: Vec<Grant>,
    targets: &[String],
    setup: impl Fn(&FakeApi),
    ready: impl Fn(&FakeApi),
) {
    let api = FakeApi::start();
    api.grant_only(USER, grants);
    setup(&api);
    let start = Instant::now();
    let w = Watched::spawn(with_token(&api).args(["-t", "30s"]).args(targets));
    api.wait_for_requests("the first watch", watches(1));
    ready(&api);
    let r = w.finish(start, LIMIT);
    assert_exited(&r, 0);
    for v in verbs(&api) {
        assert!(
            v.starts_with("list ") || v.starts_with("watch ") || v.starts_with("discover "),
            "{v}"
        );
    }
}

#[test]
fn the_example_role_grants_what_its_init_container_needs() {
    let ex = Example::load("wait-for-service-and-migration.yaml");
    let (sa, targets) = ex.waiting_pod();
    assert_eq!(targets, ["k8s://service/postgres", "k8s://job/migrate"]);
    assert_eq!(ex.of("Job")["metadata"]["name"].as_str(), Some("migrate"));
    let grants = ex.grants(&sa);
    // Least privilege: list and watch, EndpointSlices, and the one Job by name.
    assert_eq!(
        grants,
        [
            Grant {
                verb: "list".into(),
                resource: "endpointslices".into(),
                names: vec![]
            },
            Grant {
                verb: "watch".into(),
                resource: "endpointslices".into(),
                names: vec![]
            },
            Grant {
                verb: "list".into(),
                resource: "jobs".into(),
                names: vec!["migrate".into()]
            },
            Grant {
                verb: "watch".into(),
                resource: "jobs".into(),
                names: vec!["migrate".into()]
            },
        ]
    );
    // The migration waits for PostgreSQL itself, without an API token.
    let job_pod = &ex.of("Job")["spec"]["template"]["spec"];
    assert_eq!(
        job_pod["automountServiceAccountToken"].as_bool(),
        Some(false)
    );
    let args: Vec<&str> = job_pod["initContainers"][0]["args"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    assert!(
        args.iter().any(|a| a.starts_with("postgres://")),
        "{args:?}"
    );
    run_as_granted(
        grants.clone(),
        &targets,
        |api| {
            api.put(
                "endpointslices",
                endpoint_slice("postgres-x1", "postgres", &[true]),
            );
            api.put("jobs", job("migrate", "Running"));
        },
        |api| api.put("jobs", job("migrate", "Complete")),
    );
    // The Role grants that Job only: another one is refused, naming the rule.
    let api = FakeApi::start();
    api.grant_only(USER, grants);
    let r = run(with_token(&api).arg("k8s://job/other"), LIMIT);
    assert_exited(&r, 3);
    assert!(
        r.stderr.contains("forbidden: cannot list batch/jobs"),
        "{r:?}"
    );
}

#[test]
fn the_certificate_example_grants_what_its_init_container_needs() {
    let ex = Example::load("wait-for-certificate-and-crd.yaml");
    let (sa, targets) = ex.waiting_pod();
    assert_eq!(
        targets,
        [
            "k8s://crd/certificates.cert-manager.io?condition=Established",
            "k8s://certificates.cert-manager.io/web-tls?condition=Ready"
        ]
    );
    assert_eq!(
        ex.of("Certificate")["metadata"]["name"].as_str(),
        Some("web-tls")
    );
    let grants = ex.grants(&sa);
    assert_eq!(grants.len(), 4, "{grants:?}");
    assert!(grants.iter().all(|g| g.names.len() == 1), "{grants:?}");
    run_as_granted(
        grants,
        &targets,
        |api| {
            api.put("customresourcedefinitions", certificate_crd(false));
        },
        |api| {
            // The Certificate's resource appears with its CRD; then it is issued.
            api.put("customresourcedefinitions", certificate_crd(true));
            api.put("certificates", certificate("web-tls", false, 1, 1));
            api.wait_for_requests("the Certificate's watch", |r| {
                r.iter()
                    .any(|(q, _)| q.starts_with("watch /apis/cert-manager.io/"))
            });
            api.put("certificates", certificate("web-tls", true, 1, 1));
        },
    );
}

#[test]
fn an_unreachable_api_server_is_transient() {
    let dir = TempDir::new("k8s-refused");
    let kc = dir.join("config");
    std::fs::write(
        &kc,
        format!("current-context: c\ncontexts:\n- name: c\n  context: {{cluster: k, user: u}}\nclusters:\n- name: k\n  cluster: {{server: 'https://127.0.0.1:{}', insecure-skip-tls-verify: true}}\nusers:\n- name: u\n  user: {{token: abc}}\n", free_port()),
    )
    .unwrap();
    let r = run(
        whenready()
            .env("KUBECONFIG", &kc)
            .args(["-t", "1s", "k8s://pod/x"]),
        LIMIT,
    );
    assert_exited(&r, 1);
    assert!(r.stderr.contains("connection refused"), "{r:?}");
}

#[test]
fn a_hundred_waiters_cost_the_server_one_list_and_one_watch_each() {
    let api = FakeApi::start();
    api.put("deployments", deployment("web", 3, 1, 1));
    let targets = vec!["k8s://app/deployment/web"; 100];
    let start = Instant::now();
    let w = Watched::spawn(
        with_token(&api)
            .args(["--json", "-t", "60s"])
            .args(&targets),
    );
    api.wait_for_requests("every watch", watches(100));
    api.put("deployments", deployment("web", 3, 3, 2));
    api.put("deployments", deployment("web", 3, 3, 3));
    let r = w.finish(start, Duration::from_secs(90));
    assert_exited(&r, 0);
    let v = verbs(&api);
    assert_eq!(v.iter().filter(|x| x.starts_with("list")).count(), 100);
    assert_eq!(v.iter().filter(|x| x.starts_with("watch")).count(), 100);
    let ready: Vec<u64> = events(&r)
        .iter()
        .filter(|e| e["event"] == "ready")
        .map(|e| e["requests"].as_u64().unwrap())
        .collect();
    assert_eq!(ready, vec![2; 100]);
}

/// A kubeconfig user whose token comes from an exec credential plugin: a shell
/// script in the fake's directory that checks what client-go would pass it, counts
/// its runs in `runs`, and prints an ExecCredential expiring at `expiry`.
fn exec_plugin(api: &FakeApi, expiry: &str) -> std::path::PathBuf {
    slow_exec_plugin(api, expiry, "0")
}

/// [`exec_plugin`] that takes `seconds` to answer.
fn slow_exec_plugin(api: &FakeApi, expiry: &str, seconds: &str) -> std::path::PathBuf {
    let script = api.dir.join("token-plugin");
    std::fs::write(
        &script,
        format!(
            r#"#!/bin/sh
case "$KUBERNETES_EXEC_INFO" in *'"kind":"ExecCredential"'*'"interactive":false'*) ;; *) echo "bad KUBERNETES_EXEC_INFO" >&2; exit 1;; esac
[ "$1" = get-token ] && [ "$CLUSTER" = fake ] || {{ echo "bad args or env" >&2; exit 1; }}
echo run >> "$(dirname "$0")/runs"
sleep {seconds}
printf '{{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{{"token":"{TOKEN}","expirationTimestamp":"{expiry}"}}}}\n'
"#
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    api.kubeconfig(
        "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: ./token-plugin\n      args: [get-token]\n      env: [{name: CLUSTER, value: fake}]\n      installHint: install the fake's plugin\n      interactiveMode: Never",
    )
}

fn plugin_runs(api: &FakeApi) -> usize {
    std::fs::read_to_string(api.dir.join("runs"))
        .unwrap_or_default()
        .lines()
        .count()
}

#[test]
fn an_exec_credential_plugin_gives_the_token_until_it_expires() {
    let api = FakeApi::start();
    api.put("jobs", job("migrate", "Running"));
    // Valid for long: one run for the list and the watch.
    let kc = exec_plugin(&api, "2999-01-01T00:00:00Z");
    let start = Instant::now();
    let w =
        Watched::spawn(
            whenready()
                .env("KUBECONFIG", &kc)
                .args(["-t", "30s", "k8s://job/migrate"]),
        );
    api.wait_for_requests("the watch", watches(1));
    api.put("jobs", job("migrate", "Complete"));
    let r = w.finish(start, LIMIT);
    assert_exited(&r, 0);
    assert_eq!(plugin_runs(&api), 1);
    assert!(api.requests().iter().all(|(_, t)| t == TOKEN));
    assert_no_secret(&r, TOKEN);
    // Expired at once: the plugin runs again for every request.
    std::fs::remove_file(api.dir.join("runs")).unwrap();
    let kc = exec_plugin(&api, "2000-01-01T00:00:00Z");
    let r = run(
        whenready()
            .env("KUBECONFIG", &kc)
            .args(["k8s://job/migrate", "k8s://job/migrate"]),
        LIMIT,
    );
    assert_exited(&r, 0);
    assert_eq!(plugin_runs(&api), 2);
    // A plugin that is not there: permanent, with its install hint.
    std::fs::remove_file(api.dir.join("token-plugin")).unwrap();
    let r = run(
        whenready().env("KUBECONFIG", &kc).arg("k8s://job/migrate"),
        LIMIT,
    );
    assert_exited(&r, 3);
    assert!(
        r.stderr.contains("token-plugin")
            && r.stderr.contains("not found; install the fake's plugin"),
        "{r:?}"
    );
}

#[test]
fn one_plugin_run_serves_every_target_of_the_kubeconfig() {
    let api = FakeApi::start();
    for name in ["a", "b", "c"] {
        api.put("pods", pod(name, true, json!({})));
    }
    // Three targets ask for the token at once; the plugin takes 0.3 s.
    let kc = slow_exec_plugin(&api, "2999-01-01T00:00:00Z", "0.3");
    let r = run(
        whenready().env("KUBECONFIG", &kc).args([
            "-t",
            "30s",
            "k8s://pod/a",
            "k8s://pod/b",
            "k8s://pod/c",
        ]),
        LIMIT,
    );
    assert_exited(&r, 0);
    assert_eq!(plugin_runs(&api), 1, "{r:?}");
    assert_eq!(api.requests().len(), 3);
    assert!(api.requests().iter().all(|(_, t)| t == TOKEN));
}

#[test]
fn a_dual_stack_service_counts_each_pod_once() {
    let api = FakeApi::start();
    // One ready pod, in the IPv4 and in the IPv6 EndpointSlice of the Service.
    api.put("endpointslices", endpoint_slice("web-v4", "web", &[true]));
    api.put(
        "endpointslices",
        endpoint_slice_ipv6("web-v6", "web", &[true]),
    );
    let r = run(
        with_token(&api).args(["-t", "1s", "k8s://svc/web?min=2"]),
        LIMIT,
    );
    assert_exited(&r, 1);
    assert!(
        r.stderr
            .contains("service \"web\" has 1 ready endpoint (needs 2)"),
        "{r:?}"
    );
    // Two ready pods, each in both slices: two endpoints.
    api.put(
        "endpointslices",
        endpoint_slice("web-v4", "web", &[true, true]),
    );
    api.put(
        "endpointslices",
        endpoint_slice_ipv6("web-v6", "web", &[true, true]),
    );
    let r = run(
        with_token(&api).args(["--once", "k8s://svc/web?min=2"]),
        LIMIT,
    );
    assert_exited(&r, 0);
    let r = run(
        with_token(&api).args(["--once", "k8s://svc/web?min=3"]),
        LIMIT,
    );
    assert_exited(&r, 1);
}

// ------------------------------------------------- any resource, conditions, fields

/// The requests that are not discovery.
fn object_requests(api: &FakeApi) -> Vec<String> {
    verbs(api)
        .into_iter()
        .filter(|v| !v.starts_with("discover "))
        .collect()
}

#[test]
fn a_custom_resource_ready_late_runs_the_command() {
    let api = FakeApi::start();
    api.put("customresourcedefinitions", certificate_crd(true));
    // Generation 2, its Ready condition still for generation 1.
    api.put("certificates", certificate("web", false, 2, 1));
    let target = "k8s://certificates.cert-manager.io/web?condition=Ready";
    let start = Instant::now();
    let mut w =
        Watched::spawn(with_token(&api).args(["--json", "-t", "30s", target, "--", "echo", "ran"]));
    w.wait_for_line(
        "condition Ready is for generation 1, the object is at 2",
        LIMIT,
    );
    api.wait_for_requests("the watch", watches(1));
    api.put("certificates", certificate("web", false, 2, 2));
    w.wait_for_line(
        r#"certificate \"web\": Ready is False (waiting for True) (DoesNotExist: Issuing certificate as Secret does not exist)"#,
        LIMIT,
    );
    api.put("certificates", certificate("web", true, 2, 2));
    let r = w.finish(start, LIMIT);
    assert_exited(&r, 0);
    assert_eq!(r.stdout, "ran\n");
    // One discovery (the name has its group: /apis only), one list, one watch.
    assert_eq!(
        verbs(&api),
        [
            "discover /apis",
            "list /apis/cert-manager.io/v1/namespaces/app/certificates",
            "watch /apis/cert-manager.io/v1/namespaces/app/certificates"
        ]
    );
    let accepts = api.discovery_accepts();
    assert!(
        accepts[0]
            .1
            .contains("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"),
        "{accepts:?}"
    );
    assert_eq!(requests(&r, "ready", target), 3);
}

#[test]
fn a_condition_never_met_exits_1_with_its_reason_and_message() {
    let api = FakeApi::start();
    api.put("customresourcedefinitions", certificate_crd(true));
    api.put("certificates", certificate("web", false, 1, 1));
    let r = run(
        with_token(&api).args(["-t", "2s", "k8s://cert/web?condition=Ready"]),
        LIMIT,
    );
    assert_exited(&r, 1);
    let last = r.stderr.lines().last().unwrap_or("");
    assert!(
        last.contains(r#"k8s://cert/web?condition=Ready: certificate "web": Ready is False (waiting for True) (DoesNotExist: Issuing certificate as Secret does not exist)"#),
        "{r:?}"
    );
    // The short name was found in the aggregated documents: core first, then
    // the groups; one list and one watch after them.
    assert_eq!(
        verbs(&api),
        [
            "discover /api",
            "discover /apis",
            "list /apis/cert-manager.io/v1/namespaces/app/certificates",
            "watch /apis/cert-manager.io/v1/namespaces/app/certificates"
        ]
    );
}

#[test]
fn forbidden_on_any_resource_names_the_verb_resource_and_scope() {
    let api = FakeApi::start();
    api.put("customresourcedefinitions", certificate_crd(true));
    api.deny(USER, "list", "certificates");
    api.deny(USER, "list", "nodes");
    let r = run(
        with_token(&api).arg("k8s://certificate/web?condition=Ready"),
        LIMIT,
    );
    assert_exited(&r, 3);
    assert!(
        r.stderr.contains(r#"forbidden: cannot list cert-manager.io/certificates in namespace "app" (User "system:serviceaccount:app:web"); grant: apiGroups: ["cert-manager.io"], resources: ["certificates"], verbs: ["list","watch"]"#),
        "{r:?}"
    );
    let r = run(
        with_token(&api).arg("k8s://node/worker-1?condition=Ready"),
        LIMIT,
    );
    assert_exited(&r, 3);
    assert!(
        r.stderr.contains(r#"forbidden: cannot list nodes at the cluster scope (User "system:serviceaccount:app:web"); grant in a ClusterRole: apiGroups: [""], resources: ["nodes"], verbs: ["list","watch"]"#),
        "{r:?}"
    );
    // A refused watch: polling, as for the built-in kinds.
    let api = FakeApi::start();
    api.put("customresourcedefinitions", certificate_crd(true));
    api.put("certificates", certificate("web", true, 1, 1));
    api.deny(USER, "watch", "certificates");
    let r = run(
        with_token(&api).args([
            "-t",
            "10s",
            "k8s://app/certs?selector=app%3Dweb&condition=Ready",
        ]),
        LIMIT,
    );
    assert_exited(&r, 0);
}

#[test]
fn an_unknown_resource_is_transient_until_its_crd_is_established() {
    let api = FakeApi::start();
    let start = Instant::now();
    let mut w = Watched::spawn(with_token(&api).args([
        "-t",
        "30s",
        "k8s://certificate/web?condition=Ready",
        "--",
        "echo",
        "ran",
    ]));
    w.wait_for_line(
        r#"the API server does not know the resource "certificate" (yet: is its CustomResourceDefinition installed?)"#,
        LIMIT,
    );
    // Installed, not yet Established: still unknown.
    api.put("customresourcedefinitions", certificate_crd(false));
    api.wait_for_requests("discovery after the CRD", |r| {
        r.iter()
            .filter(|(q, _)| q.starts_with("discover /apis"))
            .count()
            >= 2
    });
    api.put("customresourcedefinitions", certificate_crd(true));
    api.put("certificates", certificate("web", true, 1, 1));
    let r = w.finish(start, LIMIT);
    assert_exited(&r, 0);
    assert_eq!(r.stdout, "ran\n");
    // Then one list: the resource was found once.
    assert_eq!(
        object_requests(&api),
        ["list /apis/cert-manager.io/v1/namespaces/app/certificates"]
    );
    // A resource no server has: transient to the deadline.
    let r = run(
        with_token(&api).args(["-t", "2s", "k8s://widgets.example.com/x"]),
        LIMIT,
    );
    assert_exited(&r, 1);
    assert!(
        r.stderr
            .contains(r#"the API server does not know the resource "widgets.example.com""#),
        "{r:?}"
    );
}

#[test]
fn a_crd_established_a_node_ready_an_apiservice_available() {
    let api = FakeApi::start();
    api.put("customresourcedefinitions", certificate_crd(false));
    api.put("nodes", node("worker-1", false));
    api.put("apiservices", apiservice("v1beta1.metrics.k8s.io", false));
    let targets = [
        "k8s://crd/certificates.cert-manager.io?condition=Established",
        "k8s://node/worker-1?condition=Ready",
        "k8s://apiservice/v1beta1.metrics.k8s.io?condition=Available",
    ];
    let start = Instant::now();
    let mut w = Watched::spawn(with_token(&api).arg("-t").arg("30s").args(targets));
    w.wait_for_line(
        r#"node "worker-1": Ready is False (waiting for True) (KubeletNotReady: container runtime network not ready"#,
        LIMIT,
    );
    api.wait_for_requests("the watches", watches(3));
    api.put("customresourcedefinitions", certificate_crd(true));
    api.put("nodes", node("worker-1", true));
    api.put("apiservices", apiservice("v1beta1.metrics.k8s.io", true));
    let r = w.finish(start, LIMIT);
    assert_exited(&r, 0);
    // Cluster-scoped: no namespace in the paths; one discovery for the three.
    let v = verbs(&api);
    for path in [
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        "/api/v1/nodes",
        "/apis/apiregistration.k8s.io/v1/apiservices",
    ] {
        assert!(v.contains(&format!("list {path}")), "{v:?}");
    }
    assert_eq!(
        v.iter().filter(|x| *x == "discover /apis").count(),
        1,
        "{v:?}"
    );
    // A namespace for a cluster-scoped resource is a mistake: permanent.
    let r = run(with_token(&api).arg("k8s://app/node/worker-1"), LIMIT);
    assert_exited(&r, 3);
    assert!(
        r.stderr
            .contains("nodes are cluster-scoped: write k8s://node/… without a namespace"),
        "{r:?}"
    );
}

#[test]
fn fields_a_pvc_bound_and_a_load_balancer_with_an_address() {
    let api = FakeApi::start();
    api.put("persistentvolumeclaims", pvc("data", "Pending"));
    let r = run(
        with_token(&api).args(["-t", "2s", "k8s://pvc/data?field=/status/phase:Bound"]),
        LIMIT,
    );
    assert_exited(&r, 1);
    assert!(
        r.stderr.contains(
            r#"persistentvolumeclaim "data": /status/phase is "Pending" (expected Bound)"#
        ),
        "{r:?}"
    );
    let lb = json!({"metadata": {"name": "web", "namespace": "app"},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 443}]}, "status": {"loadBalancer": {}}});
    api.put("services", lb.clone());
    let start = Instant::now();
    let mut w = Watched::spawn(with_token(&api).args([
        "-t",
        "30s",
        "k8s://pvc/data?field=/status/phase:Bound",
        "k8s://svc/web?field=/status/loadBalancer/ingress/0/ip",
    ]));
    w.wait_for_line(
        r#"service "web" has no /status/loadBalancer/ingress/0/ip (expected a value other than null and false)"#,
        LIMIT,
    );
    api.wait_for_requests("the watches", watches(2));
    api.put("persistentvolumeclaims", pvc("data", "Bound"));
    let mut ready = lb;
    ready["status"]["loadBalancer"] = json!({"ingress": [{"ip": "192.0.2.10"}]});
    api.put("services", ready);
    let r = w.finish(start, LIMIT);
    assert_exited(&r, 0);
    // The Service itself, not its EndpointSlices, with field=.
    assert!(
        verbs(&api).contains(&"list /api/v1/namespaces/app/services".to_string()),
        "{:?}",
        api.requests()
    );
}

#[test]
fn selectors_on_any_resource_every_match_and_enough_of_them() {
    let api = FakeApi::start();
    let job_of = |name: &str, state: &str| {
        let mut j = job(name, state);
        j["metadata"]["labels"] = json!({"release": "r1"});
        j
    };
    api.put("jobs", job_of("migrate", "Complete"));
    api.put("jobs", job_of("seed", "Running"));
    let start = Instant::now();
    let mut w = Watched::spawn(with_token(&api).args([
        "-t",
        "30s",
        "k8s://jobs?selector=release%3Dr1&min=3",
    ]));
    w.wait_for_line(
        r#"1 of 2 jobs matching release=r1 ready (needs at least 3); job "seed" not complete"#,
        LIMIT,
    );
    api.wait_for_requests("the watch", watches(1));
    api.put("jobs", job_of("seed", "Complete"));
    api.put("jobs", job_of("index", "Complete"));
    let r = w.finish(start, LIMIT);
    assert_exited(&r, 0);
    // One failed Job of the release: permanent.
    api.put("jobs", job_of("index", "Failed"));
    let r = run(
        with_token(&api).arg("k8s://jobs?selector=release%3Dr1"),
        LIMIT,
    );
    assert_exited(&r, 3);
    assert!(
        r.stderr
            .contains(r#"job "index" failed: BackoffLimitExceeded"#),
        "{r:?}"
    );
    // Custom resources by label, each with its condition.
    api.put("customresourcedefinitions", certificate_crd(true));
    api.put("certificates", certificate("web", true, 1, 1));
    api.put("certificates", certificate("api", false, 1, 1));
    let r = run(
        with_token(&api).args([
            "-t",
            "2s",
            "k8s://certificates.cert-manager.io?selector=app%3Dweb&condition=Ready",
        ]),
        LIMIT,
    );
    assert_exited(&r, 1);
    assert!(
        r.stderr.contains(
            r#"1 of 2 certificates matching app=web ready; certificate "api": Ready is False"#
        ),
        "{r:?}"
    );
}

#[test]
fn finished_pods_are_not_counted_by_a_pod_selector() {
    let api = FakeApi::start();
    api.put("pods", pod("db-0", true, json!({"app": "db"})));
    // Evicted: phase Failed, never Ready again.
    let mut evicted = pod("db-old", false, json!({"app": "db"}));
    evicted["status"]["phase"] = json!("Failed");
    evicted["status"]["reason"] = json!("Evicted");
    evicted["status"]["message"] = json!("The node was low on resource: memory.");
    api.put("pods", evicted);
    let mut done = pod("db-init", false, json!({"app": "db"}));
    done["status"]["phase"] = json!("Succeeded");
    api.put("pods", done);
    let r = run(
        with_token(&api).args(["-t", "5s", "k8s://pods?selector=app%3Ddb"]),
        LIMIT,
    );
    assert_exited(&r, 0);
    // min= counts the running ones only.
    let r = run(
        with_token(&api).args(["-t", "1s", "k8s://pods?selector=app%3Ddb&min=2"]),
        LIMIT,
    );
    assert_exited(&r, 1);
    assert!(
        r.stderr.contains(
            "1 of 1 pods matching app=db ready (2 finished pods not counted) (needs at least 2)"
        ),
        "{r:?}"
    );
}

#[test]
fn legacy_discovery_group_by_group_shared_by_the_targets() {
    let api = FakeApi::start();
    api.legacy_discovery();
    api.put("customresourcedefinitions", certificate_crd(true));
    api.put("certificates", certificate("web", true, 1, 1));
    api.put("persistentvolumeclaims", pvc("data", "Bound"));
    let targets = [
        "k8s://cert/web?condition=Ready",
        "k8s://pvc/data?field=/status/phase:Bound",
        "k8s://certificates.v1.cert-manager.io/web?condition=ready=TRUE",
    ];
    let r = run(with_token(&api).arg("-t").arg("10s").args(targets), LIMIT);
    assert_exited(&r, 0);
    let v = verbs(&api);
    // Asked for the aggregated document, answered with the lists: the core
    // group's, the group list, then group by group until cert-manager.io.
    assert_eq!(
        v.iter().filter(|x| *x == "discover /api").count(),
        1,
        "{v:?}"
    );
    assert_eq!(
        v.iter().filter(|x| *x == "discover /api/v1").count(),
        1,
        "{v:?}"
    );
    assert_eq!(
        v.iter().filter(|x| *x == "discover /apis").count(),
        1,
        "{v:?}"
    );
    assert_eq!(
        v.iter()
            .filter(|x| *x == "discover /apis/cert-manager.io/v1")
            .count(),
        1,
        "{v:?}"
    );
    assert_eq!(
        v.iter().filter(|x| x.starts_with("list ")).count(),
        3,
        "{v:?}"
    );
}

// ---------------------------------------------------------------- --reverse

#[test]
fn reverse_waits_until_the_object_is_deleted_not_until_it_is_unready() {
    let api = FakeApi::start();
    // A Job that is not complete: "not ready", but there.
    api.put("jobs", job("migrate", "Running"));
    let start = Instant::now();
    let mut w = Watched::spawn(with_token(&api).args([
        "--reverse",
        "-t",
        "30s",
        "k8s://job/migrate",
        "--",
        "echo",
        "deleted",
    ]));
    w.wait_for_line("k8s://job/migrate not gone: still there", LIMIT);
    api.wait_for_requests("the watch", watches(1));
    api.delete("jobs", "app", "migrate");
    let r = w.finish(start, LIMIT);
    assert_exited(&r, 0);
    assert_eq!(r.stdout, "deleted\n");
    assert!(
        r.stderr.contains(r#"k8s://job/migrate gone after"#)
            && r.stderr.contains(r#"job "migrate" not found"#),
        "{r:?}"
    );
    // The DELETED event ended it: one list, one watch.
    assert_eq!(
        verbs(&api),
        [
            "list /apis/batch/v1/namespaces/app/jobs",
            "watch /apis/batch/v1/namespaces/app/jobs"
        ]
    );
}

#[test]
fn reverse_on_selectors_custom_resources_and_services() {
    let api = FakeApi::start();
    api.put("pods", pod("web-0", false, json!({"app": "web"})));
    api.put("pods", pod("web-1", true, json!({"app": "web"})));
    api.put("customresourcedefinitions", certificate_crd(true));
    api.put("certificates", certificate("web", false, 1, 1));
    // A Service with no ready endpoint is still there.
    api.put(
        "services",
        json!({"metadata": {"name": "db", "namespace": "app"}, "spec": {"ports": [{"port": 5432}]}}),
    );
    let targets = [
        "k8s://pods?selector=app%3Dweb",
        "k8s://certificates.cert-manager.io/web",
        "k8s://svc/db",
    ];
    let start = Instant::now();
    let w = Watched::spawn(
        with_token(&api)
            .args(["--reverse", "-t", "30s"])
            .args(targets),
    );
    api.wait_for_requests("the watches", watches(3));
    api.delete("pods", "app", "web-0");
    api.delete("services", "app", "db");
    // Deleting the CRD deletes the Certificate.
    api.delete(
        "customresourcedefinitions",
        "",
        "certificates.cert-manager.io",
    );
    api.delete("pods", "app", "web-1");
    let r = w.finish(start, LIMIT);
    assert_exited(&r, 0);
    for gone in ["no pod matches app=web", r#"service "db" not found"#] {
        assert!(r.stderr.contains(gone), "{gone}: {r:?}");
    }
    // The Certificate's DELETED event, or (when the watch starts again after
    // the CRD is gone) the 404 of its collection.
    assert!(
        r.stderr.contains(r#"certificate "web" not found"#)
            || r.stderr.contains(
                "the API server no longer serves certificates.cert-manager.io: no object of it exists"
            ),
        "{r:?}"
    );
    // The Service itself was watched, not its EndpointSlices.
    assert!(
        verbs(&api).contains(&"watch /api/v1/namespaces/app/services".to_string()),
        "{:?}",
        api.requests()
    );
    // A resource the server does not know: no object of it exists.
    let r = run(
        with_token(&api).args(["--reverse", "-t", "10s", "k8s://certificate/web"]),
        LIMIT,
    );
    assert_exited(&r, 0);
    assert!(
        r.stderr.contains(
            r#"the API server does not know the resource "certificate": no object of it exists"#
        ),
        "{r:?}"
    );
    // Still there at the deadline.
    api.put("jobs", job("migrate", "Complete"));
    let r = run(
        with_token(&api).args(["--reverse", "-t", "1s", "k8s://job/migrate"]),
        LIMIT,
    );
    assert_exited(&r, 1);
    assert!(r.stderr.contains("1 of 1 not gone"), "{r:?}");
    // A condition means nothing with --reverse: said at once.
    let r = run(
        with_token(&api).args([
            "--reverse",
            "-t",
            "10s",
            "k8s://job/migrate?condition=Complete",
        ]),
        LIMIT,
    );
    assert_exited(&r, 3);
    assert!(
        r.stderr
            .contains("condition=, field= and min= do not apply"),
        "{r:?}"
    );
    // Forbidden stays forbidden, not gone.
    api.deny(USER, "list", "jobs");
    let r = run(
        with_token(&api).args(["--reverse", "-t", "10s", "k8s://job/migrate"]),
        LIMIT,
    );
    assert_exited(&r, 3);
}
