//! mysql:// and mariadb:// targets against real MariaDB servers of our own (made with
//! mariadb-install-db in a temporary directory, on free ports of 127.0.0.1): ready,
//! started late, never started, access denied, unknown database, too many connections,
//! mysql_native_password and client_ed25519 accounts, MYSQL_PWD, --once, TLS modes;
//! and fake peers that never answer, send garbage or close at once.

mod common;
use common::mariadb::{Mariadb, MY_PASSWORD};
use common::*;
use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn running_server_is_ready_and_the_command_runs() {
    let db = Mariadb::started();
    let url = db.url("app", MY_PASSWORD, "app", "");
    let r = wr(&["-t", "20s", &url, "--", "echo", "ran"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "ran\n");
    assert!(r.stderr.contains("mysql://app:***@127.0.0.1"), "{r:?}");
    assert_no_secret(&r, MY_PASSWORD);
    // MariaDB's client_ed25519 (the server switches to it).
    let r = wr(&["-t", "20s", &db.url("ed", MY_PASSWORD, "app", "")]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_no_secret(&r, MY_PASSWORD);
    // No database, and the mariadb:// spelling.
    let r = wr(&[&format!(
        "mariadb://app:{MY_PASSWORD}@127.0.0.1:{}",
        db.port
    )]);
    assert_eq!(r.code, 0, "{r:?}");
    // --once: 0 when ready.
    let r = wr(&["--once", &url]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_no_secret(&r, MY_PASSWORD);
    // MYSQL_PWD when the URL has no password.
    let r = run(
        whenready().env("MYSQL_PWD", MY_PASSWORD).args([
            "-t",
            "20s",
            &format!("mysql://app@127.0.0.1:{}/app", db.port),
        ]),
        Duration::from_secs(30),
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_no_secret(&r, MY_PASSWORD);
}

#[test]
fn permanent_failures_exit_3_at_once_with_the_servers_reason() {
    let db = Mariadb::started();
    let wrong = "Wrong-Canary-4a7c";
    let cases = [
        (
            db.url("app", wrong, "app", ""),
            "Access denied for user 'app'@'localhost' (using password: YES) (1045)",
        ),
        (
            db.url("app", MY_PASSWORD, "other", ""),
            "Access denied for user 'app'@'%' to database 'other' (1044)",
        ),
        (
            db.url("admin", MY_PASSWORD, "nope", ""),
            "Unknown database 'nope' (1049)",
        ),
        // The server switches to MariaDB's ed25519 method.
        (
            db.url("ed", wrong, "app", ""),
            "Access denied for user 'ed'@'localhost' (using password: YES) (1045)",
        ),
    ];
    for (url, reason) in cases {
        let r = wr(&["-t", "30s", &url, "--", "echo", "ran"]);
        assert_eq!(r.code, 3, "{url}: {r:?}");
        assert!(r.elapsed < Duration::from_secs(10), "at once: {r:?}");
        assert!(r.stderr.contains(reason), "{reason}: {r:?}");
        assert!(r.stdout.is_empty());
        assert_no_secret(&r, wrong);
        assert_no_secret(&r, MY_PASSWORD);
        // --once: any not-ready outcome is 1.
        let r = wr(&["--once", &url]);
        assert_eq!(r.code, 1, "{r:?}");
        assert_no_secret(&r, wrong);
        assert_no_secret(&r, MY_PASSWORD);
    }
    // The password from MYSQL_PWD is not shown either.
    let r = run(
        whenready().env("MYSQL_PWD", wrong).args([
            "-t",
            "20s",
            &format!("mysql://app@127.0.0.1:{}/app", db.port),
        ]),
        Duration::from_secs(30),
    );
    assert_eq!(r.code, 3, "{r:?}");
    assert_no_secret(&r, wrong);
    // --retry-all keeps waiting instead.
    let r = wr(&[
        "-t",
        "500ms",
        "--retry-all",
        &db.url("app", wrong, "app", ""),
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    // This server offers no TLS: REQUIRED is not ready (transient), up to the deadline.
    let r = wr(&[
        "-t",
        "1s",
        &db.url("app", MY_PASSWORD, "app", "?ssl-mode=REQUIRED"),
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("does not support TLS"), "{r:?}");
}

#[test]
fn server_started_late_is_waited_for_and_the_command_runs() {
    let mut db = Mariadb::new();
    let url = db.url("app", MY_PASSWORD, "app", "");
    let child = whenready()
        .args(["-t", "60s", &url, "--", "echo", "ran"])
        .spawn_piped();
    let start = Instant::now();
    thread::sleep(Duration::from_millis(1500));
    db.start();
    let r = finish(child, start, Duration::from_secs(70));
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "ran\n");
    assert!(r.stderr.contains("connection refused"), "{r:?}");
    assert_no_secret(&r, MY_PASSWORD);
}

#[test]
fn too_many_connections_is_transient() {
    // MariaDB allows at least 10 connections (plus one for an administrator): ten
    // clients of an ordinary account hold them for a few seconds.
    let mut db = Mariadb::with_args(&["--max-connections=10"]);
    db.start();
    let holders: Vec<_> = (0..10)
        .map(|_| {
            std::process::Command::new("mariadb")
                .args(["--no-defaults", "-h127.0.0.1", "-uapp"])
                .arg(format!("-P{}", db.port))
                .arg(format!("-p{MY_PASSWORD}"))
                .args(["app", "-e", "SELECT SLEEP(4)"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("run the mariadb client")
        })
        .collect();
    let url = db.url("app", MY_PASSWORD, "app", "");
    // Wait until the holders are in.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = wr(&["--once", &url]);
        if r.stderr.contains("Too many connections (1040)") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the holder never connected: {r:?}"
        );
        thread::sleep(Duration::from_millis(50));
    }
    // Not permanent: whenready keeps waiting and is ready once the holder leaves.
    let r = wr(&["-t", "30s", &url, "--", "echo", "ran"]);
    for mut h in holders {
        let _ = h.wait();
    }
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "ran\n");
    assert!(r.stderr.contains("Too many connections (1040)"), "{r:?}");
    assert_no_secret(&r, MY_PASSWORD);
}

#[test]
fn server_never_started_exits_1_at_the_deadline() {
    let port = free_port();
    let url = format!("mysql://app:{MY_PASSWORD}@127.0.0.1:{port}/app");
    let r = wr(&["-t", "1s", &url, "--", "echo", "ran"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.is_empty());
    assert!(r.stderr.contains("connection refused"), "{r:?}");
    assert_no_secret(&r, MY_PASSWORD);
}

#[test]
fn tls_modes() {
    require("mariadbd", "mariadb-server");
    // The certificate names localhost only: connecting to 127.0.0.1 passes VERIFY_CA
    // (chain) and fails VERIFY_IDENTITY (name).
    let certs = certs(&["localhost"]);
    let mut db = Mariadb::tls(&certs);
    db.start();
    let ca = certs.ca.display().to_string();
    let on = |host: &str, user: &str, query: &str| {
        format!("mysql://{user}:{MY_PASSWORD}@{host}:{}/app{query}", db.port)
    };
    // The tlsonly account is refused without TLS, so its success proves TLS was used.
    for url in [
        on("127.0.0.1", "tlsonly", ""),
        on("127.0.0.1", "tlsonly", "?ssl-mode=preferred"),
        on("127.0.0.1", "tlsonly", "?ssl-mode=REQUIRED"),
        on(
            "127.0.0.1",
            "tlsonly",
            &format!("?ssl-mode=VERIFY_CA&ssl-ca={ca}"),
        ),
        on(
            "localhost",
            "tlsonly",
            &format!("?ssl-mode=VERIFY_IDENTITY&ssl-ca={ca}"),
        ),
        on(
            "localhost",
            "app",
            &format!("?ssl_mode=verify_identity&ssl_ca={ca}"),
        ),
    ] {
        let r = wr(&["-t", "20s", &url]);
        assert_eq!(r.code, 0, "{url}: {r:?}");
        assert_no_secret(&r, MY_PASSWORD);
    }
    // Without TLS the tlsonly account is refused by the server: permanent.
    let r = wr(&[
        "-t",
        "20s",
        &on("127.0.0.1", "tlsonly", "?ssl-mode=DISABLED"),
    ]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("(1045)"), "{r:?}");
    // The name does not match: VERIFY_IDENTITY fails, permanently.
    let r = wr(&[
        "-t",
        "20s",
        &on(
            "127.0.0.1",
            "app",
            &format!("?ssl-mode=VERIFY_IDENTITY&ssl-ca={ca}"),
        ),
    ]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.contains("certificate verification failed"),
        "{r:?}"
    );
    // A CA that did not sign the server's certificate: permanent.
    let other = common::certs(&["localhost"]);
    let r = wr(&[
        "-t",
        "20s",
        &on(
            "localhost",
            "app",
            &format!("?ssl-mode=VERIFY_CA&ssl-ca={}", other.ca.display()),
        ),
    ]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.contains("certificate verification failed"),
        "{r:?}"
    );
    assert_no_secret(&r, MY_PASSWORD);
    // REQUIRED with ssl-ca verifies the chain too.
    let r = wr(&[
        "-t",
        "20s",
        &on(
            "127.0.0.1",
            "app",
            &format!("?ssl-mode=REQUIRED&ssl-ca={}", other.ca.display()),
        ),
    ]);
    assert_eq!(r.code, 3, "{r:?}");
}

#[test]
fn missing_ssl_ca_file_is_a_usage_error() {
    let r = wr(&["mysql://app@127.0.0.1:1/app?ssl-ca=/nonexistent/ca.pem"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("/nonexistent/ca.pem"), "{r:?}");
    let r = wr(&["mysql://app@127.0.0.1:1/app?bogus=1"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("unknown parameter \"bogus\""), "{r:?}");
}

/// Fake peers: whatever they do, it is transient and ends at the deadline.
#[test]
fn fake_peers_are_transient() {
    let silent = Fake::start(silent);
    let garbage = Fake::start(|mut s, _| {
        let _ = s.write_all(b"SSH-2.0-OpenSSH_9.2\r\n\xff\xff\xff\x00garbage");
        thread::sleep(Duration::from_millis(200));
    });
    let closes = Fake::start(|s, _| drop(s));
    // A greeting, then the connection closes before the login is answered.
    let half = Fake::start(|mut s, _| {
        let mut g = vec![10u8];
        g.extend_from_slice(b"10.11.0-fake\0");
        g.extend_from_slice(&[1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0xff, 0xf7]);
        let mut p = (g.len() as u32).to_le_bytes()[..3].to_vec();
        p.push(0);
        p.extend_from_slice(&g);
        let _ = s.write_all(&p);
        thread::sleep(Duration::from_millis(50));
    });
    for (fake, reason) in [
        (&silent, &["timed out"][..]),
        (&garbage, &["not a MySQL server?"]),
        (&closes, &["closed", "reset"]),
        // Closing with our login unread makes the kernel send a reset.
        (&half, &["closed", "reset"]),
    ] {
        let url = format!("mysql://app:{MY_PASSWORD}@{}/app", fake.addr());
        let r = wr(&["-t", "1500ms", "--attempt-timeout", "500ms", &url]);
        assert_eq!(r.code, 1, "{reason:?}: {r:?}");
        assert!(
            reason.iter().any(|x| r.stderr.contains(x)),
            "{reason:?}: {r:?}"
        );
        assert_no_secret(&r, MY_PASSWORD);
    }
}
