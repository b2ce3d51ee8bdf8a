//! MQTT targets against a real Mosquitto broker of our own (3.1.1 and 5, plain and
//! TLS), plus fakes for the refusals Mosquitto does not send and for broken peers.

mod common;
use common::mosquitto::Mosquitto;
use common::*;
use std::io::{Read, Write};
use std::thread;
use std::time::{Duration, Instant};

const PW: &str = "mqtt-Canary-5b2e";
const USERS: &[(&str, &str)] = &[("app", PW), ("other", "other-pw")];

#[test]
fn ready_with_user_and_password_then_command_runs() {
    let srv = Mosquitto::started(USERS);
    for query in ["", "?protocol=5"] {
        let r = wr(&[
            &format!("mqtt://app:{PW}@127.0.0.1:{}{query}", srv.port),
            "--",
            "echo",
            "ran",
        ]);
        assert_exited(&r, 0);
        assert_eq!(r.stdout, "ran\n");
        assert!(r.stderr.contains("mqtt://app:***@127.0.0.1"), "{r:?}");
        assert_no_secret(&r, PW);
    }
}

#[test]
fn refused_logins_are_permanent() {
    let srv = Mosquitto::started(USERS);
    let wrong = "Wrong-mqtt-Canary";
    // Mosquitto 2.0 answers a wrong password, an unknown user and no credentials
    // with "not authorized" (3.1.1 code 5, MQTT 5 reason 0x87).
    for (url, needle) in [
        (
            format!("mqtt://app:{wrong}@127.0.0.1:{}", srv.port),
            "not authorized",
        ),
        (
            format!("mqtt://nobody:{wrong}@127.0.0.1:{}", srv.port),
            "not authorized",
        ),
        (format!("mqtt://127.0.0.1:{}", srv.port), "not authorized"),
        (
            format!("mqtt://app:{wrong}@127.0.0.1:{}?protocol=5", srv.port),
            "0x87",
        ),
    ] {
        let r = wr(&["-t", "30s", &url]);
        assert_exited(&r, 3);
        assert!(r.stderr.contains(needle), "{needle}: {r:?}");
        assert!(r.elapsed < Duration::from_secs(10), "{r:?}");
        assert_no_secret(&r, wrong);
    }
    let r = wr(&[
        "--once",
        &format!("mqtt://app:{wrong}@127.0.0.1:{}", srv.port),
    ]);
    assert_exited(&r, 1);
    assert_no_secret(&r, wrong);
    let r = wr(&["--once", &format!("mqtt://app:{PW}@127.0.0.1:{}", srv.port)]);
    assert_exited(&r, 0);
}

#[test]
fn started_late_is_waited_for() {
    let mut srv = Mosquitto::new(USERS);
    let child = whenready()
        .args([
            "-t",
            "20s",
            &format!("mqtt://app:{PW}@127.0.0.1:{}", srv.port),
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
    assert_no_secret(&r, PW);
}

#[test]
fn never_started_times_out() {
    let port = free_port();
    assert_never_started(
        &format!("mqtt://127.0.0.1:{port}"),
        &format!("mqtts://127.0.0.1:{port}"),
    );
}

#[test]
fn mqtts_verifies_the_broker() {
    let certs = certs(&["localhost", "127.0.0.1"]);
    let mut srv = Mosquitto::with_tls(USERS, &certs);
    srv.start();
    let port = srv.tls_port.unwrap();
    let ca = certs.ca.to_str().unwrap();
    for query in ["", "?protocol=5"] {
        let url = format!("mqtts://app:{PW}@localhost:{port}{query}");
        let r = wr(&["--once", "--cacert", ca, &url]);
        assert_exited(&r, 0);
        assert_no_secret(&r, PW);
    }
    // An unknown CA: permanent.
    let r = wr(&["-t", "30s", &format!("mqtts://app:{PW}@127.0.0.1:{port}")]);
    assert_exited(&r, 3);
    assert!(r.stderr.contains("certificate"), "{r:?}");
    assert_no_secret(&r, PW);
    let r = wr(&[
        "--once",
        "--insecure",
        &format!("mqtts://app:{PW}@127.0.0.1:{port}"),
    ]);
    assert_exited(&r, 0);
    assert!(r.stderr.contains("not verified"), "{r:?}");
    // Plaintext behind an mqtts URL, TLS behind an mqtt URL: transient.
    let r = wr(&[
        "-t",
        "1s",
        "--cacert",
        ca,
        &format!("mqtts://localhost:{}", srv.port),
    ]);
    assert_exited(&r, 1);
    let r = wr(&["-t", "1s", &format!("mqtt://app:{PW}@127.0.0.1:{port}")]);
    assert_exited(&r, 1);
    assert_no_secret(&r, PW);
    // A wrong password through TLS: permanent too.
    let r = wr(&[
        "-t",
        "30s",
        "--cacert",
        ca,
        &format!("mqtts://app:x@127.0.0.1:{port}"),
    ]);
    assert_exited(&r, 3);
}

/// A fake broker answering every CONNECT with these bytes.
fn connack(reply: &'static [u8]) -> Fake {
    Fake::start(move |mut s, _| {
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf);
        let _ = s.write_all(reply);
        thread::sleep(Duration::from_millis(200));
    })
}

#[test]
fn refusals_mosquitto_does_not_send() {
    for (reply, query, code, needle) in [
        (&[0x20u8, 2, 0, 4][..], "", 3, "bad user name or password"),
        (&[0x20, 2, 0, 3][..], "", 1, "server unavailable"),
        (&[0x20, 2, 0, 2][..], "", 1, "identifier rejected"),
        (&[0x20, 2, 0, 1][..], "", 3, "unacceptable protocol version"),
        (
            &[0x20, 3, 0, 0x86, 0][..],
            "?protocol=5",
            3,
            "bad user name or password",
        ),
        (
            &[0x20, 3, 0, 0x88, 0][..],
            "?protocol=5",
            1,
            "server unavailable",
        ),
        (&[0x20, 3, 0, 0x89, 0][..], "?protocol=5", 1, "server busy"),
        // A 3.1.1-only broker refusing an MQTT 5 CONNECT.
        (
            &[0x20, 2, 0, 1][..],
            "?protocol=5",
            3,
            "unacceptable protocol version",
        ),
        // A reason string is shown.
        (
            &[0x20, 8, 0, 0x87, 5, 0x1F, 0, 2, b'n', b'o'][..],
            "?protocol=5",
            3,
            "not authorized (no)",
        ),
    ] {
        let reply: &'static [u8] = Box::leak(reply.to_vec().into_boxed_slice());
        let fake = connack(reply);
        let r = wr(&["-t", "1s", &format!("mqtt://u:{PW}@{}{query}", fake.addr())]);
        assert_exited(&r, code);
        assert!(r.stderr.contains(needle), "{needle}: {r:?}");
        assert_no_secret(&r, PW);
    }
}

#[test]
fn silent_garbage_and_closing_peers_are_transient() {
    let silent_peer = Fake::start(silent);
    let garbage = connack(b"HTTP/1.1 400 Bad Request\r\n\r\n");
    let huge = connack(&[0x20, 0xFF, 0xFF, 0xFF, 0x7F]);
    let endless_length = connack(&[0x20, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
    // Half a CONNACK, then the connection closes.
    let short = Fake::start(|mut s, _| {
        let _ = s.read(&mut [0u8; 1024]);
        let _ = s.write_all(&[0x20, 2, 0]);
    });
    // Reads the CONNECT, then closes without a CONNACK.
    let closing = Fake::start(|mut s, _| {
        let _ = s.read(&mut [0u8; 1024]);
    });
    for (fake, needle) in [
        (&silent_peer, "no answer within 200ms"),
        (&garbage, "not an MQTT broker"),
        (&huge, "not an MQTT broker"),
        (&endless_length, "not an MQTT broker"),
        (&short, "closed"),
        (&closing, "connection closed by the server before CONNACK"),
    ] {
        let r = wr(&[
            "-t",
            "1s",
            "--attempt-timeout",
            "200ms",
            &format!("mqtt://{}", fake.addr()),
        ]);
        assert_exited(&r, 1);
        assert!(r.stderr.contains(needle), "{needle}: {r:?}");
    }
}
