//! memcached targets against real memcached servers of our own (plain, with the text
//! protocol's authentication, SASL-only), plus a fake for a peer that is not memcached.

mod common;
use common::memcached::Memcached;
use common::*;
use std::io::{Read, Write};
use std::thread;
use std::time::{Duration, Instant};

const PW: &str = "mc-Canary-5b2e";

#[test]
fn ready_then_command_runs() {
    let srv = Memcached::started(&[]);
    let r = wr(&[
        &format!("memcached://127.0.0.1:{}", srv.port),
        "--",
        "echo",
        "ran",
    ]);
    assert_exited(&r, 0);
    assert_eq!(r.stdout, "ran\n");
    let r = wr(&["--once", &format!("memcached://127.0.0.1:{}", srv.port)]);
    assert_exited(&r, 0);
}

#[test]
fn started_late_is_waited_for() {
    let mut srv = Memcached::new(&[]);
    let mut w = Watched::spawn(whenready().args([
        "-t",
        "20s",
        &format!("memcached://127.0.0.1:{}", srv.port),
        "--",
        "echo",
        "ran",
    ]));
    let start = Instant::now();
    w.wait_for_line("connection refused", Duration::from_secs(10));
    srv.start();
    let r = w.finish(start, Duration::from_secs(30));
    assert_exited(&r, 0);
    assert_eq!(r.stdout, "ran\n");
}

#[test]
fn stopped_then_restarted() {
    let mut srv = Memcached::started(&[]);
    let url = format!("memcached://127.0.0.1:{}", srv.port);
    assert_exited(&wr(&["--once", &url]), 0);
    srv.stop();
    let r = wr(&["--once", &url]);
    assert_exited(&r, 1);
    assert!(r.stderr.contains("connection refused"), "{r:?}");
    let mut w = Watched::spawn(whenready().args(["-t", "20s", &url]));
    let start = Instant::now();
    w.wait_for_line("connection refused", Duration::from_secs(10));
    srv.start();
    let r = w.finish(start, Duration::from_secs(30));
    assert_exited(&r, 0);
    assert!(r.stderr.contains("ready after"), "{r:?}");
}

#[test]
fn never_started_times_out() {
    let port = free_port();
    let url = format!("memcached://127.0.0.1:{port}");
    assert_never_started(&url, &url);
}

#[test]
fn authentication_ready_and_password_masked() {
    let srv = Memcached::with_auth_started("app", PW);
    let r = wr(&[
        "--json",
        &format!("memcached://app:{PW}@127.0.0.1:{}", srv.port),
    ]);
    assert_exited(&r, 0);
    assert!(r.stderr.contains("memcached://app:***@127.0.0.1"), "{r:?}");
    assert_no_secret(&r, PW);
}

#[test]
fn wrong_or_missing_credentials_are_permanent() {
    let srv = Memcached::with_auth_started("app", PW);
    let wrong = "Wrong-mc-Canary";
    let r = wr(&[
        "-t",
        "30s",
        &format!("memcached://app:{wrong}@127.0.0.1:{}", srv.port),
    ]);
    assert_exited(&r, 3);
    assert!(r.stderr.contains("authentication failed"), "{r:?}");
    assert!(r.elapsed < Duration::from_secs(10), "{r:?}");
    assert_no_secret(&r, wrong);
    let r = wr(&["-t", "30s", &format!("memcached://127.0.0.1:{}", srv.port)]);
    assert_exited(&r, 3);
    assert!(r.stderr.contains("requires authentication"), "{r:?}");
    // --once: any not-ready outcome is 1.
    let r = wr(&[
        "--once",
        &format!("memcached://app:{wrong}@127.0.0.1:{}", srv.port),
    ]);
    assert_exited(&r, 1);
    assert_no_secret(&r, wrong);
}

#[test]
fn sasl_only_server_is_not_supported_and_says_so() {
    let mut srv = Memcached::sasl_only();
    srv.start();
    let r = wr(&["-t", "1s", &format!("memcached://127.0.0.1:{}", srv.port)]);
    assert_exited(&r, 1);
    assert!(r.stderr.contains("SASL"), "{r:?}");
}

#[test]
fn bad_urls_are_usage_errors() {
    for (url, needle) in [
        ("memcached://h?timeout=1", "timeout"),
        ("memcached://h/0", "no path"),
        ("memcached://app@h", "without a password"),
        ("memcached://h:99999", "99999"),
    ] {
        let r = wr(&[url]);
        assert_exited(&r, 2);
        assert!(r.stderr.contains(needle), "{url}: {r:?}");
    }
    let r = wr(&[&format!("memcached://app:{PW}@h?bogus=1")]);
    assert_exited(&r, 2);
    assert_no_secret(&r, PW);
}

#[test]
fn a_peer_that_is_not_memcached_is_waited_for() {
    let fake = Fake::start(|mut s, _| {
        let mut buf = [0u8; 64];
        let _ = s.read(&mut buf);
        let _ = s.write_all(b"+PONG\r\n");
        thread::sleep(Duration::from_millis(200));
    });
    let r = wr(&["-t", "1s", &format!("memcached://{}", fake.addr())]);
    assert_exited(&r, 1);
    assert!(r.stderr.contains("not a memcached server"), "{r:?}");
}
