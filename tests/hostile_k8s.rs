//! k8s:// targets against a hostile or merely large API server, and exec credential
//! plugins that hang: the contract's "Hostile peers" for the Kubernetes kind.
//!
//! The fake API server of tests/common/k8s.rs (checked with the real kubectl in
//! tests/k8s.rs) answers a list or a discovery request with 64 MB (or with a
//! discovery document just under the cap, full of resources no target names),
//! streams a watch event line that never ends, or pages a list over several
//! continue tokens. whenready must exit within
//! the deadline's slack with its peak memory (`VmHWM`) under the 16 MiB an attempt
//! may use, read every page before it judges, and leave no plugin process behind:
//! not at the deadline, not on SIGTERM, not when it becomes COMMAND, not when the
//! attempt timeout cuts an attempt.

mod common;
#[path = "common/k8s.rs"]
mod k8s;

use common::hostile::*;
use common::*;
use k8s::*;
use serde_json::json;
use std::process::Command;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(60);

/// The peak memory (KiB) of this build of whenready waiting 2 s on a pod that is
/// not ready, from a well-behaved API server: what any k8s run has before a peer
/// can make it take more. Measured once per test binary.
fn baseline_kib() -> u64 {
    static BASE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *BASE.get_or_init(|| {
        let api = FakeApi::start();
        api.put("pods", pod("web-0", false, json!({})));
        let m = run_measured(
            with_token(&api).args(["-t", "2s", "k8s://pod/web-0"]),
            LIMIT,
        );
        assert_exited(&m.run, 1);
        m.peak_kib
    })
}

/// Asserts the contract's bound on what one target's attempt takes: the whole
/// peak (`VmHWM`) of a release build, which starts at about 3 MiB. A debug build
/// maps 10 to 13 MiB of its own code (RssFile) before any attempt, so there the
/// bound applies to the peak above [`baseline_kib`].
fn assert_attempt_memory(m: &Measured) {
    let base = baseline_kib();
    eprintln!(
        "peak {} KiB, baseline {base} KiB, {:?}",
        m.peak_kib, m.run.elapsed
    );
    if cfg!(debug_assertions) {
        let above = Measured {
            run: Run {
                code: m.run.code,
                signal: m.run.signal,
                stdout: m.run.stdout.clone(),
                stderr: m.run.stderr.clone(),
                elapsed: m.run.elapsed,
            },
            // 0 stays 0: never read.
            peak_kib: match m.peak_kib {
                0 => 0,
                p => p.saturating_sub(base).max(1),
            },
        };
        assert_bounded_memory(&above);
    } else {
        assert_bounded_memory(m);
    }
}

/// whenready with a kubeconfig whose user has the default token.
fn with_token(api: &FakeApi) -> Command {
    let kc = api.kubeconfig(&format!("    token: {TOKEN}"));
    let mut cmd = whenready();
    cmd.env("KUBECONFIG", kc);
    cmd
}

fn requests_of(api: &FakeApi, verb: &str) -> Vec<String> {
    api.requests()
        .into_iter()
        .map(|(r, _)| r)
        .filter(|r| r.starts_with(verb))
        .collect()
}

/// The value of `key` in a request's query.
fn query_param<'a>(request: &'a str, key: &str) -> Option<&'a str> {
    let query = request.split_once('?')?.1;
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

/// Runs `-t 5s TARGET` against the fake and checks what every attack on the API
/// server shares: exit 1 within the deadline's slack, no more memory than an
/// attempt may use, `reason` said.
fn held(api: &FakeApi, target: &str, reason: &str) {
    let m = run_measured(with_token(api).args(["-t", "5s", target]), LIMIT);
    assert_exited(&m.run, 1);
    assert_within_deadline(&m.run, Duration::from_secs(5));
    assert_attempt_memory(&m);
    assert!(m.run.stderr.contains(reason), "{reason}: {:?}", m.run);
}

#[test]
fn with_reverse_a_silent_api_server_is_not_taken_for_a_deleted_object() {
    let api = FakeApi::start();
    api.put("jobs", job("migrate", "Running"));
    api.misbehave(Mischief::Silent);
    let timeout = Duration::from_secs(4);
    let r = run(
        with_token(&api).args([
            "--reverse",
            "--attempt-timeout",
            "1s",
            "-t",
            "4s",
            "k8s://job/migrate",
            "--",
            "echo",
            "deleted",
        ]),
        LIMIT,
    );
    // Every attempt was cut unanswered: that says nothing of the Job, which is
    // still there; the wait ends at the deadline and COMMAND never runs.
    assert_exited(&r, 1);
    assert_within_deadline(&r, timeout);
    assert_eq!(r.stdout, "", "{r:?}");
    assert!(
        r.stderr
            .contains("k8s://job/migrate not gone: no answer within 1.0s")
            && r.stderr.contains("timed out after 4.0s; 1 of 1 not gone")
            && !r.stderr.contains("gone after"),
        "{r:?}"
    );
    assert!(api.requests().len() >= 2, "{:?}", api.requests());
}

#[test]
fn a_64_mb_list_is_cut_at_the_cap_within_bounded_memory_and_the_deadline() {
    let api = FakeApi::start();
    api.misbehave(Mischief::HugeLists(64_000_000));
    held(
        &api,
        "k8s://pod/web-0",
        "the API server's answer is larger than 4 MiB",
    );
    // Each answer over the cap halves the page size of the next list.
    let limits: Vec<u64> = requests_of(&api, "list ")
        .iter()
        .filter_map(|r| query_param(r, "limit")?.parse().ok())
        .collect();
    assert!(
        limits.len() >= 2 && limits[0] == 100 && limits[1] == 50,
        "{limits:?}"
    );
}

#[test]
fn an_endless_watch_line_is_cut_and_the_watch_starts_again_with_a_list() {
    let api = FakeApi::start();
    api.put("pods", pod("web-0", false, json!({})));
    api.misbehave(Mischief::EndlessWatchLine);
    held(
        &api,
        "k8s://pod/web-0",
        "the watch sent an event line longer than 4 MiB",
    );
    // A transient failure: listed again and watched again, not a crash.
    assert!(
        requests_of(&api, "list ").len() >= 2,
        "{:?}",
        api.requests()
    );
    assert!(
        requests_of(&api, "watch ").len() >= 2,
        "{:?}",
        api.requests()
    );
}

#[test]
fn a_list_in_pages_is_read_to_its_last_page_before_it_is_judged() {
    let api = FakeApi::start();
    for i in 0..4 {
        api.put(
            "pods",
            pod(&format!("web-{i}"), true, json!({"app": "web"})),
        );
    }
    // The one pod that is not ready is on the last page.
    api.put("pods", pod("web-4", false, json!({"app": "web"})));
    api.page_size(2);
    let start = Instant::now();
    let mut w =
        Watched::spawn(with_token(&api).args(["-t", "30s", "k8s://pods?selector=app%3Dweb"]));
    w.wait_for_line(
        "4 of 5 pods matching app=web ready; pod \"web-4\" not ready",
        LIMIT,
    );
    api.wait_for_requests("the watch", |r| {
        r.iter().any(|(q, _)| q.starts_with("watch "))
    });
    api.put("pods", pod("web-4", true, json!({"app": "web"})));
    let r = w.finish(start, LIMIT);
    assert_exited(&r, 0);
    let lists = requests_of(&api, "list ");
    assert_eq!(lists.len(), 3, "{lists:?}");
    for l in &lists {
        assert_eq!(query_param(l, "limit"), Some("100"), "{l}");
    }
    assert_eq!(query_param(&lists[0], "continue"), None, "{lists:?}");
    assert_eq!(
        query_param(&lists[1], "continue"),
        Some("c-105-2"),
        "{lists:?}"
    );
    assert_eq!(
        query_param(&lists[2], "continue"),
        Some("c-105-4"),
        "{lists:?}"
    );
    // The watch starts from the list's resourceVersion (its last page's).
    let watch = &requests_of(&api, "watch ")[0];
    assert_eq!(
        query_param(watch, "resourceVersion"),
        Some("105"),
        "{watch}"
    );
}

#[test]
fn an_expired_continue_token_starts_the_list_again() {
    let api = FakeApi::start();
    for i in 0..5 {
        api.put(
            "pods",
            pod(&format!("web-{i}"), true, json!({"app": "web"})),
        );
    }
    api.page_size(2);
    api.expire_next_continue();
    let r = run(
        with_token(&api).args(["-t", "30s", "k8s://pods?selector=app%3Dweb&min=5"]),
        LIMIT,
    );
    assert_exited(&r, 0);
    assert_eq!(api.expired(), 1);
    let continues: Vec<Option<String>> = requests_of(&api, "list ")
        .iter()
        .map(|l| query_param(l, "continue").map(str::to_string))
        .collect();
    // The first list's second page is refused (410); the next list starts from
    // the top and reads its three pages.
    assert_eq!(
        continues,
        [
            None,
            Some("c-105-2".to_string()),
            None,
            Some("c-105-2".to_string()),
            Some("c-105-4".to_string())
        ],
        "{:?}",
        api.requests()
    );
}

#[test]
fn a_64_mb_discovery_answer_is_cut_at_the_cap_within_bounded_memory_and_the_deadline() {
    let api = FakeApi::start();
    api.misbehave(Mischief::HugeDiscovery(64_000_000));
    held(
        &api,
        "k8s://certificate/web?condition=Ready",
        "the API server's discovery answer (/api) is larger than 4 MiB",
    );
    // Transient: asked again, never a list of a resource it could not find.
    assert!(
        requests_of(&api, "discover ").len() >= 2,
        "{:?}",
        api.requests()
    );
    assert!(
        requests_of(&api, "list ").is_empty(),
        "{:?}",
        api.requests()
    );
}

#[test]
fn a_discovery_document_just_under_the_cap_is_read_and_kept_nothing_of() {
    let api = FakeApi::start();
    // About 20,000 resources, none of them the one named.
    api.misbehave(Mischief::HugeDiscovery(3_900_000));
    held(
        &api,
        "k8s://certificate/web?condition=Ready",
        r#"the API server does not know the resource "certificate""#,
    );
}

// ------------------------------------------------------------- exec plugins

/// A kubeconfig whose user's token comes from a plugin that never answers: it
/// starts a grandchild, appends "PLUGIN GRANDCHILD" (their PIDs) to `pids` in the
/// fake's directory, and sleeps.
fn hanging_plugin(api: &FakeApi) -> std::path::PathBuf {
    plugin(
        api,
        "hanging-plugin",
        "sleep 1000 &\necho \"$$ $!\" >> \"$(dirname \"$0\")/pids\"\nsleep 1000\n",
    )
}

/// The PIDs each run of the hanging plugin wrote, one pair per run.
fn plugin_pids(api: &FakeApi) -> Vec<[u32; 2]> {
    std::fs::read_to_string(api.dir.join("pids"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace().map(|p| p.parse().ok());
            Some([it.next()??, it.next()??])
        })
        .collect()
}

/// Waits (at most 20 s) until the plugin has run `n` times.
fn wait_for_runs(api: &FakeApi, n: usize) -> Vec<[u32; 2]> {
    let start = Instant::now();
    loop {
        let pids = plugin_pids(api);
        if pids.len() >= n {
            return pids;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the plugin did not run {n} times: {pids:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A process's state letter (`S`, `R`, `Z`, ...), or `None` when there is none.
fn state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..].trim_start().chars().next()
}

/// Alive: there, and not a zombie.
fn alive(pid: u32) -> bool {
    state(pid).is_some_and(|s| s != 'Z')
}

/// The processes of `pids` still alive after up to 2 s (the kernel ends a killed
/// process at once, but the test machine is shared).
fn still_alive(pids: &[u32]) -> Vec<u32> {
    let start = Instant::now();
    loop {
        let left: Vec<u32> = pids.iter().copied().filter(|p| alive(*p)).collect();
        if left.is_empty() || start.elapsed() > Duration::from_secs(2) {
            return left;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Kills what a failed test left behind: only the plugin processes it recorded.
struct Cleanup<'a>(&'a FakeApi);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        for pid in plugin_pids(self.0).into_iter().flatten() {
            if alive(pid) {
                if let Some(p) = rustix::process::Pid::from_raw(pid as i32) {
                    let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
                }
            }
        }
    }
}

#[test]
fn a_hanging_exec_plugin_dies_with_whenready_at_the_deadline() {
    let api = FakeApi::start();
    let _cleanup = Cleanup(&api);
    let kc = hanging_plugin(&api);
    let r = run(
        whenready()
            .env("KUBECONFIG", &kc)
            .args(["-t", "2s", "k8s://pod/web-0"]),
        LIMIT,
    );
    assert_exited(&r, 1);
    assert_within_deadline(&r, Duration::from_secs(2));
    let pids: Vec<u32> = plugin_pids(&api).into_iter().flatten().collect();
    assert!(!pids.is_empty(), "the plugin never ran: {r:?}");
    assert_eq!(still_alive(&pids), Vec::<u32>::new(), "{r:?}");
}

#[test]
fn a_hanging_exec_plugin_dies_with_whenready_on_sigterm() {
    let api = FakeApi::start();
    let _cleanup = Cleanup(&api);
    let kc = hanging_plugin(&api);
    let start = Instant::now();
    let w =
        Watched::spawn(
            whenready()
                .env("KUBECONFIG", &kc)
                .args(["-t", "60s", "k8s://pod/web-0"]),
        );
    wait_for_runs(&api, 1);
    let signalled = Instant::now();
    let pid = rustix::process::Pid::from_raw(w.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let r = w.finish(start, LIMIT);
    assert_exited(&r, 143);
    // The contract's 100 ms, and the slack of a debug build on a shared machine.
    assert!(
        signalled.elapsed() < Duration::from_millis(600),
        "ended {:?} after SIGTERM: {r:?}",
        signalled.elapsed()
    );
    let pids: Vec<u32> = plugin_pids(&api).into_iter().flatten().collect();
    assert_eq!(still_alive(&pids), Vec::<u32>::new(), "{r:?}");
}

/// A kubeconfig whose plugin hangs on its first run (as [`hanging_plugin`]
/// does, writing its PIDs) and gives the token on the next ones.
fn hanging_once_plugin(api: &FakeApi) -> std::path::PathBuf {
    token_plugin(
        api,
        "hanging-once-plugin",
        "dir=\"$(dirname \"$0\")\"\nif [ ! -e \"$dir/hung\" ]; then\n  : > \"$dir/hung\"\n  sleep 1000 &\n  echo \"$$ $!\" >> \"$dir/pids\"\n  sleep 1000\nfi",
        TOKEN,
    )
}

#[test]
fn a_hanging_exec_plugin_is_gone_before_command_starts() {
    let api = FakeApi::start();
    let _cleanup = Cleanup(&api);
    api.put("pods", pod("web-0", true, json!({})));
    let kc = hanging_once_plugin(&api);
    // The first attempt hangs in the plugin and is cut by the attempt timeout;
    // the second gets the token, finds the pod Ready, and whenready becomes
    // COMMAND. (--reverse no longer helps here: a k8s target is gone only when
    // its object is deleted.)
    let start = Instant::now();
    let w = Watched::spawn(whenready().env("KUBECONFIG", &kc).args([
        "--attempt-timeout",
        "1s",
        "-t",
        "30s",
        "k8s://pod/web-0",
        "--",
        "sleep",
        "3",
    ]));
    let pid = w.id();
    let became = loop {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() == "sleep" {
            break Instant::now();
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "whenready did not become COMMAND"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    let runs = plugin_pids(&api);
    assert_eq!(runs.len(), 1, "{runs:?}");
    let [plugin, grandchild] = runs[0];
    // The plugin was whenready's child, so it would be COMMAND's now: even a
    // zombie would be left to COMMAND, which never reaps what it did not start.
    assert_eq!(
        state(plugin),
        None,
        "the plugin is still there {:?} after exec",
        became.elapsed()
    );
    assert_eq!(still_alive(&[grandchild]), Vec::<u32>::new());
    let r = w.finish(start, LIMIT);
    assert_exited(&r, 0);
    // The token of the second run was sent.
    assert!(
        api.requests().iter().all(|(_, t)| t == TOKEN),
        "{:?}",
        api.requests()
    );
}

#[test]
fn the_attempt_timeout_kills_the_plugin_group_and_the_attempt_fails_transiently() {
    let api = FakeApi::start();
    let _cleanup = Cleanup(&api);
    let kc = hanging_plugin(&api);
    let start = Instant::now();
    let w = Watched::spawn(whenready().env("KUBECONFIG", &kc).args([
        "--attempt-timeout",
        "1s",
        "-t",
        "5s",
        "k8s://pod/web-0",
    ]));
    // The second attempt runs the plugin again: the first one's group is gone.
    let runs = wait_for_runs(&api, 2);
    assert_eq!(still_alive(&runs[0]), Vec::<u32>::new(), "{runs:?}");
    let r = w.finish(start, LIMIT);
    assert_exited(&r, 1);
    assert!(r.stderr.contains("no answer within 1.0s"), "{r:?}");
    let pids: Vec<u32> = plugin_pids(&api).into_iter().flatten().collect();
    assert_eq!(still_alive(&pids), Vec::<u32>::new(), "{r:?}");
}

#[test]
fn an_exec_plugin_token_echoed_by_the_server_is_never_shown() {
    let api = FakeApi::start();
    api.misbehave(Mischief::EchoUnknownToken);
    let token = "plugin-token-Zq8rT2vK5w";
    let kc = token_plugin(&api, "token-plugin", "", token);
    for mode in [&[][..], &["--json"][..]] {
        let r = run(
            whenready()
                .env("KUBECONFIG", &kc)
                .args(["-t", "10s", "k8s://pod/web-0"])
                .args(mode),
            LIMIT,
        );
        // 401 is permanent, and the server's message is shown, masked.
        assert_exited(&r, 3);
        assert!(r.stderr.contains("unknown token ***"), "{r:?}");
        assert_no_secret(&r, token);
    }
    // The server did receive the token: the plugin ran and its token was sent.
    assert!(
        api.requests().iter().any(|(_, t)| t == token),
        "the fake never saw the plugin's token"
    );
}

/// A kubeconfig whose exec plugin is the shell script `body` (after `#!/bin/sh`),
/// written as `name` in the fake's directory.
fn plugin(api: &FakeApi, name: &str, body: &str) -> std::path::PathBuf {
    let script = api.dir.join(name);
    std::fs::write(&script, format!("#!/bin/sh\n{body}")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    api.kubeconfig(&format!(
        "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: ./{name}\n      interactiveMode: Never"
    ))
}

/// A kubeconfig whose exec plugin runs `before`, then gives `token`.
fn token_plugin(api: &FakeApi, name: &str, before: &str, token: &str) -> std::path::PathBuf {
    plugin(
        api,
        name,
        &format!(
            "{before}\nprintf '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{token}\"}}}}\\n'\n"
        ),
    )
}

#[test]
fn as_pid_1_an_exec_plugin_leaves_no_zombie_to_command() {
    // The plugin gives the token and leaves a process running in its group: as
    // PID 1 (a container's entrypoint, here under unshare --pid), whenready
    // inherits it when the plugin exits, kills it with the group, and must reap
    // it, or COMMAND is left a zombie.
    let api = FakeApi::start();
    let _cleanup = Cleanup(&api);
    api.put("pods", pod("web-0", true, json!({})));
    let kc = token_plugin(&api, "leaving-plugin", "sleep 300 &", TOKEN);
    let r = run(
        as_pid_1_then_ps(&["-q", "-t", "20s", "k8s://pod/web-0"]).env("KUBECONFIG", &kc),
        LIMIT,
    );
    assert_no_zombie_left(&r);
    assert!(
        api.requests().iter().all(|(_, t)| t == TOKEN),
        "{:?}",
        api.requests()
    );
}
