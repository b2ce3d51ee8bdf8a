//! TCP, Unix-socket and file targets against real sockets: ready, starts late,
//! never ready, hangs; concurrency; the deadline; resolution.

mod common;
use common::*;
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn open_port_is_ready_and_the_command_runs() {
    let fake = Fake::start(|_, _| {});
    let r = wr(&[&fake.addr(), "--", "sh", "-c", "echo ran"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "ran\n");
    assert!(r.stderr.contains("ready after"), "{r:?}");
    assert!(r.stderr.contains("1 attempt"), "{r:?}");
}

#[test]
fn without_a_command_ready_exits_0() {
    let fake = Fake::start(|_, _| {});
    let r = wr(&[&fake.addr(), &format!("tcp://127.0.0.1:{}", fake.port)]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.is_empty(), "stdout belongs to COMMAND: {r:?}");
}

#[test]
fn a_port_that_opens_late_is_waited_for() {
    let port = free_port();
    let start = Instant::now();
    let opener = thread::spawn(move || {
        thread::sleep(Duration::from_millis(800));
        let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
        thread::sleep(Duration::from_secs(5));
        drop(l);
    });
    let r = wr(&["-t", "10s", &format!("127.0.0.1:{port}"), "--", "true"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(start.elapsed() >= Duration::from_millis(800));
    assert!(
        r.stderr.contains("connection refused"),
        "the reason is reported: {r:?}"
    );
    // The reason line appears once however many attempts were refused.
    assert_eq!(
        r.stderr.matches("not ready: connection refused").count(),
        1,
        "{r:?}"
    );
    opener.join().unwrap();
}

#[test]
fn never_ready_exits_1_at_the_deadline_without_running_the_command() {
    let port = free_port();
    let r = wr(&[
        "-t",
        "1s",
        &format!("127.0.0.1:{port}"),
        "--",
        "sh",
        "-c",
        "echo ran",
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.is_empty(), "the command must not run: {r:?}");
    assert!(r.stderr.contains("timed out after 1.0s"), "{r:?}");
    assert!(
        r.stderr
            .contains(&format!("127.0.0.1:{port}: connection refused (")),
        "{r:?}"
    );
    assert!(
        r.stderr.contains("attempts)"),
        "attempt count in the summary: {r:?}"
    );
}

#[test]
fn deadline_holds_while_an_attempt_hangs() {
    // A peer that accepts and never answers an HTTP request, and attempts allowed to
    // take 30 s: only the deadline can end this run early. (How close to the
    // deadline it ends is measured by bench/run.sh, not asserted here.)
    let hang = Fake::start(silent);
    let port = free_port();
    let r = wr(&[
        "-t",
        "700ms",
        "--attempt-timeout",
        "30s",
        &format!("http://{}/", hang.addr()),
        &format!("127.0.0.1:{port}"),
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.elapsed < Duration::from_secs(10), "{r:?}");
    assert!(r.stderr.contains("no answer within"), "{r:?}");
    assert!(r.stderr.contains("connection refused"), "{r:?}");
}

#[test]
fn all_targets_are_probed_concurrently() {
    // The first target hangs longer than the whole wait (an HTTP server that never
    // answers, attempts of 30 s, a 2 s deadline). Probing one target after another
    // would never reach the second; probing concurrently finds it ready at once.
    let hang = Fake::start(silent);
    let open = Fake::start(|_, _| {});
    let r = wr(&[
        "-t",
        "2s",
        "--attempt-timeout",
        "30s",
        &format!("http://{}/", hang.addr()),
        &open.addr(),
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(&format!("{} ready after", open.addr())),
        "{r:?}"
    );
    assert!(r.stderr.contains("1 of 2 not ready"), "{r:?}");
}

#[test]
fn a_name_that_does_not_resolve_keeps_waiting() {
    let r = wr(&["-t", "600ms", "no-such-host.invalid:80"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("does not resolve"), "{r:?}");
}

#[test]
fn localhost_works_when_only_one_address_family_listens() {
    // localhost resolves to 127.0.0.1 and often ::1 as well; only IPv4 listens here.
    let fake = Fake::start(|_, _| {});
    let r = wr(&["-t", "5s", &format!("localhost:{}", fake.port)]);
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn ipv6_literals_work() {
    let Ok(l) = TcpListener::bind("[::1]:0") else {
        panic!("this test needs IPv6 on loopback (::1)");
    };
    let port = l.local_addr().unwrap().port();
    let r = wr(&[
        "-t",
        "5s",
        &format!("[::1]:{port}"),
        &format!("tcp://[::1]:{port}"),
    ]);
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn unix_socket_ready_late_and_never() {
    let dir = TempDir::new("unix");
    let path = dir.join("app.sock");
    let url = format!("unix://{}", path.display());
    let start = Instant::now();
    let mut child = Watched::spawn(whenready().args(["-t", "10s", &url, "--", "true"]));
    child.wait_for_line("no socket there yet", Duration::from_secs(10));
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let r = child.finish(start, Duration::from_secs(20));
    assert_eq!(r.code, 0, "{r:?}");
    drop(listener);
    // The socket file still exists but nothing listens: refused, not ready.
    let r = wr(&["-t", "300ms", &url]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("connection refused"), "{r:?}");
}

#[test]
fn file_target_waits_for_the_path() {
    let dir = TempDir::new("file");
    let path = dir.join("flag");
    let url = format!("file://{}", path.display());
    let start = Instant::now();
    let mut child = Watched::spawn(whenready().args(["-t", "10s", &url]));
    child.wait_for_line("does not exist yet", Duration::from_secs(10));
    std::fs::write(&path, "").unwrap();
    let r = child.finish(start, Duration::from_secs(20));
    assert_eq!(r.code, 0, "{r:?}");
    let r = wr(&[
        "-t",
        "200ms",
        &format!("file://{}/missing", dir.0.display()),
    ]);
    assert_eq!(r.code, 1, "{r:?}");
}

#[test]
fn a_file_whose_directories_appear_late_and_go_away_is_waited_for() {
    // The watch (inotify) follows the nearest existing directory down as the
    // directories appear, and back up when one is removed; the gate opens either way.
    let dir = TempDir::new("file-dirs");
    let path = dir.join("a/b/flag");
    let url = format!("file://{}", path.display());
    let start = Instant::now();
    let mut child = Watched::spawn(whenready().args(["-t", "30s", "--interval", "1h", &url]));
    child.wait_for_line("does not exist yet", Duration::from_secs(10));
    std::fs::create_dir(dir.join("a")).unwrap();
    std::fs::create_dir(dir.join("a/b")).unwrap();
    std::fs::remove_dir(dir.join("a/b")).unwrap();
    std::fs::create_dir(dir.join("a/b")).unwrap();
    std::fs::write(&path, "").unwrap();
    let r = child.finish(start, Duration::from_secs(40));
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn a_socket_bound_late_in_a_directory_made_late_is_waited_for() {
    let dir = TempDir::new("unix-dirs");
    let path = dir.join("run/app.sock");
    let url = format!("unix://{}", path.display());
    let start = Instant::now();
    let mut child = Watched::spawn(whenready().args(["-t", "30s", "--interval", "1h", &url]));
    child.wait_for_line("no socket there yet", Duration::from_secs(10));
    std::fs::create_dir(dir.join("run")).unwrap();
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let r = child.finish(start, Duration::from_secs(40));
    assert_eq!(r.code, 0, "{r:?}");
    drop(listener);
}

#[test]
fn once_makes_one_attempt_and_exits_0_or_1() {
    let fake = Fake::start(|_, _| {});
    let r = wr(&["--once", &fake.addr()]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(fake.connections_so_far(), 1);
    let port = free_port();
    let r = wr(&["--once", &fake.addr(), &format!("127.0.0.1:{port}")]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("1 attempt)"), "{r:?}");
    assert!(r.elapsed < Duration::from_secs(2), "{r:?}");
}

#[test]
fn quiet_says_nothing_on_success_and_the_reason_on_failure() {
    let fake = Fake::start(|_, _| {});
    let r = wr(&["-q", &fake.addr()]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:?}");
    let port = free_port();
    let r = wr(&["-q", "-t", "300ms", &format!("127.0.0.1:{port}")]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("connection refused"), "{r:?}");
    assert!(!r.stderr.contains("waiting up to"), "{r:?}");
}

#[test]
fn zero_timeout_waits_without_deadline() {
    let port = free_port();
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(1200));
        let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
        thread::sleep(Duration::from_secs(3));
        drop(l);
    });
    let r = wr(&["-t", "0", &format!("127.0.0.1:{port}")]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("without a deadline"), "{r:?}");
    t.join().unwrap();
}

#[test]
fn json_events_are_one_object_per_line() {
    let fake = Fake::start(|_, _| {});
    let port = free_port();
    let r = wr(&[
        "--json",
        "-t",
        "300ms",
        &fake.addr(),
        &format!("127.0.0.1:{port}"),
    ]);
    assert_eq!(r.code, 1);
    for line in r.stderr.lines() {
        assert!(
            line.starts_with("{\"event\":\"") && line.ends_with('}'),
            "{line}"
        );
    }
    assert!(r.stderr.contains("\"event\":\"ready\""), "{r:?}");
    assert!(r.stderr.contains("\"event\":\"timeout\""), "{r:?}");
}

#[test]
fn the_wait_goes_on_from_the_first_look() {
    // The first look decides the loopback targets at once: one open (ready, 1
    // attempt), one refused. An HTTP target needs the runtime, and so does the rest
    // of the wait: it must go on from there, not start again (no second start line,
    // no second connection to the target found ready, the refused target's first
    // attempt counted).
    let open = Fake::start(|_, _| {});
    let web = http(|_, _| (200, String::new()));
    let port = free_port();
    let opener = thread::spawn(move || {
        thread::sleep(Duration::from_millis(700));
        let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
        thread::sleep(Duration::from_secs(5));
        drop(l);
    });
    let late = format!("localhost:{port}");
    let r = wr(&[
        "-t",
        "10s",
        &open.addr(),
        &late,
        &format!("http://{}/", web.addr()),
        "--",
        "sh",
        "-c",
        "echo ran",
    ]);
    assert_exited(&r, 0);
    assert_eq!(r.stdout, "ran\n", "{r:?}");
    assert_eq!(r.stderr.matches("waiting up to").count(), 1, "{r:?}");
    assert!(
        r.stderr.contains(&format!("{} ready after", open.addr()))
            && r.stderr.contains("(1 attempt)"),
        "{r:?}"
    );
    assert_eq!(open.connections_so_far(), 1, "probed again: {r:?}");
    assert_eq!(
        r.stderr
            .matches(&format!("{late} not ready: connection refused"))
            .count(),
        1,
        "{r:?}"
    );
    // Refused from the start until 700 ms: many attempts, the first look's among them.
    let line = r
        .stderr
        .lines()
        .find(|l| l.contains(&format!("{late} ready after")))
        .unwrap_or_else(|| panic!("{r:?}"));
    let attempts: u32 = line
        .rsplit('(')
        .next()
        .and_then(|a| a.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(attempts >= 4, "{line}");
    opener.join().unwrap();
}

#[test]
fn once_reports_the_first_look_and_the_runtime_alike() {
    // One refused loopback port (decided at once) and one HTTP target (on the
    // runtime): --once makes one attempt at each and says both.
    let web = http(|_, _| (503, String::new()));
    let closed = format!("localhost:{}", free_port());
    let r = wr(&["--once", &closed, &format!("http://{}/", web.addr())]);
    assert_exited(&r, 1);
    assert!(r.stderr.contains("2 of 2 not ready"), "{r:?}");
    assert!(
        r.stderr
            .contains(&format!("{closed}: connection refused (1 attempt)")),
        "{r:?}"
    );
    assert!(r.stderr.contains("503"), "{r:?}");
    assert_eq!(web.connections_so_far(), 1, "{r:?}");
}
