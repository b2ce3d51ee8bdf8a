//! AMQP 0-9-1 targets against a real RabbitMQ node of our own (one per test binary,
//! plus one started late), and fakes for broken peers.

mod common;
use common::rabbitmq::{shared, Rabbit, APP_PW};
use common::*;
use std::io::{Read, Write};
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn guest_on_the_default_vhost_then_command_runs() {
    let srv = shared();
    for url in [
        format!("amqp://127.0.0.1:{}", srv.port),
        format!("amqp://guest:guest@127.0.0.1:{}/%2F", srv.port),
    ] {
        let r = wr(&[&url, "--", "echo", "ran"]);
        assert_exited(&r, 0);
        assert_eq!(r.stdout, "ran\n");
    }
}

#[test]
fn user_on_its_vhost() {
    let srv = shared();
    let r = wr(&[
        "--once",
        &format!("amqp://app:{APP_PW}@127.0.0.1:{}/appvh", srv.port),
    ]);
    assert_exited(&r, 0);
    assert!(r.stderr.contains("amqp://app:***@127.0.0.1"), "{r:?}");
    assert_no_secret(&r, APP_PW);
}

#[test]
fn refused_login_is_permanent() {
    let srv = shared();
    let wrong = "Wrong-amqp-Canary";
    for url in [
        format!("amqp://app:{wrong}@127.0.0.1:{}/appvh", srv.port),
        format!("amqp://nobody:{wrong}@127.0.0.1:{}", srv.port),
    ] {
        let r = wr(&["-t", "30s", &url]);
        assert_exited(&r, 3);
        assert!(
            r.stderr.contains("403") && r.stderr.contains("ACCESS_REFUSED"),
            "{r:?}"
        );
        assert!(r.elapsed < Duration::from_secs(10), "{r:?}");
        assert_no_secret(&r, wrong);
    }
    let r = wr(&[
        "--once",
        &format!("amqp://app:{wrong}@127.0.0.1:{}/appvh", srv.port),
    ]);
    assert_exited(&r, 1);
    assert_no_secret(&r, wrong);
}

#[test]
fn vhost_missing_or_not_permitted_is_permanent() {
    let srv = shared();
    for (vhost, needle) in [
        ("othervh", "refused for user"),
        ("", "refused for user"),
        ("nope", "not found"),
    ] {
        let url = format!("amqp://app:{APP_PW}@127.0.0.1:{}/{vhost}", srv.port);
        let r = wr(&["-t", "30s", &url]);
        assert_exited(&r, 3);
        assert!(
            r.stderr.contains("530") && r.stderr.contains("NOT_ALLOWED"),
            "{r:?}"
        );
        assert!(r.stderr.contains(needle), "{needle}: {r:?}");
        assert_no_secret(&r, APP_PW);
    }
}

#[test]
fn amqps_verifies_the_broker() {
    let srv = shared();
    let ca = srv.certs.ca.to_str().unwrap();
    let url = format!("amqps://app:{APP_PW}@localhost:{}/appvh", srv.tls_port);
    let r = wr(&["--once", "--cacert", ca, &url]);
    assert_exited(&r, 0);
    assert_no_secret(&r, APP_PW);
    let r = wr(&["-t", "30s", &url]);
    assert_exited(&r, 3);
    assert!(r.stderr.contains("certificate"), "{r:?}");
    assert_no_secret(&r, APP_PW);
    let r = wr(&["--once", "--insecure", &url]);
    assert_exited(&r, 0);
    assert!(r.stderr.contains("not verified"), "{r:?}");
    // Plain AMQP to the TLS port: transient.
    let r = wr(&["-t", "1s", &format!("amqp://127.0.0.1:{}", srv.tls_port)]);
    assert_exited(&r, 1);
    // TLS to the plain AMQP port: transient.
    let r = wr(&[
        "-t",
        "1s",
        "--cacert",
        ca,
        &format!("amqps://localhost:{}", srv.port),
    ]);
    assert_exited(&r, 1);
}

#[test]
fn started_late_is_waited_for() {
    // guest on / exist from the first boot, before the listener opens (`app` is made
    // only after the node has started, so a probe as `app` could be refused).
    let mut srv = Rabbit::new();
    let url = format!("amqp://guest:guest@127.0.0.1:{}", srv.port);
    let child = whenready()
        .args(["-t", "120s", &url, "--", "echo", "ran"])
        .spawn_piped();
    let start = Instant::now();
    thread::sleep(Duration::from_millis(500));
    srv.start();
    let r = finish(child, start, Duration::from_secs(150));
    assert_exited(&r, 0);
    assert_eq!(r.stdout, "ran\n");
    assert!(r.stderr.contains("connection refused"), "{r:?}");
    srv.stop();
}

#[test]
fn never_started_times_out() {
    let port = free_port();
    assert_never_started(
        &format!("amqp://127.0.0.1:{port}"),
        &format!("amqps://127.0.0.1:{port}"),
    );
}

/// A method frame on channel 0.
fn frame(payload: &[u8]) -> Vec<u8> {
    let mut f = vec![1, 0, 0];
    f.extend((payload.len() as u32).to_be_bytes());
    f.extend(payload);
    f.push(0xCE);
    f
}

/// Connection.Start offering these mechanisms.
fn start(mechanisms: &str) -> Vec<u8> {
    let mut p = vec![0, 10, 0, 10, 0, 9, 0, 0, 0, 0];
    p.extend((mechanisms.len() as u32).to_be_bytes());
    p.extend(mechanisms.as_bytes());
    p.extend([0, 0, 0, 5]);
    p.extend(b"en_US");
    frame(&p)
}

/// A fake broker: reads the header, sends `first`, reads the Start-Ok, sends `then`.
fn fake(first: Vec<u8>, then: Vec<u8>) -> Fake {
    Fake::start(move |mut s, _| {
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf);
        let _ = s.write_all(&first);
        let _ = s.read(&mut buf);
        let _ = s.write_all(&then);
        thread::sleep(Duration::from_millis(100));
    })
}

#[test]
fn broker_refusals_through_fakes() {
    // Socket closed right after Start-Ok (brokers without
    // authentication_failure_close): transient, the reason says when.
    let closes = fake(start("AMQPLAIN PLAIN"), vec![]);
    // Connection.Close 320 CONNECTION_FORCED: transient.
    let mut close = vec![0, 10, 0, 50, 1, 64, 17];
    close.extend(b"CONNECTION_FORCED");
    close.extend([0, 0, 0, 0]);
    let forced = fake(start("PLAIN"), frame(&close));
    // Protocol header back: another AMQP version.
    let header = fake(b"AMQP\x01\x01\x00\x0a".to_vec(), vec![]);
    for (f, needle) in [
        (&closes, "closed by the server before Connection.Tune"),
        (&forced, "320: CONNECTION_FORCED"),
        (&header, "does not speak AMQP 0-9-1"),
    ] {
        let r = wr(&["-t", "1s", &format!("amqp://u:{APP_PW}@{}", f.addr())]);
        assert_exited(&r, 1);
        assert!(r.stderr.contains(needle), "{needle}: {r:?}");
        assert_no_secret(&r, APP_PW);
    }
    // No PLAIN login on offer: permanent.
    let no_plain = fake(start("EXTERNAL"), vec![]);
    let r = wr(&[
        "-t",
        "5s",
        &format!("amqp://u:{APP_PW}@{}", no_plain.addr()),
    ]);
    assert_exited(&r, 3);
    assert!(r.stderr.contains("PLAIN"), "{r:?}");
}

#[test]
fn silent_garbage_and_closing_peers_are_transient() {
    let silent_peer = Fake::start(silent);
    let garbage = fake(b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec(), vec![]);
    let huge = fake(vec![1, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF], vec![]);
    let no_end = fake(
        {
            let mut f = start("PLAIN");
            f.pop();
            f.push(0);
            f
        },
        vec![],
    );
    let truncated = fake(frame(&[0, 10, 0, 10, 0]), vec![]);
    let closing = Fake::start(|mut s, _| {
        let _ = s.read(&mut [0u8; 64]);
    });
    for (f, needle) in [
        (&silent_peer, "no answer within 200ms"),
        (&garbage, "not an AMQP"),
        (&huge, "not an AMQP"),
        (&no_end, "end marker"),
        (&truncated, "truncated"),
        (&closing, "closed by the server before Connection.Start"),
    ] {
        let r = wr(&[
            "-t",
            "1s",
            "--attempt-timeout",
            "200ms",
            &format!("amqp://{}", f.addr()),
        ]);
        assert_exited(&r, 1);
        assert!(r.stderr.contains(needle), "{needle}: {r:?}");
    }
}
