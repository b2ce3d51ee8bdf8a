//! grpc:// and grpcs:// targets against real gRPC servers of our own: Python's grpcio
//! health service (flipped between SERVING and NOT_SERVING while whenready waits, no
//! health service at all, every call refused, TLS with a test CA) and etcd.

mod common;
use common::grpc::{Etcd, HealthServer};
use common::*;
use std::time::{Duration, Instant};

fn url(srv: &HealthServer, service: &str) -> String {
    format!("grpc://127.0.0.1:{}/{service}", srv.port)
}

#[test]
fn serving_is_ready_then_command_runs() {
    let mut srv = HealthServer::started(&[]);
    srv.command("set app.Api SERVING");
    for target in [url(&srv, ""), url(&srv, "app.Api")] {
        let r = wr(&[&target, "--", "echo", "ran"]);
        assert_exited(&r, 0);
        assert_eq!(r.stdout, "ran\n");
    }
}

#[test]
fn not_serving_then_serving() {
    let mut srv = HealthServer::started(&[]);
    srv.command("set app.Api NOT_SERVING");
    let r = wr(&["--once", &url(&srv, "app.Api")]);
    assert_exited(&r, 1);
    assert!(r.stderr.contains("NOT_SERVING"), "{r:?}");
    let mut w = Watched::spawn(whenready().args(["-t", "20s", &url(&srv, "app.Api")]));
    let start = Instant::now();
    w.wait_for_line("NOT_SERVING", Duration::from_secs(10));
    srv.command("set app.Api SERVING");
    let r = w.finish(start, Duration::from_secs(30));
    assert_exited(&r, 0);
    // And back: --once sees it.
    srv.command("set app.Api NOT_SERVING");
    assert_exited(&wr(&["--once", &url(&srv, "app.Api")]), 1);
}

#[test]
fn an_unknown_service_is_waited_for() {
    let mut srv = HealthServer::started(&[]);
    let mut w = Watched::spawn(whenready().args(["-t", "20s", &url(&srv, "late.Svc")]));
    let start = Instant::now();
    w.wait_for_line("NOT_FOUND", Duration::from_secs(10));
    srv.command("set late.Svc SERVING");
    let r = w.finish(start, Duration::from_secs(30));
    assert_exited(&r, 0);
}

#[test]
fn no_health_service_is_permanent() {
    let srv = HealthServer::started(&["--no-health"]);
    let r = wr(&["-t", "30s", &url(&srv, "")]);
    assert_exited(&r, 3);
    assert!(r.stderr.contains("UNIMPLEMENTED"), "{r:?}");
    assert!(r.elapsed < Duration::from_secs(10), "{r:?}");
    assert_exited(&wr(&["--once", &url(&srv, "")]), 1);
}

#[test]
fn unauthenticated_is_permanent() {
    let srv = HealthServer::started(&["--deny"]);
    let r = wr(&["-t", "30s", &url(&srv, "")]);
    assert_exited(&r, 3);
    assert!(r.stderr.contains("UNAUTHENTICATED"), "{r:?}");
    assert!(r.stderr.contains("no credentials"), "{r:?}");
}

#[test]
fn started_late_stopped_and_restarted() {
    let mut srv = HealthServer::new(&[]);
    let target = url(&srv, "");
    let mut w = Watched::spawn(whenready().args(["-t", "20s", &target, "--", "echo", "ran"]));
    let start = Instant::now();
    w.wait_for_line("connection refused", Duration::from_secs(10));
    srv.start();
    let r = w.finish(start, Duration::from_secs(30));
    assert_exited(&r, 0);
    assert_eq!(r.stdout, "ran\n");
    srv.stop();
    assert_exited(&wr(&["--once", &target]), 1);
    srv.start();
    assert_exited(&wr(&["--once", &target]), 0);
}

#[test]
fn never_started_times_out() {
    let port = free_port();
    assert_never_started(
        &format!("grpc://127.0.0.1:{port}"),
        &format!("grpcs://127.0.0.1:{port}"),
    );
}

#[test]
fn grpcs_with_a_test_ca() {
    let certs = certs(&["localhost", "127.0.0.1"]);
    let mut srv = HealthServer::started(&[
        "--tls",
        certs.cert.to_str().unwrap(),
        certs.key.to_str().unwrap(),
    ]);
    srv.command("set app.Api SERVING");
    let ca = certs.ca.to_str().unwrap();
    for target in [
        format!("grpcs://localhost:{}/app.Api", srv.port),
        format!("grpcs://127.0.0.1:{}", srv.port),
    ] {
        let r = wr(&["--once", "--cacert", ca, &target]);
        assert_exited(&r, 0);
    }
    // Without the CA: the certificate is rejected, for good.
    let r = wr(&["-t", "30s", &format!("grpcs://localhost:{}", srv.port)]);
    assert_exited(&r, 3);
    assert!(r.stderr.contains("certificate"), "{r:?}");
    // --insecure skips the check.
    let r = wr(&[
        "--once",
        "--insecure",
        &format!("grpcs://localhost:{}", srv.port),
    ]);
    assert_exited(&r, 0);
    // TLS behind grpc://, plaintext behind grpcs://: not ready, never permanent.
    let r = wr(&["-t", "1s", &format!("grpc://127.0.0.1:{}", srv.port)]);
    assert_exited(&r, 1);
    let plain = HealthServer::started(&[]);
    let r = wr(&[
        "-t",
        "1s",
        "--cacert",
        ca,
        &format!("grpcs://127.0.0.1:{}", plain.port),
    ]);
    assert_exited(&r, 1);
}

#[test]
fn etcd_serves_the_health_service() {
    let etcd = Etcd::started();
    let r = wr(&["-t", "20s", &format!("grpc://127.0.0.1:{}", etcd.port)]);
    assert_exited(&r, 0);
}

#[test]
fn an_http1_server_is_not_grpc() {
    let f = http(|_, _| (200, String::new()));
    let r = wr(&["-t", "1s", &format!("grpc://{}", f.addr())]);
    assert_exited(&r, 1);
}

#[test]
fn bad_urls_are_usage_errors() {
    for (target, needle) in [
        ("grpc://h", "missing port"),
        ("grpc://h:1/a/b", "one name"),
        ("grpc://h:1?timeout=1", "parameters"),
        ("grpc://u:pw@h:1", "no user"),
    ] {
        let r = wr(&[target]);
        assert_exited(&r, 2);
        assert!(r.stderr.contains(needle), "{target}: {r:?}");
    }
}
