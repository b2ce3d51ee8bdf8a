//! HTTP(S) targets against small servers: statuses, redirects, silence, TLS.

mod common;
use common::*;
use std::time::Duration;

#[test]
fn unavailable_then_ok_is_ready() {
    let srv = http(|_, n| (if n < 3 { 503 } else { 200 }, String::new()));
    let r = wr(&[
        "-t",
        "10s",
        &format!("http://{}/health", srv.addr()),
        "--",
        "echo",
        "ran",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "ran\n");
    assert!(
        r.stderr.contains("not ready: HTTP 503 Service Unavailable"),
        "{r:?}"
    );
    assert!(r.stderr.contains("4 attempts"), "{r:?}");
}

#[test]
fn not_found_forever_exits_1_unless_accepted() {
    let srv = http(|_, _| (404, String::new()));
    let url = format!("http://{}/", srv.addr());
    let r = wr(&["-t", "500ms", &url]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("HTTP 404 Not Found"), "{r:?}");
    let r = wr(&["-t", "5s", "--http-status", "200-299,404", &url]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = run(
        whenready()
            .args(["-t", "5s", &url])
            .env("WHENREADY_HTTP_STATUS", "404"),
        Duration::from_secs(10),
    );
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn redirects_are_followed_up_to_ten() {
    let srv = http(|path, _| match path {
        "/a" => (302, "Location: /b\r\n".into()),
        "/b" => (301, "Location: /c\r\n".into()),
        "/c" => (200, String::new()),
        "/loop" => (302, "Location: /loop\r\n".into()),
        _ => (500, String::new()),
    });
    let r = wr(&["-t", "5s", &format!("http://{}/a", srv.addr())]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = wr(&["-t", "500ms", &format!("http://{}/loop", srv.addr())]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("more than 10 redirects"), "{r:?}");
    // Redirects are followed even when 3xx statuses are accepted: the status at the
    // end of the chain decides. /a leads to /c, whose 200 is not in 300-399.
    let r = wr(&[
        "-t",
        "500ms",
        "--http-status",
        "300-399",
        &format!("http://{}/a", srv.addr()),
    ]);
    assert_eq!(r.code, 1, "{r:?}");
}

#[test]
fn a_server_that_never_answers_is_cut_by_the_attempt_timeout() {
    let srv = Fake::start(silent);
    let r = wr(&[
        "-t",
        "1s",
        "--attempt-timeout",
        "250ms",
        &format!("http://{}/", srv.addr()),
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("no answer within 250ms"), "{r:?}");
    assert!(r.elapsed < Duration::from_secs(3), "{r:?}");
}

#[test]
fn refused_is_transient() {
    let r = wr(&["-t", "400ms", &format!("http://127.0.0.1:{}/", free_port())]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("connection refused"), "{r:?}");
}

#[test]
fn https_with_a_test_ca() {
    let certs = certs(&["localhost", "127.0.0.1"]);
    let srv = https(&certs, 200);
    let url = format!("https://localhost:{}/health", srv.port);
    let ca = certs.ca.to_str().unwrap();
    let r = wr(&["-t", "10s", "--cacert", ca, &url]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = run(
        whenready()
            .args(["-t", "10s", &url])
            .env("WHENREADY_CACERT", ca),
        Duration::from_secs(20),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let r = wr(&["-t", "30s", &url]);
    assert_eq!(r.code, 3, "unknown CA is permanent: {r:?}");
    assert!(
        r.stderr.contains("certificate verification failed"),
        "{r:?}"
    );
    // The certificate is not valid for this name.
    let other = certs_for_other_name();
    let srv2 = https(&other, 200);
    let r = wr(&[
        "-t",
        "30s",
        "--cacert",
        other.ca.to_str().unwrap(),
        &format!("https://127.0.0.1:{}/", srv2.port),
    ]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.contains("certificate verification failed"),
        "{r:?}"
    );
    let r = wr(&["-t", "10s", "--insecure", &url]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("not verified"), "{r:?}");
    let r = wr(&["--cacert", "/nonexistent.pem", &url]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("/nonexistent.pem"), "{r:?}");
}

fn certs_for_other_name() -> Certs {
    certs(&["example.test"])
}

#[test]
fn https_against_plain_http_is_transient() {
    let srv = http(|_, _| (200, String::new()));
    let r = wr(&["-t", "600ms", &format!("https://{}/", srv.addr())]);
    assert_eq!(r.code, 1, "{r:?}");
}

#[test]
fn basic_auth_password_is_masked() {
    let srv = http(|_, _| (401, String::new()));
    let r = wr(&[
        "-t",
        "300ms",
        &format!("http://user:http-Canary-pw@{}/", srv.addr()),
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_no_secret(&r, "http-Canary-pw");
    assert!(r.stderr.contains("http://user:***@"), "{r:?}");
}
