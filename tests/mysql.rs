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
    // MariaDB allows 10 connections here (plus one for an administrator): ten clients
    // of an ordinary account hold them until the administrator kills them.
    let mut db = Mariadb::with_args(&["--max-connections=10"]);
    db.start();
    // Each holder retries until it is in (the administrator's checks below may take
    // a slot for a moment), in a process group of its own so it can be stopped.
    let holder = format!(
        "until mariadb --no-defaults -h127.0.0.1 -uapp -P{} -p{MY_PASSWORD} app \
         -e 'SELECT SLEEP(60)' >/dev/null 2>&1; do sleep 0.05; done",
        db.port
    );
    let mut holders: Vec<_> = (0..10)
        .map(|_| {
            use std::os::unix::process::CommandExt;
            std::process::Command::new("sh")
                .args(["-c", &holder])
                .process_group(0)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("run the mariadb client")
        })
        .collect();
    let url = db.url("app", MY_PASSWORD, "app", "");
    // Wait until all ten holders are in, asking as the administrator (its own slot),
    // so that no probe of ours takes a holder's place meanwhile.
    let as_root = |sql: &str| {
        let out = std::process::Command::new("mariadb")
            .args(["--no-defaults", "-uroot", "-N", "-B"])
            .arg(format!("-S{}", db.socket().display()))
            .args(["-e", sql])
            .output()
            .expect("run the mariadb client");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // Count the holders running their SLEEP, not every `app` connection: a holder
        // retry that the server is turning away ("Too many connections") shows in the
        // list as `app` for a moment too, and would let a probe of ours in.
        let n = as_root(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
             WHERE USER = 'app' AND COMMAND = 'Query' AND INFO LIKE 'SELECT SLEEP%'",
        );
        if n == "10" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the holders never filled the server: {n} connected"
        );
        thread::sleep(Duration::from_millis(50));
    }
    let r = wr(&["--once", &url]);
    assert_exited(&r, 1);
    assert!(r.stderr.contains("Too many connections (1040)"), "{r:?}");
    // Not permanent: whenready keeps waiting, and is ready once the holders are gone.
    let start = Instant::now();
    let mut child = Watched::spawn(whenready().args(["-t", "30s", &url, "--", "echo", "ran"]));
    child.wait_for_line("Too many connections (1040)", Duration::from_secs(20));
    // The holders stop retrying, then their connections are killed.
    for h in &mut holders {
        let group = rustix::process::Pid::from_raw(h.id() as i32).expect("a child's PID");
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        let _ = h.wait();
    }
    as_root("KILL USER app");
    let r = child.finish(start, Duration::from_secs(40));
    assert_exited(&r, 0);
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
        // The other spellings: ssl_mode, ssl_ca, a value in lower case.
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
    // The same with the other spellings: a verify_identity that were ignored (the
    // default PREFERRED) would let this in, and an ssl_ca that were ignored would be
    // a usage error.
    let r = wr(&[
        "-t",
        "20s",
        &on(
            "127.0.0.1",
            "app",
            &format!("?ssl_mode=verify_identity&ssl_ca={ca}"),
        ),
    ]);
    assert_exited(&r, 3);
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
