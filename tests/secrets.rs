//! A canary password never reaches any output: the live view on a terminal, default,
//! quiet, JSON, usage errors, permanent failures, timeouts; from URLs, query
//! parameters, variables and HTTP secret headers. Every run must also end as
//! expected (its exit status and the line that says so) and show the target,
//! masked: a run that printed nothing would pass for one that hid the canary.

mod common;
use common::*;
use std::time::Duration;

const CANARY: &str = "Zq8-canary-pw";

/// How a run's output is read: on a terminal (the live view), or on a pipe (plain,
/// `-q`, `--json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Live,
    Plain,
    Quiet,
    Json,
}

/// Runs whenready on a pseudo-terminal (util-linux `script`), so that the live view
/// draws; returns what the terminal received as its stderr.
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
    let mut r = run(&mut cmd, Duration::from_secs(20));
    r.stderr = std::mem::take(&mut r.stdout) + &r.stderr;
    r
}

/// Runs `args` in every mode and asserts, in each: the exit `code`, the line that
/// says how the run ended (the deadline, `--once`, a permanent failure or a usage
/// error), each of `shown` (the targets as they must be shown, masked) printed, and
/// the canary nowhere.
fn check(args: &[&str], env: &[(&str, &str)], code: i32, shown: &[&str]) {
    for mode in [Mode::Live, Mode::Plain, Mode::Quiet, Mode::Json] {
        let r = match mode {
            Mode::Live => on_terminal(args, env),
            _ => {
                let mut cmd = whenready();
                match mode {
                    Mode::Quiet => cmd.arg("-q"),
                    Mode::Json => cmd.arg("--json"),
                    _ => &mut cmd,
                };
                cmd.args(args);
                for (k, v) in env {
                    cmd.env(k, v);
                }
                run(&mut cmd, Duration::from_secs(20))
            }
        };
        assert_no_secret(&r, CANARY);
        assert_exited(&r, code);
        let json = mode == Mode::Json;
        let ending = match code {
            2 => "whenready: ",
            3 if json => "\"event\":\"permanent\"",
            3 => "failed permanently: ",
            _ if args.contains(&"--once") && json => "\"event\":\"not_ready_once\"",
            _ if args.contains(&"--once") => " not ready:",
            _ if json => "\"event\":\"timeout\"",
            _ => "timed out after ",
        };
        assert!(r.stderr.contains(ending), "{mode:?}: no {ending:?}: {r:?}");
        for s in shown {
            assert!(r.stderr.contains(s), "{mode:?}: {s} not shown: {r:?}");
        }
    }
}

/// The text as whenready must show it: the canary masked.
fn masked(text: &str) -> String {
    text.replace(CANARY, "***")
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
        check(&["-t", "200ms", &url], &[], 1, &[&masked(&url)]);
        check(&["--once", &url], &[], 1, &[&masked(&url)]);
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
        check(&[&bad], &[], 2, &[&masked(&bad)]);
    }
}

#[test]
fn environment_passwords_never_print() {
    let port = free_port();
    let targets = [
        format!("postgres://app@127.0.0.1:{port}/db"),
        format!("redis://127.0.0.1:{port}"),
        format!("mysql://app@127.0.0.1:{port}/db"),
    ];
    let mut args = vec!["-t", "200ms"];
    args.extend(targets.iter().map(String::as_str));
    let shown: Vec<&str> = targets.iter().map(String::as_str).collect();
    check(
        &args,
        &[
            ("PGPASSWORD", CANARY),
            ("REDISCLI_AUTH", CANARY),
            ("MYSQL_PWD", CANARY),
        ],
        1,
        &shown,
    );
    let url = format!("postgres://u:{CANARY}@127.0.0.1:{port}/d");
    check(
        &["-t", "200ms"],
        &[("WHENREADY_TARGETS", &url)],
        1,
        &[&masked(&url)],
    );
    let url = format!("postgres://u:{CANARY}@h:0/d");
    check(
        &[],
        &[("WHENREADY_TARGETS", &url)],
        2,
        &[&masked(&url), "WHENREADY_TARGETS"],
    );
}

#[test]
fn permanent_failures_do_not_print_the_password() {
    let srv = Redis::started(&["--requirepass", "the-right-one"]);
    let url = format!("redis://:{CANARY}@127.0.0.1:{}", srv.port);
    check(&["-t", "20s", &url], &[], 3, &[&masked(&url)]);
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
        check(&["-t", "200ms", &url], &[("TOKEN", CANARY)], 1, &[&url]);
        check(&["--once", &url], &[("TOKEN", CANARY)], 1, &[&url]);
    }
    // Written on the command line, a secret header is refused, and masked in the
    // refusal.
    for name in ["Authorization", "cookie", "Proxy-Authorization"] {
        let url =
            format!("http://127.0.0.1:{port}/#send-header={name}:Bearer%20{CANARY}&status=200");
        check(&[&url], &[], 2, &[&format!("{name}:***")]);
    }
    // A variable that is not a valid header value: a usage error that does not quote it.
    check(
        &[&format!("http://127.0.0.1:{port}/#bearer-env=TOKEN")],
        &[("TOKEN", &format!("{CANARY}\u{7f}x"))],
        2,
        &["the variable TOKEN (bearer-env=) does not hold a valid header value"],
    );
}
