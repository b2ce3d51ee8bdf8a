//! The command line: usage errors exit 2 with one line naming the bad input,
//! WHENREADY_* variables, precedence, --help and --version.

mod common;
use common::*;

fn usage_error(args: &[&str], env: &[(&str, &str)], needles: &[&str]) {
    let mut cmd = whenready();
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let r = run(&mut cmd, std::time::Duration::from_secs(10));
    assert_eq!(r.code, 2, "{args:?} {env:?}: {r:?}");
    assert_eq!(r.stderr.lines().count(), 1, "one line expected: {r:?}");
    assert!(r.stderr.starts_with("whenready: "), "{r:?}");
    for n in needles {
        assert!(r.stderr.contains(n), "{args:?}: {n:?} missing in {r:?}");
    }
    assert!(r.stdout.is_empty());
}

#[test]
fn bad_options_exit_2_and_name_the_input() {
    usage_error(&["--timout", "5"], &[], &["--timout", "--timeout"]);
    usage_error(
        &["-t", "30x", "db:1"],
        &[],
        &["\"30x\"", "--timeout", "500ms"],
    );
    usage_error(&["--interval", "-1s"], &[], &["\"-1s\"", "--interval"]);
    usage_error(&["--attempt-timeout", "0"], &[], &["--attempt-timeout"]);
    usage_error(
        &["--http-status", "2xx"],
        &[],
        &["\"2xx\"", "--http-status"],
    );
    usage_error(&["-t"], &[], &["--timeout"]);
}

#[test]
fn bad_targets_exit_2_and_name_the_input() {
    usage_error(&["db"], &[], &["\"db\"", "missing port"]);
    usage_error(&["db:99999"], &[], &["\"99999\"", "1 to 65535"]);
    usage_error(&["db:0"], &[], &["\"0\""]);
    usage_error(&["::1:80"], &[], &["brackets"]);
    usage_error(
        &["cassandra://db:9042"],
        &[],
        &["\"cassandra\"", "postgres"],
    );
    usage_error(&["unix:run/x.sock"], &[], &["unix:///"]);
    usage_error(&["python", "app.py"], &[], &["\"python\"", "after --"]);
    usage_error(&["redis://cache/zero"], &[], &["\"zero\""]);
}

#[test]
fn bad_environment_values_name_the_variable() {
    usage_error(
        &[],
        &[("WHENREADY_TIMEOUT", "two minutes")],
        &["WHENREADY_TIMEOUT", "\"two minutes\""],
    );
    usage_error(
        &[],
        &[("WHENREADY_QUIET", "maybe")],
        &["WHENREADY_QUIET", "\"maybe\""],
    );
    usage_error(&[], &[("WHENREADY_ONCE", "2")], &["WHENREADY_ONCE"]);
    usage_error(
        &[],
        &[("WHENREADY_HTTP_STATUS", "ok")],
        &["WHENREADY_HTTP_STATUS"],
    );
    usage_error(
        &[],
        &[("WHENREADY_TARGETS", "a:1 b")],
        &["WHENREADY_TARGETS", "\"b\""],
    );
    usage_error(&["postgres://db/app"], &[("PGPORT", "x")], &["PGPORT"]);
}

#[test]
fn command_line_wins_over_environment() {
    let port = free_port();
    let target = format!("127.0.0.1:{port}");
    // The variable asks for a 60 s wait; the flag for 200 ms.
    let r = run(
        whenready()
            .args(["-t", "200ms", &target])
            .env("WHENREADY_TIMEOUT", "60s"),
        std::time::Duration::from_secs(10),
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.elapsed < std::time::Duration::from_secs(5), "{r:?}");
}

#[test]
fn environment_sets_options_and_targets() {
    let fake = Fake::start(|_, _| {});
    let r = run(
        whenready()
            .env(
                "WHENREADY_TARGETS",
                format!("{}, 127.0.0.1:{}", fake.addr(), free_port()),
            )
            .env("WHENREADY_TIMEOUT", "300ms")
            .env("WHENREADY_QUIET", "yes"),
        std::time::Duration::from_secs(10),
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        !r.stderr.contains(&fake.addr()),
        "the ready target is not reported in quiet mode: {r:?}"
    );
    assert!(r.stderr.contains("connection refused"), "{r:?}");
    let r = run(
        whenready()
            .env("WHENREADY_ONCE", "true")
            .env("WHENREADY_TARGETS", fake.addr()),
        std::time::Duration::from_secs(10),
    );
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn help_and_version() {
    let r = wr(&["--help"]);
    assert_eq!(r.code, 0);
    for needle in [
        "--timeout",
        "--interval",
        "--attempt-timeout",
        "--once",
        "--quiet",
        "WHENREADY_TIMEOUT",
        "Exit status",
        "postgres://",
    ] {
        assert!(r.stdout.contains(needle), "--help lacks {needle}: {r:?}");
    }
    let r = wr(&["--version"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.starts_with("whenready "), "{r:?}");
    // The target triple this test binary was built for, as the binary under test was
    // (e.g. `x86_64-unknown-linux-gnu`): release assets are told apart by it.
    let triple_start = format!("({}-unknown-linux-", std::env::consts::ARCH);
    assert!(r.stdout.contains(&triple_start), "{r:?}");
}

#[test]
fn nothing_to_wait_for_is_a_usage_error() {
    // A forgotten `args:` in an init container must not open the gate silently.
    usage_error(&[], &[], &["no target given"]);
    usage_error(&["--", "echo", "ran"], &[], &["no target given"]);
    usage_error(
        &["-t", "5", "--", "echo", "ran"],
        &[("WHENREADY_TARGETS", " , ")],
        &["no target given", "WHENREADY_TARGETS"],
    );
}

#[test]
fn overflowing_durations_are_usage_errors() {
    for value in ["99999999999999999999", "1e400", "18446744073709551616s"] {
        usage_error(&["-t", value, "db:1"], &[], &[value, "--timeout"]);
        usage_error(&["--interval", value, "db:1"], &[], &[value, "--interval"]);
    }
}

#[test]
fn garbage_arguments_never_panic() {
    // Each with the one status it must have: a usage error (one line naming the
    // input), or, for what parses, the outcome of the wait.
    for (args, code) in [
        (&["[", "]"][..], 2),
        (&["[::1"], 2),
        (&["tcp://"], 2),
        // A user name `%zz` is kept as written; host `h` does not resolve.
        (&["postgres://%zz@h/db"], 1),
        (&["http://[::1"], 2),
        // `file://` is the root directory, which exists.
        (&["file://"], 0),
        (&["redis://:@:"], 2),
        (&["\u{7f}:1"], 2),
        (&["h\u{1b}[31m:1"], 2),
        (&["--interval", ""], 2),
    ] {
        let mut cmd = whenready();
        cmd.args(["-t", "200ms"]).args(args);
        let r = run(&mut cmd, std::time::Duration::from_secs(10));
        assert_eq!((r.signal, r.code), (None, code), "{args:?}: {r:?}");
        assert!(!r.stderr.contains("panicked"), "{args:?}: {r:?}");
        if code == 2 {
            assert_eq!(r.stderr.lines().count(), 1, "{args:?}: {r:?}");
        }
    }
}
