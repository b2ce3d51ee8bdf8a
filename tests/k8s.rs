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
    w.wait_for_line("2 of 3 pods matching app=db ready; pod \"db-2\" not ready", LIMIT);
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

#[test]
fn the_example_role_grants_what_its_init_container_needs() {
    use yaml_rust2::{Yaml, YamlLoader};
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/kubernetes/wait-for-service-and-migration.yaml"
    );
    let docs = YamlLoader::load_from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let of = |kind: &str| -> &Yaml {
        docs.iter()
            .find(|d| d["kind"].as_str() == Some(kind))
            .unwrap_or_else(|| panic!("no {kind} in {path}"))
    };
    let name = |d: &Yaml| d["metadata"]["name"].as_str().unwrap().to_string();
    let (sa, role, binding, deploy) = (
        of("ServiceAccount"),
        of("Role"),
        of("RoleBinding"),
        of("Deployment"),
    );
    assert_eq!(
        binding["roleRef"]["name"].as_str(),
        Some(name(role).as_str())
    );
    assert_eq!(
        binding["subjects"][0]["name"].as_str(),
        Some(name(sa).as_str())
    );
    let pod = &deploy["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"].as_str(), Some(name(sa).as_str()));
    assert_eq!(of("Job")["metadata"]["name"].as_str(), Some("migrate"));
    // The Role's rules, as (verb, resource) pairs.
    let mut rules = Vec::new();
    for rule in role["rules"].as_vec().unwrap() {
        for res in rule["resources"].as_vec().unwrap() {
            for verb in rule["verbs"].as_vec().unwrap() {
                rules.push((
                    verb.as_str().unwrap().to_string(),
                    res.as_str().unwrap().to_string(),
                ));
            }
        }
    }
    // The init container's k8s targets, against a server that grants only the Role.
    let args: Vec<String> = pod["initContainers"][0]["args"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .filter(|a| a.starts_with("k8s://"))
        .collect();
    assert_eq!(args, ["k8s://service/postgres", "k8s://job/migrate"]);
    let api = FakeApi::start();
    api.grant_only(USER, rules);
    api.put(
        "endpointslices",
        endpoint_slice("postgres-x1", "postgres", &[true]),
    );
    api.put("jobs", job("migrate", "Running"));
    let start = Instant::now();
    let w = Watched::spawn(with_token(&api).args(["-t", "30s"]).args(&args));
    api.wait_for_requests("the watches", watches(1));
    api.put("jobs", job("migrate", "Complete"));
    let r = w.finish(start, LIMIT);
    assert_exited(&r, 0);
    // Lists and watches only: the Role needs no other verb.
    for v in verbs(&api) {
        assert!(v.starts_with("list ") || v.starts_with("watch "), "{v}");
    }
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
