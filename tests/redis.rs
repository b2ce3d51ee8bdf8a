//! Redis targets against a real redis-server of our own, plus fakes for what a real
//! server will not do on demand (LOADING, garbage).

mod common;
use common::*;
use std::io::{Read, Write};
use std::thread;
use std::time::{Duration, Instant};

const PW: &str = "redis-Canary-3c9d";

#[test]
fn without_password_is_ready() {
    let r6 = Redis::started(&[]);
    let r = wr(&[
        &format!("redis://127.0.0.1:{}", r6.port),
        "--",
        "echo",
        "ran",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "ran\n");
}

#[test]
fn with_requirepass() {
    let srv = Redis::started(&["--requirepass", PW]);
    let r = wr(&[&format!("redis://:{PW}@127.0.0.1:{}/0", srv.port)]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_no_secret(&r, PW);
    assert!(r.stderr.contains("redis://:***@127.0.0.1"), "{r:?}");
    // Wrong password: permanent, at once.
    let wrong = "Wrong-redis-Canary";
    let r = wr(&[
        "-t",
        "30s",
        &format!("redis://:{wrong}@127.0.0.1:{}", srv.port),
    ]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("WRONGPASS"), "{r:?}");
    assert!(r.elapsed < Duration::from_secs(10), "{r:?}");
    assert_no_secret(&r, wrong);
    // No password: NOAUTH, permanent.
    let r = wr(&["-t", "30s", &format!("redis://127.0.0.1:{}", srv.port)]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("NOAUTH"), "{r:?}");
}

#[test]
fn rediscli_auth_supplies_the_password() {
    let srv = Redis::started(&["--requirepass", PW]);
    let r = run(
        whenready()
            .args(["-t", "10s", &format!("redis://127.0.0.1:{}", srv.port)])
            .env("REDISCLI_AUTH", PW),
        Duration::from_secs(20),
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_no_secret(&r, PW);
}

#[test]
fn acl_users() {
    let srv = Redis::started(&[
        "--user",
        "alice",
        "on",
        ">alice-Canary-pw",
        "~*",
        "+@all",
        "--user",
        "bob",
        "on",
        ">bob-pw",
        "~*",
        "-@all",
    ]);
    let r = wr(&[&format!(
        "redis://alice:alice-Canary-pw@127.0.0.1:{}",
        srv.port
    )]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_no_secret(&r, "alice-Canary-pw");
    let r = wr(&[
        "-t",
        "30s",
        &format!("redis://alice:nope-Canary@127.0.0.1:{}", srv.port),
    ]);
    assert_eq!(r.code, 3, "{r:?}");
    assert_no_secret(&r, "nope-Canary");
    // bob may log in but not run PING.
    let r = wr(&[
        "-t",
        "30s",
        &format!("redis://bob:bob-pw@127.0.0.1:{}", srv.port),
    ]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("NOPERM"), "{r:?}");
}

#[test]
fn select_database() {
    let srv = Redis::started(&[]);
    let r = wr(&[&format!("redis://127.0.0.1:{}/3", srv.port)]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = wr(&["-t", "30s", &format!("redis://127.0.0.1:{}/99", srv.port)]);
    assert_eq!(r.code, 3, "a database that does not exist: {r:?}");
    assert!(r.stderr.contains("out of range"), "{r:?}");
}

#[test]
fn started_late_is_waited_for() {
    let mut srv = Redis::new(&[]);
    let url = format!("redis://127.0.0.1:{}", srv.port);
    let child = whenready()
        .args(["-t", "20s", &url, "--", "echo", "ran"])
        .spawn_piped();
    let start = Instant::now();
    thread::sleep(Duration::from_millis(1000));
    srv.start();
    let r = finish(child, start, Duration::from_secs(30));
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "ran\n");
    assert!(r.stderr.contains("connection refused"), "{r:?}");
}

#[test]
fn never_started_exits_1() {
    let srv = Redis::new(&[]);
    let r = wr(&["-t", "500ms", &format!("redis://127.0.0.1:{}", srv.port)]);
    assert_eq!(r.code, 1, "{r:?}");
}

/// A fake that answers every PING with -LOADING during the first `loading` and
/// with +PONG after.
fn loading_then_pong(loading: Duration) -> Fake {
    let start = Instant::now();
    Fake::start(move |mut s, _| {
        let mut buf = [0u8; 256];
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            let reply: &[u8] = if start.elapsed() < loading {
                b"-LOADING Redis is loading the dataset in memory\r\n"
            } else {
                b"+PONG\r\n"
            };
            if s.write_all(reply).is_err() {
                break;
            }
        }
    })
}

#[test]
fn loading_is_transient_then_ready() {
    let fake = loading_then_pong(Duration::from_secs(1));
    let r = wr(&[
        "-t",
        "10s",
        &format!("redis://{}", fake.addr()),
        "--",
        "echo",
        "ran",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "ran\n");
    assert!(
        r.stderr
            .contains("not ready: LOADING Redis is loading the dataset in memory"),
        "{r:?}"
    );
    assert!(r.elapsed >= Duration::from_secs(1));
}

#[test]
fn garbage_is_transient() {
    let fake = Fake::start(|mut s, _| {
        let mut buf = [0u8; 64];
        let _ = s.read(&mut buf);
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
    });
    let r = wr(&["-t", "500ms", &format!("redis://{}", fake.addr())]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("not a Redis reply"), "{r:?}");
}

#[test]
fn silent_peer_is_cut_by_the_attempt_timeout() {
    let fake = Fake::start(silent);
    let r = wr(&[
        "-t",
        "1s",
        "--attempt-timeout",
        "200ms",
        &format!("redis://{}", fake.addr()),
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("no answer within 200ms"), "{r:?}");
    assert!(
        fake.accepted.load(std::sync::atomic::Ordering::SeqCst) >= 2,
        "it retried"
    );
}

#[test]
fn rediss_verifies_the_certificate() {
    let certs = certs(&["localhost", "127.0.0.1"]);
    let mut srv = Redis::tls(&certs, &["--requirepass", PW]);
    srv.start();
    let url = format!("rediss://:{PW}@localhost:{}", srv.port);
    let ca = certs.ca.to_str().unwrap();
    let r = wr(&["-t", "10s", "--cacert", ca, &url, "--", "echo", "ran"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "ran\n");
    assert_no_secret(&r, PW);
    // The test CA is unknown to the system: permanent.
    let r = wr(&["-t", "30s", &url]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.contains("certificate verification failed"),
        "{r:?}"
    );
    assert_no_secret(&r, PW);
    // --insecure skips verification and says so.
    let r = wr(&["-t", "10s", "--insecure", &url]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("--insecure"), "{r:?}");
    // Plain redis:// against a TLS port is not ready (transient), never a hang.
    let r = wr(&[
        "-t",
        "800ms",
        "--attempt-timeout",
        "300ms",
        &format!("redis://:{PW}@127.0.0.1:{}", srv.port),
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_no_secret(&r, PW);
}

#[test]
fn rediss_against_a_plaintext_server_is_not_ready() {
    let srv = Redis::started(&[]);
    let r = wr(&["-t", "800ms", &format!("rediss://127.0.0.1:{}", srv.port)]);
    assert_eq!(r.code, 1, "{r:?}");
}

#[test]
fn rediss_with_a_client_certificate() {
    let certs = certs(&["localhost", "127.0.0.1"]);
    let mut srv = Redis::tls(&certs, &["--requirepass", PW, "--tls-auth-clients", "yes"]);
    srv.start();
    let url = format!("rediss://:{PW}@localhost:{}", srv.port);
    let ca = certs.ca.to_str().unwrap();
    let (cert, key) = (
        certs.client_cert.to_str().unwrap(),
        certs.client_key.to_str().unwrap(),
    );
    // No certificate: the server refuses it, which waiting cannot change.
    let r = wr(&["-t", "20s", "--cacert", ca, &url]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("client certificate"), "{r:?}");
    assert_no_secret(&r, PW);
    let r = wr(&[
        "-t", "20s", "--cacert", ca, "--cert", cert, "--key", key, &url,
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = wr(&[
        "-t",
        "20s",
        "--cacert",
        ca,
        &format!("{url}?cert={cert}&key={key}"),
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_no_secret(&r, PW);
    // cert= without TLS, or without its key: usage errors.
    let r = wr(&[&format!(
        "redis://:{PW}@localhost:{}?cert={cert}&key={key}",
        srv.port
    )]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("needs rediss://"), "{r:?}");
    assert_no_secret(&r, PW);
    let r = wr(&[&format!("{url}?cert={cert}")]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("go together"), "{r:?}");
}
