//! NATS targets against real nats-servers of our own (user and password, token,
//! TLS required by the server), plus fakes for what a real server will not do.

mod common;
use common::nats::Nats;
use common::*;
use std::io::{Read, Write};
use std::thread;
use std::time::{Duration, Instant};

const PW: &str = "nats-Canary-7e1f";
const TOKEN: &str = "nats-Token-Canary-42aa";

#[test]
fn user_and_password_ready_then_command_runs() {
    let srv = Nats::started(&["--user", "app", "--pass", PW]);
    let r = wr(&[
        &format!("nats://app:{PW}@127.0.0.1:{}", srv.port),
        "--",
        "echo",
        "ran",
    ]);
    assert_exited(&r, 0);
    assert_eq!(r.stdout, "ran\n");
    assert!(r.stderr.contains("nats://app:***@127.0.0.1"), "{r:?}");
    assert_no_secret(&r, PW);
}

#[test]
fn wrong_or_missing_credentials_are_permanent() {
    let srv = Nats::started(&["--user", "app", "--pass", PW]);
    let wrong = "Wrong-nats-Canary";
    for url in [
        format!("nats://app:{wrong}@127.0.0.1:{}", srv.port),
        format!("nats://127.0.0.1:{}", srv.port),
    ] {
        let r = wr(&["-t", "30s", &url]);
        assert_exited(&r, 3);
        assert!(r.stderr.contains("Authorization Violation"), "{r:?}");
        assert!(r.elapsed < Duration::from_secs(10), "{r:?}");
        assert_no_secret(&r, wrong);
    }
    // --once: any not-ready outcome is 1.
    let r = wr(&[
        "--once",
        &format!("nats://app:{wrong}@127.0.0.1:{}", srv.port),
    ]);
    assert_exited(&r, 1);
    assert_no_secret(&r, wrong);
}

#[test]
fn token() {
    let srv = Nats::started(&["--auth", TOKEN]);
    let r = wr(&["--once", &format!("nats://{TOKEN}@127.0.0.1:{}", srv.port)]);
    assert_exited(&r, 0);
    assert!(r.stderr.contains("nats://***@127.0.0.1"), "{r:?}");
    assert_no_secret(&r, TOKEN);
    let wrong = "Wrong-Token-Canary";
    let r = wr(&[
        "-t",
        "30s",
        &format!("nats://{wrong}@127.0.0.1:{}", srv.port),
    ]);
    assert_exited(&r, 3);
    assert!(r.stderr.contains("Authorization Violation"), "{r:?}");
    assert_no_secret(&r, wrong);
    // A usage error must not show the token either.
    let r = wr(&[&format!("nats://{TOKEN}@127.0.0.1:{}?bogus=1", srv.port)]);
    assert_exited(&r, 2);
    assert!(r.stderr.contains("bogus"), "{r:?}");
    assert_no_secret(&r, TOKEN);
}

#[test]
fn started_late_is_waited_for() {
    let mut srv = Nats::new(&[]);
    let child = whenready()
        .args([
            "-t",
            "20s",
            &format!("nats://127.0.0.1:{}", srv.port),
            "--",
            "echo",
            "ran",
        ])
        .spawn_piped();
    let start = Instant::now();
    thread::sleep(Duration::from_millis(800));
    srv.start();
    let r = finish(child, start, Duration::from_secs(30));
    assert_exited(&r, 0);
    assert_eq!(r.stdout, "ran\n");
    assert!(r.stderr.contains("connection refused"), "{r:?}");
}

#[test]
fn never_started_times_out() {
    let port = free_port();
    assert_never_started(
        &format!("nats://127.0.0.1:{port}"),
        &format!("nats://127.0.0.1:{port}"),
    );
}

#[test]
fn tls_required_by_the_server() {
    let certs = certs(&["localhost", "127.0.0.1"]);
    let srv = {
        let mut n = Nats::tls(&certs, &["--user", "app", "--pass", PW]);
        n.start();
        n
    };
    let url = format!("nats://app:{PW}@127.0.0.1:{}", srv.port);
    let ca = certs.ca.to_str().unwrap();
    let r = wr(&["--once", "--cacert", ca, &url]);
    assert_exited(&r, 0);
    assert_no_secret(&r, PW);
    // Asked for by the URL too.
    let r = wr(&["--once", "--cacert", ca, &format!("{url}?tls=true")]);
    assert_exited(&r, 0);
    // An unknown CA: certificate verification failed, permanent.
    let r = wr(&["-t", "30s", &url]);
    assert_exited(&r, 3);
    assert!(r.stderr.contains("certificate"), "{r:?}");
    assert_no_secret(&r, PW);
    // --insecure: not verified, and said so.
    let r = wr(&["--once", "--insecure", &url]);
    assert_exited(&r, 0);
    assert!(r.stderr.contains("not verified"), "{r:?}");
}

#[test]
fn tls_asked_for_but_not_offered_is_transient() {
    let srv = Nats::started(&[]);
    let r = wr(&[
        "-t",
        "1s",
        &format!("nats://127.0.0.1:{}?tls=true", srv.port),
    ]);
    assert_exited(&r, 1);
    assert!(r.stderr.contains("TLS"), "{r:?}");
}

fn info_then(reply: &'static [u8]) -> Fake {
    Fake::start(move |mut s, _| {
        let _ = s.write_all(b"INFO {\"server_id\":\"x\",\"auth_required\":true}\r\n");
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf);
        let _ = s.write_all(reply);
        thread::sleep(Duration::from_millis(200));
    })
}

#[test]
fn other_server_errors_are_transient() {
    let fake = info_then(b"-ERR 'maximum connections exceeded'\r\n");
    let r = wr(&["-t", "1s", &format!("nats://{}", fake.addr())]);
    assert_exited(&r, 1);
    assert!(r.stderr.contains("maximum connections exceeded"), "{r:?}");
}

#[test]
fn a_fake_that_answers_pong_is_ready() {
    let fake = info_then(b"+OK\r\nPONG\r\n");
    let r = wr(&["--once", &format!("nats://{}", fake.addr())]);
    assert_exited(&r, 0);
}

#[test]
fn silent_garbage_and_closing_peers_are_transient() {
    let silent_peer = Fake::start(silent);
    let garbage = Fake::start(|mut s, _| {
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
        thread::sleep(Duration::from_millis(100));
    });
    let endless = Fake::start(|mut s, _| {
        let junk = [b'x'; 8192];
        for _ in 0..20 {
            if s.write_all(&junk).is_err() {
                break;
            }
        }
    });
    let closing = Fake::start(|s, _| drop(s));
    // INFO, then the connection closes as soon as CONNECT arrives.
    let info_then_close = Fake::start(|mut s, _| {
        let _ = s.write_all(b"INFO {}\r\n");
        let _ = s.read(&mut [0u8; 1024]);
    });
    for (fake, needle) in [
        (&silent_peer, "no answer within 200ms"),
        (&garbage, "not a NATS server"),
        (&endless, "not a NATS server"),
        (&closing, "closed"),
        (&info_then_close, "closed"),
    ] {
        let r = wr(&[
            "-t",
            "1s",
            "--attempt-timeout",
            "200ms",
            &format!("nats://{}", fake.addr()),
        ]);
        assert_exited(&r, 1);
        assert!(r.stderr.contains(needle), "{needle}: {r:?}");
    }
}

#[test]
fn the_global_client_certificate_reaches_nats() {
    // Every TLS kind takes --cert/--key from the shared TLS configuration; NATS with
    // --tlsverify stands for them (mysql, amqps and mqtts build theirs the same way).
    let certs = certs(&["localhost", "127.0.0.1"]);
    let ca = certs.ca.to_str().unwrap();
    let srv = {
        let mut n = Nats::tls(&certs, &["--tlsverify", "--tlscacert", ca]);
        n.start();
        n
    };
    let url = format!("nats://127.0.0.1:{}", srv.port);
    let (cert, key) = (
        certs.client_cert.to_str().unwrap(),
        certs.client_key.to_str().unwrap(),
    );
    let r = wr(&[
        "-t", "20s", "--cacert", ca, "--cert", cert, "--key", key, &url,
    ]);
    assert_exited(&r, 0);
    let r = wr(&["-t", "20s", "--cacert", ca, &url]);
    assert_exited(&r, 3);
    assert!(r.stderr.contains("client certificate"), "{r:?}");
}
