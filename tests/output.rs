//! What whenready prints: the live view on a terminal (through a real pseudo-terminal
//! from `script`), plain lines elsewhere (no escape codes, bounded volume), JSON
//! events, --help and --version (the man page and completions: tests/docs.rs).

mod common;
use common::*;
use std::process::Command;
use std::time::Duration;

/// Runs whenready on a pseudo-terminal (util-linux `script`), returns what the
/// terminal received.
fn on_terminal(args: &str, env: &[(&str, &str)]) -> Run {
    require("script", "util-linux");
    let command = format!(
        "stty rows 30 cols 100; {} {args}",
        env!("CARGO_BIN_EXE_whenready")
    );
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &command, "/dev/null"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("TERM", "xterm");
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd, Duration::from_secs(30))
}

#[test]
fn terminal_gets_a_live_view_then_a_summary_that_stays() {
    let fake = Fake::start(|_, _| {});
    let closed = format!("127.0.0.1:{}", free_port());
    let r = on_terminal(&format!("-t 1s {} {closed}", fake.addr()), &[]);
    assert_eq!(r.code, 1, "{r:?}");
    let screen = r.stdout;
    // Redrawn in place: cursor up to the block's first line, lines cleared.
    assert!(screen.contains("\x1b[3F"), "{screen:?}");
    assert!(
        screen.matches("\x1b[2K").count() >= 6,
        "several redraws: {screen:?}"
    );
    assert!(screen.contains("whenready: 1 of 2 ready"), "{screen:?}");
    assert!(screen.contains("\x1b[33m"), "colour by default: {screen:?}");
    // At the end the block is cleared and the plain summary stays.
    let end = screen
        .rfind("\x1b[0J")
        .expect("the block is cleared at the end");
    let summary = &screen[end..];
    assert!(
        summary.contains("timed out after 1.0s; 1 of 2 not ready:"),
        "{summary:?}"
    );
    assert!(
        summary.contains(&format!("{closed}: connection refused (")),
        "{summary:?}"
    );
    assert!(
        summary.contains(&format!("{} ready after", fake.addr())),
        "{summary:?}"
    );
    assert!(
        !summary[5..].contains("\x1b[2K"),
        "no redraw after the summary: {summary:?}"
    );
}

#[test]
fn no_color_keeps_the_live_view_without_colours() {
    let r = on_terminal(
        &format!("-t 400ms 127.0.0.1:{}", free_port()),
        &[("NO_COLOR", "1")],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("\x1b[2K"), "{r:?}");
    assert!(
        !r.stdout.contains("\x1b[33m") && !r.stdout.contains("\x1b[32m"),
        "{r:?}"
    );
}

#[test]
fn quiet_and_json_on_a_terminal_are_not_live() {
    let r = on_terminal(&format!("-q -t 300ms 127.0.0.1:{}", free_port()), &[]);
    assert!(!r.stdout.contains('\x1b'), "{r:?}");
    let r = on_terminal(&format!("--json -t 300ms 127.0.0.1:{}", free_port()), &[]);
    assert!(!r.stdout.contains('\x1b'), "{r:?}");
}

#[test]
fn not_a_terminal_gets_plain_lines_without_escape_codes() {
    let fake = Fake::start(|_, _| {});
    let closed = format!("127.0.0.1:{}", free_port());
    for args in [vec![], vec!["-q"], vec!["--json"], vec!["--once"]] {
        let mut cmd = whenready();
        cmd.args(&args).args(["-t", "600ms", &fake.addr(), &closed]);
        let r = run(&mut cmd, Duration::from_secs(10));
        assert_eq!(r.code, 1, "{r:?}");
        assert!(!r.stderr.contains('\x1b'), "{args:?}: {r:?}");
        assert!(r.stdout.is_empty());
    }
}

#[test]
fn a_long_wait_says_what_it_still_waits_for_but_stays_brief() {
    // 6 s of refused connections: about 30 attempts, yet only the reason line, one
    // "still waiting" line (every 5 s), and the summary.
    let closed = format!("127.0.0.1:{}", free_port());
    let r = wr(&["-t", "6s", &closed]);
    assert_eq!(r.code, 1, "{r:?}");
    let still: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.contains("still waiting"))
        .collect();
    assert_eq!(still.len(), 1, "{r:?}");
    // The line comes on the first 100 ms tick at or after 5 s.
    assert!(still[0].contains("still waiting after 5."), "{r:?}");
    assert!(
        still[0].ends_with(&format!("for 1 target: {closed} (connection refused)")),
        "{r:?}"
    );
    assert_eq!(
        r.stderr.matches("not ready: connection refused").count(),
        1,
        "{r:?}"
    );
    assert!(r.stderr.lines().count() <= 6, "{r:?}");
}

#[test]
fn json_events_parse_and_follow_the_schema() {
    let fake = Fake::start(|_, _| {});
    let closed = format!("127.0.0.1:{}", free_port());
    let r = wr(&[
        "--json",
        "-t",
        "500ms",
        &fake.addr(),
        &closed,
        "postgres://u:Canary-j50n@127.0.0.1:1/db",
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_no_secret(&r, "Canary-j50n");
    let events: Vec<serde_json::Value> = r
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds[0], "start");
    assert!(
        kinds.contains(&"ready") && kinds.contains(&"not_ready") && kinds.contains(&"timeout"),
        "{kinds:?}"
    );
    for e in &events {
        assert!(e["elapsed_ms"].is_u64(), "{e}");
        match e["event"].as_str().unwrap() {
            "start" => {
                assert_eq!(e["targets"].as_array().unwrap().len(), 3);
                assert_eq!(e["timeout_ms"], 500);
                assert_eq!(e["once"], false);
            }
            "not_ready" => {
                assert!(
                    e["target"].is_string() && e["reason"].is_string() && e["attempts"].is_u64()
                );
                assert!(e["permanent"].is_boolean());
            }
            "ready" => assert!(e["target"].is_string() && e["attempts"].is_u64()),
            "timeout" => assert!(
                e["target"].is_string() && e["reason"].is_string() && e["attempts"].is_u64()
            ),
            other => panic!("unexpected event {other}"),
        }
    }
    // Success, exec and permanent failures have their events too.
    let r = wr(&["--json", &fake.addr(), "--", "true"]);
    let last: serde_json::Value = serde_json::from_str(r.stderr.lines().last().unwrap()).unwrap();
    assert_eq!(
        (last["event"].as_str(), last["command"].as_str()),
        (Some("exec"), Some("true"))
    );
    let srv = Redis::started(&["--requirepass", "right"]);
    let r = wr(&[
        "--json",
        &format!("redis://:wrong-Canary@127.0.0.1:{}", srv.port),
    ]);
    assert_eq!(r.code, 3);
    assert_no_secret(&r, "wrong-Canary");
    let last: serde_json::Value = serde_json::from_str(r.stderr.lines().last().unwrap()).unwrap();
    assert_eq!(last["event"], "permanent");
    assert!(last["reason"].as_str().unwrap().contains("WRONGPASS"));
}

#[test]
fn short_help_long_help_and_version() {
    let short = wr(&["-h"]);
    let long = wr(&["--help"]);
    assert_eq!((short.code, long.code), (0, 0));
    assert!(short.stdout.len() < long.stdout.len());
    assert!(short.stdout.contains("--help for examples"), "{short:?}");
    for section in [
        "Examples:",
        "Targets:",
        "Exit status:",
        "Environment:",
        "WHENREADY_TARGETS",
        "REDISCLI_AUTH",
    ] {
        assert!(long.stdout.contains(section), "--help lacks {section}");
        assert!(
            !short.stdout.contains(section) || section == "Targets:",
            "-h should be short: {section}"
        );
    }
    let v = wr(&["--version"]);
    assert!(
        v.stdout
            .starts_with(&format!("whenready {}", env!("CARGO_PKG_VERSION"))),
        "{v:?}"
    );
    for kind in [
        "tcp", "unix", "file", "http", "https", "postgres", "redis", "rediss", "nats", "mqtt",
        "mqtts", "amqp", "amqps",
    ] {
        assert!(v.stdout.contains(kind), "{kind} missing from {v:?}");
    }
}
