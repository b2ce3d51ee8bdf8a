//! `--reverse` (wait until every target is gone) and `--stable` (ready only after an
//! unbroken run of ready answers), against real servers the tests start and stop.

mod common;
use common::*;
use std::net::TcpListener;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(40);

#[test]
fn reverse_waits_until_a_real_server_is_gone_then_runs_the_command() {
    let mut srv = Redis::started(&[]);
    let url = format!("redis://127.0.0.1:{}", srv.port);
    let start = Instant::now();
    let mut w = Watched::spawn(whenready().args([
        "--reverse",
        "-t",
        "30s",
        &url,
        "--",
        "echo",
        "migrating",
    ]));
    // It sees the server up, says so, and keeps waiting.
    w.wait_for_line("not gone: still answers ready", LIMIT);
    srv.stop();
    let r = w.finish(start, LIMIT);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "migrating\n", "{r:?}");
    assert!(
        r.stderr.contains(&format!("{url} gone after")) && r.stderr.contains("connection refused"),
        "the line says how it shows that it is gone: {r:?}"
    );
}

#[test]
fn reverse_treats_a_wrong_password_as_permanent_not_as_gone() {
    let srv = Redis::started(&["--requirepass", "right-Canary-71"]);
    let wrong = "wrong-Canary-72";
    let r = wr(&[
        "--reverse",
        "-t",
        "30s",
        &format!("redis://:{wrong}@127.0.0.1:{}", srv.port),
        "--",
        "echo",
        "ran",
    ]);
    assert_exited(&r, 3);
    assert!(r.stderr.contains("WRONGPASS"), "{r:?}");
    assert_eq!(r.stdout, "", "the command must not run: {r:?}");
    assert_no_secret(&r, wrong);
    // --retry-all makes every failure transient, and so this one "gone".
    let r = wr(&[
        "--reverse",
        "--retry-all",
        "-t",
        "30s",
        &format!("redis://:{wrong}@127.0.0.1:{}", srv.port),
    ]);
    assert_exited(&r, 0);
}

#[test]
fn reverse_times_out_while_the_port_stays_open() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = listener.local_addr().unwrap().to_string();
    let r = wr(&["--reverse", "-t", "1s", &target]);
    assert_exited(&r, 1);
    assert!(
        r.stderr.contains("timed out after 1.0s; 1 of 1 not gone:")
            && r.stderr.contains(&format!("{target}: still answers ready")),
        "{r:?}"
    );
}

#[test]
fn reverse_once_is_a_healthcheck_for_absence() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let open = listener.local_addr().unwrap().to_string();
    let closed = format!("127.0.0.1:{}", free_port());
    let r = wr(&["--reverse", "--once", &closed]);
    assert_exited(&r, 0);
    let r = wr(&["--reverse", "--once", &closed, &open]);
    assert_exited(&r, 1);
    assert!(r.stderr.contains("1 of 2 not gone:"), "{r:?}");
}

#[test]
fn reverse_waits_for_a_file_to_be_removed() {
    let dir = TempDir::new("reverse-file");
    let lock = dir.join("migration.lock");
    std::fs::write(&lock, "held").unwrap();
    let url = format!("file://{}", lock.display());
    let start = Instant::now();
    let mut w = Watched::spawn(whenready().args(["--reverse", "--json", "-t", "30s", &url]));
    w.wait_for_line("\"event\":\"not_gone\"", LIMIT);
    std::fs::remove_file(&lock).unwrap();
    let r = w.finish(start, LIMIT);
    assert_exited(&r, 0);
    let events: Vec<serde_json::Value> = r
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(events[0]["event"], "start");
    assert_eq!(events[0]["reverse"], true);
    let gone = events
        .iter()
        .find(|e| e["event"] == "gone")
        .unwrap_or_else(|| panic!("no gone event: {r:?}"));
    assert_eq!(gone["target"], url.as_str());
    assert!(
        gone["reason"].as_str().unwrap().contains("does not exist"),
        "{r:?}"
    );
    assert_eq!(events.last().unwrap()["event"], "done");
}

#[test]
fn stable_does_not_let_a_flapping_server_through() {
    // A database that restarts once after its init: the first ready answer must not
    // open the gate; the unbroken run after the restart does.
    let mut srv = Redis::started(&[]);
    let url = format!("redis://127.0.0.1:{}", srv.port);
    let start = Instant::now();
    let mut w = Watched::spawn(whenready().args([
        "--stable", "10s", "--json", "-t", "60s", &url, "--", "echo", "started",
    ]));
    w.wait_for_line("ready for less than 10.0s so far (--stable)", LIMIT);
    // Up for a second of the window, then down until whenready has seen it.
    std::thread::sleep(Duration::from_secs(1));
    srv.stop();
    w.wait_for_line("connection refused", LIMIT);
    srv.start();
    let r = w.finish(start, Duration::from_secs(90));
    assert_exited(&r, 0);
    assert_eq!(r.stdout, "started\n");
    let events: Vec<serde_json::Value> = r
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    let at = |i: usize| events[i]["elapsed_ms"].as_u64().unwrap();
    let refused = events
        .iter()
        .position(|e| e["reason"].as_str().unwrap_or("").contains("refused"))
        .expect("the flap was seen");
    let ready = names.iter().position(|n| *n == "ready").expect("ready");
    assert!(refused < ready, "ready only after the flap: {names:?}");
    // The window started over at the first ready answer after the refusal, so the
    // gate opens a whole window after it (both times by whenready's own clock). A
    // window kept from the first answer would end a second or more earlier.
    assert!(
        at(ready) >= at(refused) + 10_000,
        "ready at {} ms, refused at {} ms: {names:?}",
        at(ready),
        at(refused)
    );
}

#[test]
fn bad_values_are_usage_errors() {
    for (args, says) in [
        (
            &["--stable", "later", "db:1"][..],
            "invalid duration \"later\" for --stable",
        ),
        (
            &["--once", "--stable", "2s", "db:1"][..],
            "--stable needs more than one attempt",
        ),
        (
            &["-t", "5s", "--stable", "1m", "db:1"][..],
            "--stable 1m0s is not shorter than the deadline",
        ),
    ] {
        let r = wr(args);
        assert_exited(&r, 2);
        assert!(r.stderr.contains(says), "{args:?}: {r:?}");
        assert_eq!(r.stderr.lines().count(), 1, "one line: {r:?}");
    }
    let r = run(
        whenready().arg("db:1").env("WHENREADY_REVERSE", "maybe"),
        LIMIT,
    );
    assert_exited(&r, 2);
    assert!(r.stderr.contains("WHENREADY_REVERSE"), "{r:?}");
}
