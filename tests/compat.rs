//! Drop-in names: whenready linked as wait-for-it.sh, wait-for-it, wait-for and wait
//! speaks each original's command line, messages and exit codes (see
//! src/compat/*.rs for the sources each behaviour was read from).

mod common;
use common::*;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::thread;
use std::time::Duration;

/// whenready linked under `name` in a fresh directory.
struct Link {
    _dir: TempDir,
    path: PathBuf,
}

fn link(name: &str) -> Link {
    let dir = TempDir::new("link");
    let path = dir.join(name);
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_whenready"), &path).unwrap();
    Link { _dir: dir, path }
}

fn as_tool(l: &Link, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(&l.path);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd, Duration::from_secs(30))
}

fn closed() -> String {
    format!("127.0.0.1:{}", free_port())
}

// ------------------------------------------------------------------ wait-for-it

#[test]
fn wait_for_it_ready_prints_its_messages_and_runs_the_command() {
    let fake = Fake::start(|_, _| {});
    for name in ["wait-for-it.sh", "wait-for-it"] {
        let l = link(name);
        let r = as_tool(&l, &[&fake.addr(), "--", "echo", "ran"], &[]);
        assert_eq!(r.code, 0, "{r:?}");
        assert_eq!(r.stdout, "ran\n");
        assert!(
            r.stderr
                .contains(&format!("{name}: waiting 15 seconds for {}", fake.addr())),
            "{r:?}"
        );
        assert!(
            r.stderr.contains(&format!(
                "{name}: {} is available after 0 seconds",
                fake.addr()
            )),
            "{r:?}"
        );
    }
}

#[test]
fn wait_for_it_host_and_port_options() {
    let fake = Fake::start(|_, _| {});
    let l = link("wait-for-it.sh");
    let port = fake.port.to_string();
    for args in [
        vec!["-h", "127.0.0.1", "-p", &port],
        vec!["--host=127.0.0.1", &format!("--port={port}")],
        vec!["-p", &port, "--host=127.0.0.1", "-q"],
    ] {
        let r = as_tool(&l, &args, &[]);
        assert_eq!(r.code, 0, "{args:?}: {r:?}");
    }
    // -q silences the status messages.
    let r = as_tool(&l, &["-q", &fake.addr()], &[]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:?}");
}

#[test]
fn wait_for_it_timeout_without_command_exits_124() {
    let l = link("wait-for-it.sh");
    let target = closed();
    let r = as_tool(&l, &["-t", "1", &target], &[]);
    assert_eq!(r.code, 124, "{r:?}");
    assert!(
        r.stderr
            .contains(&format!("wait-for-it.sh: waiting 1 seconds for {target}")),
        "{r:?}"
    );
    assert!(
        r.stderr.contains(&format!(
            "wait-for-it.sh: timeout occurred after waiting 1 seconds for {target}"
        )),
        "{r:?}"
    );
    let r = as_tool(&l, &["--timeout=1", &target, "-s"], &[]);
    assert_eq!(r.code, 124, "strict without command: {r:?}");
    assert!(!r.stderr.contains("strict mode"), "{r:?}");
}

#[test]
fn wait_for_it_runs_the_command_after_a_timeout_unless_strict() {
    let l = link("wait-for-it.sh");
    let target = closed();
    let r = as_tool(
        &l,
        &["-t", "1", &target, "--", "sh", "-c", "echo ran; exit 5"],
        &[],
    );
    assert_eq!(r.code, 5, "the command's own status: {r:?}");
    assert_eq!(r.stdout, "ran\n");
    let r = as_tool(&l, &["-s", "-t", "1", &target, "--", "echo", "ran"], &[]);
    assert_eq!(r.code, 124, "{r:?}");
    assert!(r.stdout.is_empty(), "{r:?}");
    assert!(
        r.stderr
            .contains("wait-for-it.sh: strict mode, refusing to execute subprocess"),
        "{r:?}"
    );
}

#[test]
fn wait_for_it_zero_timeout_waits_forever() {
    let l = link("wait-for-it.sh");
    let port = free_port();
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(1200));
        let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
        thread::sleep(Duration::from_secs(3));
        drop(l);
    });
    let r = as_tool(&l, &["-t", "0", &format!("127.0.0.1:{port}")], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr
            .contains(&format!("waiting for 127.0.0.1:{port} without a timeout")),
        "{r:?}"
    );
    assert!(r.stderr.contains("is available after 1 seconds"), "{r:?}");
    t.join().unwrap();
}

#[test]
fn wait_for_it_usage_errors_exit_1_with_its_usage() {
    let l = link("wait-for-it.sh");
    for (args, message) in [
        (&["--bogus"][..], "Unknown argument: --bogus"),
        (&[], "Error: you need to provide a host and port to test."),
        (
            &["-h", "db"],
            "Error: you need to provide a host and port to test.",
        ),
        (&["--timeout", "5", "db:1"], "Unknown argument: --timeout"),
        (&["db:1", "-t", "soon"], "Error: invalid timeout 'soon'"),
        (&["db:http"], "Error: invalid host:port"),
    ] {
        let r = as_tool(&l, args, &[]);
        assert_eq!(r.code, 1, "{args:?}: {r:?}");
        assert!(r.stderr.contains(message), "{args:?}: {r:?}");
        assert!(
            r.stderr.contains(
                "Usage:\n    wait-for-it.sh host:port [-s] [-t timeout] [-- command args]"
            ),
            "{r:?}"
        );
        assert!(r.stdout.is_empty());
    }
    let r = as_tool(&l, &["--help"], &[]);
    assert_eq!(r.code, 1, "--help exits 1 in the original: {r:?}");
    assert!(r.stderr.contains("Usage:"));
}

#[test]
fn wait_for_it_empty_first_word_is_no_command() {
    // The original tests only the first word after "--": `-- "" x` runs nothing, and
    // the exit status is the wait's own.
    let fake = Fake::start(|_, _| {});
    let l = link("wait-for-it.sh");
    let dir = TempDir::new("marker");
    let marker = dir.join("ran");
    let touch = format!("touch {}", marker.display());
    let r = as_tool(&l, &[&fake.addr(), "--", "", "sh", "-c", &touch], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    let r2 = as_tool(
        &l,
        &["-t", "1", &closed(), "--", "", "sh", "-c", &touch],
        &[],
    );
    assert_eq!(r2.code, 124, "{r2:?}");
    assert!(!r2.stderr.contains("strict mode"), "{r2:?}");
    // PATH holds a program named "" nowhere, but "sh" everywhere: nothing ran.
    assert!(!marker.exists(), "the command ran: {r:?} {r2:?}");
    let r = as_tool(&l, &[&fake.addr(), "--", "sh", "-c", &touch], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(marker.exists(), "{r:?}");
}

#[test]
fn wait_for_it_urls_and_credentials_are_usage_errors_without_the_password() {
    let l = link("wait-for-it.sh");
    for args in [
        &["postgres://app:Sup3rSecretPw@db:5432/app"][..],
        &["app:Sup3rSecretPw@db:5432"],
        &["-h", "app:Sup3rSecretPw@db", "-p", "5432"],
        &["--host=db", "--port=Sup3rSecretPw@5432"],
    ] {
        let r = as_tool(&l, args, &[]);
        assert_eq!(r.code, 1, "{args:?}: {r:?}");
        assert_no_secret(&r, "Sup3rSecretPw");
        assert!(r.stderr.contains("***"), "{args:?}: {r:?}");
        assert!(!r.stderr.contains("IPv6"), "misleading: {r:?}");
    }
}

#[test]
fn wait_for_it_understands_ipv6_literals() {
    let Ok(listener) = TcpListener::bind("[::1]:0") else {
        panic!("this test needs IPv6 on loopback")
    };
    let port = listener.local_addr().unwrap().port();
    let l = link("wait-for-it.sh");
    let r = as_tool(&l, &[&format!("[::1]:{port}")], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = as_tool(&l, &["-h", "::1", "-p", &port.to_string()], &[]);
    assert_eq!(r.code, 0, "{r:?}");
}

// ------------------------------------------------------------------ wait-for

#[test]
fn wait_for_is_silent_when_ready_and_execs() {
    let fake = Fake::start(|_, _| {});
    let l = link("wait-for");
    let r = as_tool(&l, &[&fake.addr(), "--", "echo", "ran"], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "ran\n");
    assert_eq!(r.stderr, "", "{r:?}");
}

#[test]
fn wait_for_timeout_exits_1_and_never_runs_the_command() {
    let l = link("wait-for");
    for args in [
        vec!["-t", "1"],
        vec!["--timeout", "1"],
        vec!["-t1"],
        vec!["--timeout=1"],
        vec!["-qt1"],
    ] {
        let mut all = args.clone();
        let target = closed();
        all.extend([target.as_str(), "--", "echo", "ran"]);
        let r = as_tool(&l, &all, &[]);
        assert_eq!(r.code, 1, "{args:?}: {r:?}");
        assert!(r.stdout.is_empty(), "{r:?}");
        // Exactly the original's line, printed even with -q (its suite compares it).
        assert_eq!(r.stderr, "Operation timed out\n", "{args:?}: {r:?}");
    }
}

#[test]
fn wait_for_condensed_options_run_the_command() {
    let fake = Fake::start(|_, _| {});
    let l = link("wait-for");
    // eficode's "support condensed option style": -qt1 is -q -t1, and the command is
    // what follows "--", not shifted by the expansion.
    for args in [
        vec!["-qt1", &fake.addr(), "--", "echo", "ran"],
        vec!["-qqt", "1", &fake.addr(), "--", "echo", "ran"],
        vec![&fake.addr(), "-qt1", "--", "echo", "ran"],
    ] {
        let r = as_tool(&l, &args, &[]);
        assert_eq!(r.code, 0, "{args:?}: {r:?}");
        assert_eq!(r.stdout, "ran\n", "{args:?}: {r:?}");
        assert_eq!(r.stderr, "", "{args:?}: {r:?}");
    }
    // Nothing after "--": no command, no panic.
    let r = as_tool(&l, &["-qt5", &fake.addr(), "--"], &[]);
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (0, "", ""),
        "{r:?}"
    );
    let r = as_tool(&l, &["-qt5", &closed(), "--"], &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.stderr, "Operation timed out\n", "{r:?}");
    // -q- is an unknown option in the original too.
    let r = as_tool(&l, &["-q-x", &fake.addr()], &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.starts_with("Unknown option: -q-x\n"), "{r:?}");
}

#[test]
fn wait_for_timeout_is_checked_before_the_target() {
    let l = link("wait-for");
    // eficode's "timeout cannot be empty": -t takes "--" as its value.
    let r = as_tool(&l, &["-t", "--", "db:1", "--", "echo", "ran"], &[]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.starts_with("Error: invalid timeout '--'\n"),
        "{r:?}"
    );
    assert!(r.stdout.is_empty(), "{r:?}");
    let r = as_tool(&l, &["-t"], &[]);
    assert_eq!(r.code, 3, "{r:?}");
}

#[test]
fn wait_for_http_url_needs_2xx() {
    let srv = http(|_, n| (if n < 2 { 503 } else { 204 }, String::new()));
    let l = link("wait-for");
    let r = as_tool(
        &l,
        &[
            &format!("http://{}/health", srv.addr()),
            "--",
            "echo",
            "ran",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "ran\n");
    let srv = http(|_, _| (404, String::new()));
    let r = as_tool(&l, &["-t", "1", &format!("http://{}/", srv.addr())], &[]);
    assert_eq!(r.code, 1, "{r:?}");
}

#[test]
fn wait_for_waits_for_every_target_given() {
    let fake = Fake::start(|_, _| {});
    let l = link("wait-for");
    // The original would keep only the last target and succeed.
    let r = as_tool(&l, &["-t", "1", &closed(), &fake.addr()], &[]);
    assert_eq!(r.code, 1, "{r:?}");
}

#[test]
fn wait_for_usage_errors_and_their_codes() {
    let l = link("wait-for");
    for (args, code, message) in [
        (&["-x", "db:1"][..], 1, "Unknown option: -x"),
        (&["db:1", "stray"], 1, "Unknown argument: stray"),
        (
            &[],
            2,
            "Error: you need to provide a host and port to test.",
        ),
        (&["-t", "-1", "db:1"], 3, "Error: invalid timeout '-1'"),
        (&["-t", "soon", "db:1"], 3, "Error: invalid timeout 'soon'"),
    ] {
        let r = as_tool(&l, args, &[]);
        assert_eq!(r.code, code, "{args:?}: {r:?}");
        assert!(r.stderr.contains(message), "{args:?}: {r:?}");
        assert!(
            r.stderr
                .contains("host:port|url [-t timeout] [-- command args]"),
            "{r:?}"
        );
    }
    let r = as_tool(&l, &["--help"], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = as_tool(&l, &["-v"], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.starts_with("2.2.4"), "{r:?}");
}

#[test]
fn wait_for_never_prints_a_password() {
    let l = link("wait-for");
    for (args, code) in [
        // Once misread as HOST:PORT, with "an IPv6 address needs brackets".
        (&["postgres://app:Sup3rSecretPw@db:x/app"][..], 2),
        (&["app:Sup3rSecretPw@db:5432"], 2),
        (&["-t", "postgres://app:Sup3rSecretPw@db/app", "db:1"], 3),
        (&["-qpostgres://app:Sup3rSecretPw@db/app"], 1),
        (&["db:1", "x://app:Sup3rSecretPw@db"], 2),
        (
            &["db:1", "https://h/?password=Sup3rSecretPw&x=1", "stray"],
            1,
        ),
    ] {
        let r = as_tool(&l, args, &[]);
        assert_eq!(r.code, code, "{args:?}: {r:?}");
        assert_no_secret(&r, "Sup3rSecretPw");
        assert!(!r.stderr.contains("IPv6"), "misleading: {r:?}");
    }
}

#[test]
fn wait_for_takes_any_whenready_url() {
    let fake = Fake::start(|_, _| {});
    let l = link("wait-for");
    let r = as_tool(
        &l,
        &[
            "-t",
            "5",
            &format!("tcp://{}", fake.addr()),
            "--",
            "echo",
            "ran",
        ],
        &[],
    );
    assert_eq!((r.code, r.stdout.as_str()), (0, "ran\n"), "{r:?}");
    // A password in a URL is never shown, even when the wait times out.
    let port = free_port();
    let r = as_tool(
        &l,
        &[
            "-t",
            "1",
            &format!("postgres://app:Sup3rSecretPw@127.0.0.1:{port}/app"),
        ],
        &[],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.stderr, "Operation timed out\n", "{r:?}");
}

// ------------------------------------------------------------------ docker-compose-wait

#[test]
fn compose_wait_hosts_paths_and_command() {
    let fake = Fake::start(|_, _| {});
    let dir = TempDir::new("paths");
    let flag = dir.join("flag");
    std::fs::write(&flag, "").unwrap();
    let l = link("wait");
    let hosts = format!("{}, {}", fake.addr(), fake.addr());
    let r = as_tool(
        &l,
        &[],
        &[
            ("WAIT_HOSTS", &hosts),
            ("WAIT_PATHS", flag.to_str().unwrap()),
            ("WAIT_COMMAND", "sh -c 'echo \"$0 ran\"' 'quoted words'"),
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "quoted words ran\n");
    assert!(
        r.stderr.contains(&format!(
            "[INFO  wait] Checking availability of host [{}]",
            fake.addr()
        )),
        "{r:?}"
    );
    assert!(
        r.stderr.contains(&format!(
            "[INFO  wait] Host [{}] is now available!",
            fake.addr()
        )),
        "{r:?}"
    );
    assert!(
        r.stderr.contains(&format!(
            "[INFO  wait] Path [{}] is now available!",
            flag.display()
        )),
        "{r:?}"
    );
    assert!(
        r.stderr.contains(
            "[INFO  wait] docker-compose-wait - Everything's fine, the application can now start!"
        ),
        "{r:?}"
    );
    assert!(
        r.stderr
            .contains("[DEBUG wait] Starting with configuration:"),
        "{r:?}"
    );
}

#[test]
fn compose_wait_timeout_exits_1() {
    let l = link("wait");
    let r = as_tool(
        &l,
        &[],
        &[
            ("WAIT_HOSTS", &closed()),
            ("WAIT_TIMEOUT", "1"),
            ("WAIT_COMMAND", "echo ran"),
        ],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.is_empty(), "{r:?}");
    assert!(
        r.stderr
            .contains("[ERROR wait] Timeout! After 1 seconds some hosts are still not reachable"),
        "{r:?}"
    );
    let r = as_tool(
        &l,
        &[],
        &[("WAIT_PATHS", "/nonexistent/x"), ("WAIT_TIMEOUT", "1")],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("[ERROR wait] Timeout! After [1] seconds some paths are still not reachable"),
        "{r:?}"
    );
    // WAIT_TIMEOUT=0: one attempt, then the timeout.
    let r = as_tool(&l, &[], &[("WAIT_HOSTS", &closed()), ("WAIT_TIMEOUT", "0")]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.elapsed < Duration::from_secs(2), "{r:?}");
}

#[test]
fn compose_wait_before_and_after() {
    let fake = Fake::start(|_, _| {});
    let l = link("wait");
    let r = as_tool(
        &l,
        &[],
        &[
            ("WAIT_HOSTS", &fake.addr()),
            ("WAIT_BEFORE", "1"),
            ("WAIT_AFTER", "1"),
            ("WAIT_LOGGER_LEVEL", "info"),
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.elapsed >= Duration::from_secs(2), "{r:?}");
    assert!(
        r.stderr
            .contains("Waiting 1 seconds before checking for hosts/paths availability"),
        "{r:?}"
    );
    assert!(
        r.stderr
            .contains("Waiting 1 seconds after hosts/paths availability"),
        "{r:?}"
    );
    assert!(!r.stderr.contains("[DEBUG"), "info hides debug: {r:?}");
}

#[test]
fn compose_wait_legacy_names_warn_and_the_new_name_wins() {
    let l = link("wait");
    let r = as_tool(
        &l,
        &[],
        &[
            ("WAIT_HOSTS", &closed()),
            ("WAIT_HOSTS_TIMEOUT", "60"),
            ("WAIT_TIMEOUT", "1"),
        ],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.elapsed < Duration::from_secs(10),
        "WAIT_TIMEOUT wins: {r:?}"
    );
    assert!(r.stderr.contains("[WARN  wait] Environment variable [WAIT_HOSTS_TIMEOUT] is deprecated. Use [WAIT_TIMEOUT] instead."), "{r:?}");
}

#[test]
fn compose_wait_invalid_values_are_errors_naming_the_variable() {
    let l = link("wait");
    for (var, value) in [
        ("WAIT_TIMEOUT", "2m30"),
        ("WAIT_SLEEP_INTERVAL", "-1"),
        ("WAIT_BEFORE", "soon"),
        ("WAIT_HOST_CONNECT_TIMEOUT", "0"),
        ("WAIT_LOGGER_LEVEL", "loud"),
        ("WAIT_COMMAND", "echo 'unclosed"),
        ("WAIT_HOSTS", "db"),
    ] {
        let r = as_tool(&l, &[], &[(var, value)]);
        assert_eq!(r.code, 2, "{var}={value}: {r:?}");
        assert!(r.stderr.contains(var), "{var}: {r:?}");
    }
}

#[test]
fn compose_wait_never_prints_a_password() {
    let l = link("wait");
    for (var, value) in [
        ("WAIT_HOSTS", "postgres://app:Sup3rSecretPw@db:x/app"),
        ("WAIT_HOSTS", "app:Sup3rSecretPw@db:5432"),
        ("WAIT_HOSTS", "x://app:Sup3rSecretPw@db"),
        ("WAIT_TIMEOUT", "redis://:Sup3rSecretPw@cache"),
        ("WAIT_COMMAND", "psql 'postgres://app:Sup3rSecretPw@db"),
    ] {
        let r = as_tool(&l, &[], &[(var, value)]);
        assert_eq!(r.code, 2, "{var}={value}: {r:?}");
        assert_no_secret(&r, "Sup3rSecretPw");
    }
    // Logged configuration: hosts, paths and the program are masked too.
    let r = as_tool(
        &l,
        &[],
        &[
            ("WAIT_PATHS", "/nonexistent/x://u:Sup3rSecretPw@h"),
            ("WAIT_TIMEOUT", "0"),
            ("WAIT_COMMAND", "x://u:Sup3rSecretPw@h arg"),
        ],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert_no_secret(&r, "Sup3rSecretPw");
}

#[test]
fn compose_wait_logger_off_and_ignored_arguments() {
    let fake = Fake::start(|_, _| {});
    let l = link("wait");
    let r = as_tool(
        &l,
        &[],
        &[("WAIT_HOSTS", &fake.addr()), ("WAIT_LOGGER_LEVEL", "off")],
    );
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:?}");
    let r = as_tool(&l, &["yarn", "dev"], &[("WAIT_HOSTS", &fake.addr())]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("arguments are ignored"), "{r:?}");
    assert!(r.stdout.is_empty());
}

#[test]
fn compose_wait_exec_failure_is_127_not_an_abort() {
    let l = link("wait");
    let r = as_tool(&l, &[], &[("WAIT_COMMAND", "no-such-program-x")]);
    assert_eq!(r.code, 127, "{r:?}");
}

#[test]
fn drop_ins_handle_sigterm_while_waiting() {
    for (name, args, env) in [
        ("wait-for-it.sh", vec!["-t", "30", "127.0.0.1:1"], vec![]),
        ("wait-for", vec!["-t", "30", "127.0.0.1:1"], vec![]),
        ("wait", vec![], vec![("WAIT_HOSTS", "127.0.0.1:1")]),
    ] {
        let l = link(name);
        let mut cmd = Command::new(&l.path);
        cmd.env_clear().args(&args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn_piped();
        wait_for_handler(child.id(), 15);
        let start = std::time::Instant::now();
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        let r = finish(child, start, Duration::from_secs(10));
        assert_exited(&r, 143);
    }
}
