//! HTTP(S) targets against small servers (statuses, redirects, silence, TLS) and
//! against Python's http.server (expectations in the fragment, the request side,
//! secret headers, HTTP over a Unix socket, client certificates).

mod common;
use common::pyhttp::PyHttp;
use common::*;
use std::time::{Duration, Instant};

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

// ------------------------------------------------ expectations in the fragment,
// against Python's http.server (tests/common/pyhttp.rs)

#[test]
fn json_value_at_a_pointer_waits_for_green_or_yellow() {
    let srv = PyHttp::tcp(&[]);
    srv.put("health.json", r#"{"cluster_name":"es","status":"red"}"#);
    let url = format!(
        "http://127.0.0.1:{}/health.json#json=/status:green,yellow",
        srv.port
    );
    let r = wr(&["--once", &url]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains(r#"HTTP 200, but /status is "red" (expected green or yellow)"#),
        "{r:?}"
    );
    let start = Instant::now();
    let mut w = Watched::spawn(whenready().args(["-t", "30s", &url, "--", "echo", "ran"]));
    w.wait_for_line(r#"/status is "red""#, Duration::from_secs(20));
    srv.put("health.json", r#"{"cluster_name":"es","status":"yellow"}"#);
    let r = w.finish(start, Duration::from_secs(30));
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "ran\n");
}

#[test]
fn a_body_that_is_not_json_is_transient_and_shown() {
    let srv = PyHttp::tcp(&[]);
    srv.put("health", "<html>\n  <body>starting</body>\n</html>\n");
    let r = wr(&[
        "-t",
        "600ms",
        &format!("http://127.0.0.1:{}/health#json=/status", srv.port),
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("HTTP 200, but the body is not JSON: <html> <body>starting</body> </html>"),
        "{r:?}"
    );
}

#[test]
fn body_regex_and_response_header() {
    let srv = PyHttp::tcp(&[]);
    srv.put("ready.txt", "state: starting\n");
    let url = |fragment: &str| format!("http://127.0.0.1:{}/ready.txt#{fragment}", srv.port);
    let r = wr(&["--once", &url("body=state:%20(up|ready)")]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(
            r#"HTTP 200, but the body does not match "state: (up|ready)": state: starting"#
        ),
        "{r:?}"
    );
    srv.put("ready.txt", "state: up\n");
    let r = wr(&[
        "--once",
        &url("body=state:%20(up|ready)&header=content-type:%5Etext/plain"),
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = wr(&["--once", &url("header=content-type:json")]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains(r#"but content-type is text/plain (expected a match of "json")"#),
        "{r:?}"
    );
}

#[test]
fn each_target_has_its_own_statuses() {
    let srv = PyHttp::tcp(&[]);
    srv.put("ok", "ok");
    // /missing answers 404: ready for the target that accepts it, whatever
    // --http-status says for the others.
    let missing = format!("http://127.0.0.1:{}/missing#status=404", srv.port);
    let ok = format!("http://127.0.0.1:{}/ok", srv.port);
    let r = wr(&["--once", "--http-status", "200", &missing, &ok]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = wr(&["--once", "--http-status", "404", &ok]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("HTTP 200 OK"), "{r:?}");
}

#[test]
fn method_headers_and_body_are_sent() {
    let srv = PyHttp::tcp(&[]);
    let url = format!(
        "http://127.0.0.1:{}/echo?x=1#method=PUT&send-body=%7B%22q%22%3A1%7D&send-header=content-type:application/json&send-header=x-trace:a%2Cb&json=/method:PUT&json=/path:%2Fecho%3Fx%3D1&json=/headers/x-trace:a%2Cb&json=/headers/content-type:application/json&json=/body:%7B%22q%22%3A1%7D",
        srv.port
    );
    let r = wr(&["--once", &url]);
    assert_eq!(r.code, 0, "{r:?}");
    // send-body alone is a POST.
    let url = format!(
        "http://127.0.0.1:{}/echo#send-body=a&json=/method:POST",
        srv.port
    );
    let r = wr(&["--once", &url]);
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn bearer_token_from_a_variable_or_a_file_is_sent_and_never_printed() {
    const TOKEN: &str = "tok-Canary-91x";
    let srv = PyHttp::tcp(&[("EXPECTED_AUTH", &format!("Bearer {TOKEN}"))]);
    let url = format!("http://127.0.0.1:{}/auth#bearer-env=API_TOKEN", srv.port);
    let ok = run(
        whenready().args(["--once", &url]).env("API_TOKEN", TOKEN),
        Duration::from_secs(20),
    );
    assert_eq!(ok.code, 0, "{ok:?}");
    for mode in [&[][..], &["-q"], &["--json"]] {
        let r = run(
            whenready()
                .args(mode)
                .args(["-t", "400ms", &url])
                .env("API_TOKEN", "wrong-token"),
            Duration::from_secs(20),
        );
        assert_eq!(r.code, 1, "{r:?}");
        assert!(r.stderr.contains("401"), "{r:?}");
        assert_no_secret(&r, "wrong-token");
    }
    let dir = TempDir::new("token");
    let file = dir.join("token");
    std::fs::write(&file, format!("{TOKEN}\n")).unwrap();
    let url = format!(
        "http://127.0.0.1:{}/auth#bearer-file={}",
        srv.port,
        file.display()
    );
    let r = wr(&["--once", &url]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_no_secret(&r, TOKEN);
    // A variable that is not set, a file that cannot be read: usage errors.
    let r = wr(&[
        "--once",
        &format!("http://127.0.0.1:{}/auth#bearer-env=UNSET_VAR", srv.port),
    ]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("UNSET_VAR"), "{r:?}");
    let r = wr(&[
        "--once",
        &format!(
            "http://127.0.0.1:{}/auth#bearer-file=/nonexistent/token",
            srv.port
        ),
    ]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("/nonexistent/token"), "{r:?}");
}

#[test]
fn what_the_fragment_does_not_understand_is_a_usage_error() {
    for (target, needle) in [
        (
            "http://svc/health#jsn=/status:green",
            r#"unknown expectation or option "jsn""#,
        ),
        ("http://svc/health#json=status", "starts with /"),
        (
            "http://svc/#send-header=Authorization:Bearer%20x",
            "secret on the command line",
        ),
        ("https://svc/#cert=/c.pem", "needs key="),
        ("redis://cache:6379#json=/a", "unknown expectation \"json\""),
        ("postgres://db/app#x", "needs a value"),
        ("tcp://db:5432#x", "takes no #fragment"),
        ("http+unix://run/docker.sock/_ping", "absolute path"),
    ] {
        let r = wr(&[target]);
        assert_eq!(r.code, 2, "{target}: {r:?}");
        assert!(r.stderr.contains(needle), "{target}: {r:?}");
        assert_eq!(r.stderr.lines().count(), 1, "{target}: {r:?}");
    }
}

// ------------------------------------------------ HTTP over a Unix socket

#[test]
fn http_over_a_unix_socket() {
    let srv = PyHttp::unix();
    srv.put("_ping", "OK");
    let base = srv.unix_base();
    let r = wr(&["--once", &format!("{base}/_ping#body=%5EOK$")]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = wr(&["--once", &format!("{base}/missing")]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("HTTP 404 Not Found"), "{r:?}");
    let r = wr(&[
        "--once",
        &format!("{base}/echo#json=/headers/host:localhost&send-header=x-trace:7&json=/headers/x-trace:7&method=post&json=/method:POST"),
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    // No socket yet: transient, naming the path; then it appears.
    let dir = TempDir::new("nosock");
    let path = dir.join("late.sock");
    let late = format!(
        "http+unix://{}/",
        path.display().to_string().replace('/', "%2F")
    );
    let r = wr(&["-t", "300ms", &late]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("late.sock: not found"), "{r:?}");
}

// ------------------------------------------------ client certificates (mTLS)

#[test]
fn https_that_requires_a_client_certificate() {
    let certs = certs(&["localhost", "127.0.0.1"]);
    let srv = PyHttp::mtls(&certs);
    srv.put("health", "ok");
    let url = format!("https://localhost:{}/health", srv.port);
    let ca = certs.ca.to_str().unwrap();
    let (cert, key) = (
        certs.client_cert.to_str().unwrap(),
        certs.client_key.to_str().unwrap(),
    );
    // Without a certificate the server refuses: permanent, and says why.
    let r = wr(&["-t", "20s", "--cacert", ca, &url]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.contains("requires a client certificate")
            || r.stderr.contains("refused the client certificate"),
        "{r:?}"
    );
    let r = wr(&[
        "-t", "20s", "--cacert", ca, "--cert", cert, "--key", key, &url,
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!r.stderr.contains("warning"), "{r:?}");
    let r = run(
        whenready()
            .args(["-t", "20s", "--cacert", ca, &url])
            .env("WHENREADY_CERT", cert)
            .env("WHENREADY_KEY", key),
        Duration::from_secs(30),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let r = wr(&[
        "-t",
        "20s",
        "--cacert",
        ca,
        &format!("{url}#cert={cert}&key={key}&body=ok"),
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    // A certificate from another CA is refused by the server.
    let other = certs_for_other_name();
    let r = wr(&[
        "-t",
        "20s",
        "--cacert",
        ca,
        "--cert",
        other.client_cert.to_str().unwrap(),
        "--key",
        other.client_key.to_str().unwrap(),
        &url,
    ]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("refused the client certificate"), "{r:?}");
    // A key readable by others: a warning as libpq's rule says, still used.
    let loose = certs.dir.join("loose.key");
    std::fs::copy(&certs.client_key, &loose).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let r = wr(&[
        "-t",
        "20s",
        "--cacert",
        ca,
        "--cert",
        cert,
        "--key",
        loose.to_str().unwrap(),
        &url,
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr.contains("whenready: warning: private key file")
            && r.stderr.contains("has group or world access"),
        "{r:?}"
    );
    // Files that are missing, not PEM, encrypted, or do not belong together: usage
    // errors.
    let encrypted = certs.dir.join("encrypted.key");
    std::fs::write(
        &encrypted,
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n",
    )
    .unwrap();
    for (c, k, needle) in [
        ("/nonexistent.crt", key, "/nonexistent.crt"),
        (cert, "/nonexistent.key", "/nonexistent.key"),
        (cert, ca, "holds no PEM private key"),
        (
            cert,
            encrypted.to_str().unwrap(),
            "holds an encrypted private key",
        ),
        (
            cert,
            other.client_key.to_str().unwrap(),
            "does not belong to the certificate",
        ),
    ] {
        let r = wr(&["--cacert", ca, "--cert", c, "--key", k, &url]);
        assert_eq!(r.code, 2, "{r:?}");
        assert!(r.stderr.contains(needle), "{needle}: {r:?}");
    }
    let r = wr(&["--cert", cert, &url]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("--cert needs a private key"), "{r:?}");
}

#[test]
fn fragment_headers_stay_with_their_origin_across_redirects() {
    const TOKEN: &str = "tok-Redirect-55";
    let srv = PyHttp::tcp(&[("EXPECTED_AUTH", &format!("Bearer {TOKEN}"))]);
    let auth = format!("http://127.0.0.1:{}/auth", srv.port);
    let direct = run(
        whenready()
            .args(["--once", &format!("{auth}#bearer-env=T")])
            .env("T", TOKEN),
        Duration::from_secs(20),
    );
    assert_eq!(direct.code, 0, "{direct:?}");
    // Another origin (port) redirects there: the token is not carried over.
    let location = format!("Location: {auth}\r\n");
    let front = http(move |_, _| (302, location.clone()));
    let r = run(
        whenready()
            .args(["--once", &format!("http://{}/#bearer-env=T", front.addr())])
            .env("T", TOKEN),
        Duration::from_secs(20),
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("HTTP 401"), "{r:?}");
    assert_no_secret(&r, TOKEN);
}
