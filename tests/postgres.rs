//! PostgreSQL targets against a real PostgreSQL 15 of our own (initdb + pg_ctl, as
//! an unprivileged user, scram-sha-256 over TCP): ready, started late, never
//! started, wrong password, missing database, TLS modes, libpq variables.

mod common;
use common::*;
use std::thread;
use std::time::Duration;

#[test]
fn running_server_is_ready() {
    let pg = Pg::started();
    let r = wr(&[&pg.url(PG_PASSWORD, ""), "--", "echo", "ran"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "ran\n");
    assert_no_secret(&r, PG_PASSWORD);
    assert!(r.stderr.contains("postgres://app:***@127.0.0.1"), "{r:?}");
}

#[test]
fn server_started_late_is_waited_for_and_the_command_runs() {
    let mut pg = Pg::new();
    let url = pg.url(PG_PASSWORD, "");
    let child = whenready()
        .args(["-t", "30s", &url, "--", "echo", "ran"])
        .spawn_piped();
    let start = std::time::Instant::now();
    thread::sleep(Duration::from_millis(1500));
    pg.start();
    let r = finish(child, start, Duration::from_secs(40));
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "ran\n");
    assert!(r.stderr.contains("connection refused"), "{r:?}");
    assert_no_secret(&r, PG_PASSWORD);
}

#[test]
fn server_never_started_exits_1_at_the_deadline() {
    let pg = Pg::new();
    let r = wr(&["-t", "1s", &pg.url(PG_PASSWORD, ""), "--", "echo", "ran"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.is_empty());
    assert!(r.stderr.contains("connection refused"), "{r:?}");
    assert_no_secret(&r, PG_PASSWORD);
}

#[test]
fn no_password_for_a_server_that_asks_for_one_is_permanent() {
    // tokio-postgres reports this client-side, without a SQLSTATE: the one failure
    // classified by that library's own message, pinned here.
    let pg = Pg::started();
    let url = format!("postgres://app@127.0.0.1:{}/postgres", pg.port);
    let r = wr(&["-t", "30s", &url, "--", "echo", "ran"]);
    assert_exited(&r, 3);
    assert!(
        r.stderr.contains("asks for a password and none was given"),
        "{r:?}"
    );
    assert!(r.stdout.is_empty(), "{r:?}");
}

#[test]
fn wrong_password_is_permanent_and_exits_3_at_once() {
    let pg = Pg::started();
    let wrong = "Wrong-Canary-91b2";
    let r = wr(&["-t", "30s", &pg.url(wrong, ""), "--", "echo", "ran"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.elapsed < Duration::from_secs(10),
        "long before the deadline: {r:?}"
    );
    assert!(
        r.stderr
            .contains("password authentication failed for user \"app\""),
        "{r:?}"
    );
    assert!(r.stdout.is_empty());
    assert_no_secret(&r, wrong);
    // --retry-all keeps waiting instead.
    let r = wr(&["-t", "500ms", "--retry-all", &pg.url(wrong, "")]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_no_secret(&r, wrong);
    // --once: any not-ready outcome is 1 (healthchecks know only 0 and 1).
    let r = wr(&["--once", &pg.url(wrong, "")]);
    assert_eq!(r.code, 1, "{r:?}");
}

#[test]
fn missing_password_is_permanent() {
    let pg = Pg::started();
    let r = wr(&[
        "-t",
        "30s",
        &format!("postgres://app@127.0.0.1:{}/postgres", pg.port),
    ]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("password"), "{r:?}");
}

#[test]
fn missing_database_exits_3() {
    let pg = Pg::started();
    let url = format!(
        "postgres://app:{PG_PASSWORD}@127.0.0.1:{}/nosuchdb",
        pg.port
    );
    let r = wr(&["-t", "30s", &url]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.contains("database \"nosuchdb\" does not exist"),
        "{r:?}"
    );
    assert_no_secret(&r, PG_PASSWORD);
}

#[test]
fn libpq_variables_fill_in_the_url() {
    let pg = Pg::started();
    let r = run(
        whenready()
            .args(["-t", "10s", "postgresql://"])
            .env("PGHOST", "127.0.0.1")
            .env("PGPORT", pg.port.to_string())
            .env("PGUSER", "app")
            .env("PGPASSWORD", PG_PASSWORD)
            .env("PGDATABASE", "postgres")
            .env("PGSSLMODE", "disable"),
        Duration::from_secs(20),
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_no_secret(&r, PG_PASSWORD);
    // A wrong PGPASSWORD never shows either.
    let r = run(
        whenready()
            .args([
                "-t",
                "10s",
                &format!("postgres://app@127.0.0.1:{}/postgres", pg.port),
            ])
            .env("PGPASSWORD", "Env-Canary-55"),
        Duration::from_secs(20),
    );
    assert_eq!(r.code, 3, "{r:?}");
    assert_no_secret(&r, "Env-Canary-55");
}

#[test]
fn password_query_parameter_is_masked() {
    let pg = Pg::started();
    let url = format!(
        "postgres://app@127.0.0.1:{}/postgres?password={PG_PASSWORD}&sslmode=disable",
        pg.port
    );
    let r = wr(&["-t", "10s", &url]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_no_secret(&r, PG_PASSWORD);
    assert!(r.stderr.contains("password=***"), "{r:?}");
}

#[test]
fn unix_socket_host() {
    let pg = Pg::started();
    let dir = pg.socket_dir();
    let encoded = dir.to_str().unwrap().replace('/', "%2F");
    let url = format!("postgresql://app@{encoded}:{}/postgres", pg.port);
    let r = wr(&["-t", "10s", &url]);
    assert_eq!(r.code, 0, "{r:?}");
    let url = format!(
        "postgresql:///postgres?host={}&port={}&user=app",
        dir.display(),
        pg.port
    );
    let r = wr(&["-t", "10s", &url]);
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn a_port_that_is_open_but_not_postgres_is_not_ready() {
    // The classic wait-for-it trap: a port is open before the database works.
    let fake = Fake::start(silent);
    let r = wr(&[
        "-t",
        "1s",
        "--attempt-timeout",
        "300ms",
        &format!("postgres://app:x@{}/db", fake.addr()),
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("no answer within"), "{r:?}");
}

#[test]
fn starting_up_is_transient() {
    // A server that answers the startup packet with 57P03, then works: the fake speaks
    // just enough of the protocol for an ErrorResponse.
    let fake = Fake::start(|mut s, _| {
        use std::io::{Read, Write};
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf);
        if buf[4..8] == [0x04, 0xd2, 0x16, 0x2f] {
            // SSLRequest: refuse TLS, then read the startup packet.
            let _ = s.write_all(b"N");
            let _ = s.read(&mut buf);
        }
        let fields = b"SFATAL\0VFATAL\0C57P03\0Mthe database system is starting up\0\0";
        let mut msg = vec![b'E'];
        msg.extend_from_slice(&((fields.len() + 4) as u32).to_be_bytes());
        msg.extend_from_slice(fields);
        let _ = s.write_all(&msg);
    });
    let r = wr(&[
        "-t",
        "800ms",
        &format!("postgres://app:x@{}/db", fake.addr()),
    ]);
    assert_eq!(r.code, 1, "transient, so the deadline ends it: {r:?}");
    assert!(
        r.stderr
            .contains("the database system is starting up (57P03)"),
        "{r:?}"
    );
    assert!(
        fake.accepted.load(std::sync::atomic::Ordering::SeqCst) > 1,
        "it kept trying"
    );
}

#[test]
fn tls_modes() {
    let certs = certs(&["localhost", "127.0.0.1"]);
    // The key must belong to the server's user and be private.
    let key = certs.dir.join("pg.key");
    std::fs::copy(&certs.key, &key).unwrap();
    let cert = certs.cert.clone();
    // Also on 127.0.0.2, an address the certificate does not name.
    let mut pg = Pg::with_options(&[
        "listen_addresses=127.0.0.1,127.0.0.2",
        "ssl=on",
        &format!("ssl_cert_file={}", cert.display()),
        &format!("ssl_key_file={}", key.display()),
    ]);
    std::process::Command::new("chown")
        .args(["65534:65534"])
        .arg(&key)
        .status()
        .unwrap();
    std::process::Command::new("chmod")
        .args(["0600"])
        .arg(&key)
        .status()
        .unwrap();
    std::process::Command::new("chmod")
        .args(["0755"])
        .arg(&certs.dir.0)
        .status()
        .unwrap();
    pg.start();
    let ca = certs.ca.display().to_string();
    let ok = |q: &str| {
        let r = wr(&["-t", "10s", &pg.url(PG_PASSWORD, q)]);
        assert_eq!(r.code, 0, "{q}: {r:?}");
    };
    ok("");
    ok("?sslmode=prefer");
    ok("?sslmode=require");
    ok(&format!("?sslmode=verify-ca&sslrootcert={ca}"));
    ok(&format!("?sslmode=verify-full&sslrootcert={ca}"));
    // The verifying modes without sslrootcert: libpq's ~/.postgresql/root.crt, and
    // without it a usage error before any attempt (never the system's roots with
    // the name unchecked).
    let home = TempDir::new("home");
    let with_home = |q: &str, json: bool| {
        let mut cmd = whenready();
        cmd.env("HOME", &home.0);
        if json {
            cmd.arg("--json");
        }
        run(
            cmd.args(["-t", "10s", &pg.url(PG_PASSWORD, q)]),
            Duration::from_secs(20),
        )
    };
    let root = home.join(".postgresql/root.crt");
    for mode in ["verify-ca", "verify-full"] {
        for json in [false, true] {
            let r = with_home(&format!("?sslmode={mode}"), json);
            assert_exited(&r, 2);
            assert!(
                r.stderr.contains(&format!(
                    "root certificate file \"{}\" does not exist",
                    root.display()
                )) && r.stderr.contains("sslrootcert=system")
                    && r.stderr.contains("postgres://app:***@127.0.0.1"),
                "{r:?}"
            );
            assert_eq!(r.stderr.lines().count(), 1, "one line: {r:?}");
            assert_no_secret(&r, PG_PASSWORD);
        }
        // No HOME at all: the same refusal.
        let r = wr(&[
            "-t",
            "10s",
            &pg.url(PG_PASSWORD, &format!("?sslmode={mode}")),
        ]);
        assert_exited(&r, 2);
        assert!(r.stderr.contains("~/.postgresql/root.crt"), "{r:?}");
    }
    std::fs::create_dir_all(home.join(".postgresql")).unwrap();
    std::fs::copy(&certs.ca, &root).unwrap();
    for mode in ["verify-ca", "verify-full"] {
        let r = with_home(&format!("?sslmode={mode}"), false);
        assert_exited(&r, 0);
    }
    // sslrootcert=system: the system's roots, the name checked (verify-full, which
    // it implies). They do not hold the test CA: permanent; with SSL_CERT_FILE
    // naming it, they do. A weaker mode is a usage error, as in libpq.
    let system = pg.url(PG_PASSWORD, "?sslrootcert=system");
    let r = wr(&["-t", "30s", &system]);
    assert_exited(&r, 3);
    assert!(
        r.stderr.contains("certificate verification failed"),
        "{r:?}"
    );
    assert_no_secret(&r, PG_PASSWORD);
    let r = run(
        whenready().env("SSL_CERT_FILE", &certs.ca).args([
            "-t",
            "10s",
            &system.replace("127.0.0.1", "localhost"),
        ]),
        Duration::from_secs(20),
    );
    assert_exited(&r, 0);
    let r = wr(&[&pg.url(PG_PASSWORD, "?sslmode=verify-ca&sslrootcert=system")]);
    assert_exited(&r, 2);
    assert!(
        r.stderr.contains(
            "weak sslmode \"verify-ca\" may not be used with sslrootcert=system (use \"verify-full\")"
        ),
        "{r:?}"
    );
    // verify-full checks the name: localhost is in the certificate, 127.0.0.2 is
    // not. verify-ca checks the chain only, so 127.0.0.2 passes it.
    let at = |host: &str, mode: &str| {
        format!(
            "postgres://app:{PG_PASSWORD}@{host}:{}/postgres?sslmode={mode}&sslrootcert={ca}",
            pg.port
        )
    };
    let r = wr(&["-t", "10s", &at("localhost", "verify-full")]);
    assert_eq!(r.code, 0, "localhost is in the certificate: {r:?}");
    let r = wr(&["-t", "10s", &at("127.0.0.2", "verify-ca")]);
    assert_eq!(r.code, 0, "verify-ca does not check the name: {r:?}");
    let r = wr(&["-t", "30s", &at("127.0.0.2", "verify-full")]);
    assert_eq!(r.code, 3, "127.0.0.2 is not in the certificate: {r:?}");
    assert!(
        r.stderr.contains("certificate verification failed") && r.stderr.contains("127.0.0.2"),
        "{r:?}"
    );
    assert_no_secret(&r, PG_PASSWORD);
    // A missing sslrootcert file is a usage error naming it.
    let r = wr(&[&pg.url(
        PG_PASSWORD,
        "?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
    )]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("/nonexistent/ca.pem"), "{r:?}");
    assert_no_secret(&r, PG_PASSWORD);
}

#[test]
fn tls_required_but_server_without_tls_is_not_ready() {
    let pg = Pg::started();
    let r = wr(&["-t", "600ms", &pg.url(PG_PASSWORD, "?sslmode=require")]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("does not support TLS"), "{r:?}");
}

#[test]
fn restart_during_the_wait_is_survived() {
    let mut pg = Pg::started();
    pg.stop();
    let url = pg.url(PG_PASSWORD, "");
    let start = std::time::Instant::now();
    let mut child = Watched::spawn(whenready().args(["-t", "30s", &url]));
    child.wait_for_line("not ready", Duration::from_secs(20));
    pg.start();
    let r = child.finish(start, Duration::from_secs(40));
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn client_certificate_login() {
    let certs = certs(&["localhost", "127.0.0.1"]);
    let key = certs.dir.join("pg.key");
    std::fs::copy(&certs.key, &key).unwrap();
    let mut pg = Pg::with_options(&[
        "ssl=on",
        &format!("ssl_cert_file={}", certs.cert.display()),
        &format!("ssl_key_file={}", key.display()),
        &format!("ssl_ca_file={}", certs.ca.display()),
    ]);
    for (args, path) in [
        (&["65534:65534"][..], &key),
        (&["0600"][..], &key),
        (&["0755"][..], &certs.dir.0),
    ] {
        let tool = if args[0].contains(':') {
            "chown"
        } else {
            "chmod"
        };
        let ok = std::process::Command::new(tool)
            .args(args)
            .arg(path)
            .status()
            .unwrap();
        assert!(ok.success());
    }
    // TCP logins need a client certificate whose CN is the user (clientcert=verify-full).
    std::fs::write(
        pg.data().join("pg_hba.conf"),
        "local all all trust\nhostssl all all 127.0.0.1/32 cert\n",
    )
    .unwrap();
    pg.start();
    let ca = certs.ca.display().to_string();
    let (cert, ckey) = (
        certs.client_cert.to_str().unwrap(),
        certs.client_key.to_str().unwrap(),
    );
    let url = |q: &str| {
        format!(
            "postgres://app@127.0.0.1:{}/postgres?sslmode=verify-full&sslrootcert={ca}{q}",
            pg.port
        )
    };
    let r = wr(&["-t", "20s", &url(&format!("&sslcert={cert}&sslkey={ckey}"))]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = run(
        whenready()
            .args(["-t", "20s", &url("")])
            .env("PGSSLCERT", cert)
            .env("PGSSLKEY", ckey),
        Duration::from_secs(30),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let r = wr(&["-t", "20s", "--cert", cert, "--key", ckey, &url("")]);
    assert_eq!(r.code, 0, "the global --cert/--key: {r:?}");
    // libpq's default files under ~/.postgresql.
    let home = TempDir::new("home");
    std::fs::create_dir_all(home.join(".postgresql")).unwrap();
    std::fs::copy(cert, home.join(".postgresql/postgresql.crt")).unwrap();
    std::fs::copy(ckey, home.join(".postgresql/postgresql.key")).unwrap();
    let r = run(
        whenready()
            .args(["-t", "20s", &url("")])
            .env("HOME", &home.0),
        Duration::from_secs(30),
    );
    assert_eq!(r.code, 0, "{r:?}");
    // No certificate: the server's 28000 is permanent.
    let r = wr(&["-t", "20s", &url("")]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("certificate"), "{r:?}");
    // An sslcert that cannot be read is a usage error naming it.
    let r = wr(&[&url(&format!("&sslcert=/nonexistent.crt&sslkey={ckey}"))]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("/nonexistent.crt"), "{r:?}");
}
