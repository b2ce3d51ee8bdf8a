//! A canary password never reaches any output: the live view on a terminal, default,
//! quiet, JSON, usage errors, permanent failures, timeouts; from URLs, query
//! parameters, variables and HTTP secret headers.

mod common;
use common::*;
use std::time::Duration;

const CANARY: &str = "Zq8-canary-pw";

fn modes() -> [&'static [&'static str]; 3] {
    [&[], &["-q"], &["--json"]]
}

/// Runs whenready on a pseudo-terminal (util-linux `script`), so that the live view
/// draws; returns what the terminal received.
fn on_terminal(args: &[&str], env: &[(&str, &str)]) -> Run {
    require("script", "util-linux");
    let mut command = format!("stty rows 30 cols 200; {}", env!("CARGO_BIN_EXE_whenready"));
    for a in args {
        assert!(!a.contains('\''), "{a}");
        command.push_str(&format!(" '{a}'"));
    }
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-qec", &command, "/dev/null"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("TERM", "xterm");
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd, Duration::from_secs(20))
}

fn check(args: &[&str], env: &[(&str, &str)]) -> Run {
    let live = on_terminal(args, env);
    assert!(!live.stdout.contains(CANARY), "live view: {live:?}");
    assert_no_secret(&live, CANARY);
    let mut last = None;
    for mode in modes() {
        let mut cmd = whenready();
        cmd.args(mode).args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let r = run(&mut cmd, Duration::from_secs(20));
        assert_no_secret(&r, CANARY);
        last = Some(r);
    }
    last.unwrap()
}

#[test]
fn url_passwords_never_print() {
    let port = free_port();
    for url in [
        format!("postgres://app:{CANARY}@127.0.0.1:{port}/db"),
        format!("postgresql://app@127.0.0.1:{port}/db?password={CANARY}"),
        format!("redis://:{CANARY}@127.0.0.1:{port}"),
        format!("redis://user:{CANARY}@127.0.0.1:{port}/2"),
        format!("http://user:{CANARY}@127.0.0.1:{port}/"),
        format!("nats://user:{CANARY}@127.0.0.1:{port}"),
        format!("nats://{CANARY}@127.0.0.1:{port}"),
        format!("mqtt://user:{CANARY}@127.0.0.1:{port}"),
        format!("mqtts://user:{CANARY}@127.0.0.1:{port}?protocol=5"),
        format!("amqp://user:{CANARY}@127.0.0.1:{port}/vh"),
        format!("amqps://user:{CANARY}@127.0.0.1:{port}"),
        format!("memcached://user:{CANARY}@127.0.0.1:{port}"),
        format!("https://user:{CANARY}@127.0.0.1:{port}/?password={CANARY}"),
    ] {
        let r = check(&["-t", "200ms", &url], &[]);
        assert_eq!(r.code, 1, "{r:?}");
        let r = check(&["--once", &url], &[]);
        assert_eq!(r.code, 1, "{r:?}");
    }
}

#[test]
fn usage_errors_do_not_print_the_password() {
    for bad in [
        format!("postgres://app:{CANARY}@db:99999/x"),
        format!("postgres://app:{CANARY}@db/x?bogus=1"),
        format!("postgres://app@db/x?password={CANARY}&sslmode=wrong"),
        format!("redis://:{CANARY}@cache/notanumber"),
        format!("redis://:{CANARY}@cache:6379?x=y"),
        format!("nats://{CANARY}@broker:4222?bogus=1"),
        format!("nats://{CANARY}@broker:99999"),
        format!("nats://u:{CANARY}@broker/path"),
        format!("mqtt://:{CANARY}@broker"),
        format!("mqtt://u:{CANARY}@broker?qos=1"),
        format!("amqp://u:{CANARY}@broker/a/b"),
        format!("amqp://u:{CANARY}@broker?verify=verify_peer"),
        format!("mysql://root:{CANARY}@db:3306?ssl-mode=bogus"),
        format!("mariadb://root:{CANARY}@db:3306/a/b"),
        format!("mongodb://root:{CANARY}@db:27017/?bogus=1"),
        format!("kafka://root:{CANARY}@db:9092?sasl=gssapi"),
        format!("memcached://u:{CANARY}@cache?x=1"),
        format!("memcached://u:{CANARY}@cache/0"),
        format!("grpc://u:{CANARY}@svc:50051"),
        format!("dns://u:{CANARY}@db.test?type=A"),
        format!("http://u:{CANARY}@[::1/"),
        format!("postgres://app:{CANARY}@a:1,b:2/db"),
    ] {
        let r = check(&[&bad], &[]);
        assert_eq!(r.code, 2, "{bad}: {r:?}");
        assert!(r.stderr.contains("***"), "the masked form is shown: {r:?}");
    }
}

#[test]
fn environment_passwords_never_print() {
    let port = free_port();
    let r = check(
        &[
            "-t",
            "200ms",
            &format!("postgres://app@127.0.0.1:{port}/db"),
            &format!("redis://127.0.0.1:{port}"),
            &format!("mysql://app@127.0.0.1:{port}/db"),
        ],
        &[
            ("PGPASSWORD", CANARY),
            ("REDISCLI_AUTH", CANARY),
            ("MYSQL_PWD", CANARY),
        ],
    );
    assert_eq!(r.code, 1, "{r:?}");
    let r = check(
        &["-t", "200ms"],
        &[(
            "WHENREADY_TARGETS",
            &format!("postgres://u:{CANARY}@127.0.0.1:{port}/d"),
        )],
    );
    assert_eq!(r.code, 1, "{r:?}");
    let r = check(
        &[],
        &[("WHENREADY_TARGETS", &format!("postgres://u:{CANARY}@h:0/d"))],
    );
    assert_eq!(r.code, 2, "{r:?}");
}

#[test]
fn permanent_failures_do_not_print_the_password() {
    let srv = Redis::started(&["--requirepass", "the-right-one"]);
    let r = check(
        &[
            "-t",
            "20s",
            &format!("redis://:{CANARY}@127.0.0.1:{}", srv.port),
        ],
        &[],
    );
    assert_eq!(r.code, 3, "{r:?}");
}

#[test]
fn http_secret_headers_never_print() {
    let port = free_port();
    let dir = TempDir::new("secret-header");
    let file = dir.join("token");
    std::fs::write(&file, CANARY).unwrap();
    for url in [
        format!("http://127.0.0.1:{port}/#bearer-env=TOKEN"),
        format!("http://127.0.0.1:{port}/#send-header-env=x-api-key:TOKEN&json=/status:green"),
        format!("https://127.0.0.1:{port}/#bearer-file={}", file.display()),
        format!(
            "http+unix://%2Fnonexistent%2Fapp.sock/#send-header-file=cookie:{}",
            file.display()
        ),
    ] {
        let r = check(&["-t", "200ms", &url], &[("TOKEN", CANARY)]);
        assert_eq!(r.code, 1, "{r:?}");
        let r = check(&["--once", &url], &[("TOKEN", CANARY)]);
        assert_eq!(r.code, 1, "{r:?}");
    }
    // Written on the command line, a secret header is refused, and masked in the
    // refusal.
    for name in ["Authorization", "cookie", "Proxy-Authorization"] {
        let url =
            format!("http://127.0.0.1:{port}/#send-header={name}:Bearer%20{CANARY}&status=200");
        let r = check(&[&url], &[]);
        assert_eq!(r.code, 2, "{r:?}");
        assert!(r.stderr.contains(&format!("{name}:***")), "{r:?}");
    }
    // A variable that is not a valid header value: a usage error that does not quote it.
    let r = check(
        &[&format!("http://127.0.0.1:{port}/#bearer-env=TOKEN")],
        &[("TOKEN", &format!("{CANARY}\u{7f}x"))],
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("TOKEN"), "{r:?}");
}
