//! `redis://…#key=NAME` and `#key=NAME:REGEX` against one real redis-server of our
//! own (with a password and an ACL user) for the whole binary: ready late (the
//! key and its value come while whenready waits), never ready (no key, another
//! type, no match, a value over 512 KiB), the permanent failures (a wrong
//! password, a user without access to the key; plain and --json, no password),
//! `--once`, and malformed fragments.

mod common;
use common::*;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

const PW: &str = "expect-redis-Canary-2b9";

fn cli(redis: &Redis, args: &[&str]) {
    require("redis-cli", "redis-tools");
    let out = Command::new("redis-cli")
        .env("REDISCLI_AUTH", PW)
        .args(["-p", &redis.port.to_string()])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success() && !String::from_utf8_lossy(&out.stdout).starts_with("ERR"),
        "redis-cli {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn url(redis: &Redis, fragment: &str) -> String {
    format!("redis://:{PW}@127.0.0.1:{}#{fragment}", redis.port)
}

/// Whether `stderr` holds `reason`, as plain output writes it or as a JSON string.
#[test]
fn redis_expectations() {
    let redis = Redis::started(&["--requirepass", PW]);
    cli(
        &redis,
        &[
            "ACL",
            "SETUSER",
            "limited",
            "on",
            &format!(">{PW}"),
            "~public:*",
            "+@all",
        ],
    );
    cli(&redis, &["RPUSH", "queue", "a"]);
    cli(&redis, &["SET", "status", "starting"]);
    // 600 KB: too long for one argument of redis-cli; -x reads it from stdin.
    let mut set = Command::new("redis-cli")
        .env("REDISCLI_AUTH", PW)
        .args(["-p", &redis.port.to_string(), "-x", "SET", "big"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    set.stdin
        .take()
        .unwrap()
        .write_all(&[b'x'; 600_000])
        .unwrap();
    assert!(set.wait().unwrap().success());
    thread::scope(|s| {
        s.spawn(|| ready_late(&redis));
        s.spawn(|| never_ready(&redis));
        s.spawn(|| permanent_failures(&redis));
        s.spawn(|| malformed(&redis));
    });
}

fn ready_late(redis: &Redis) {
    let start = Instant::now();
    let child = whenready()
        .args([
            "-t",
            "60s",
            &url(redis, "key=app%3Aseeded"),
            "--",
            "echo",
            "ran",
        ])
        .spawn_piped();
    thread::sleep(Duration::from_millis(800));
    cli(redis, &["SET", "app:seeded", "1"]);
    let r = finish(child, start, Duration::from_secs(70));
    assert_exited(&r, 0);
    assert_eq!(r.stdout, "ran\n");
    assert!(r.stderr.contains("no key \"app:seeded\""), "{r:?}");
    assert_no_secret(&r, PW);

    let start = Instant::now();
    let child = whenready()
        .args([
            "-t",
            "60s",
            &url(redis, "key=phase:^ready$"),
            "--",
            "echo",
            "ran",
        ])
        .spawn_piped();
    thread::sleep(Duration::from_millis(600));
    cli(redis, &["SET", "phase", "migrating"]);
    thread::sleep(Duration::from_millis(600));
    cli(redis, &["SET", "phase", "ready"]);
    let r = finish(child, start, Duration::from_secs(70));
    assert_exited(&r, 0);
    for reason in [
        "no key \"phase\"",
        "the value of key \"phase\" does not match \"^ready$\": \"migrating\"",
    ] {
        assert!(r.stderr.contains(reason), "{reason}: {r:?}");
    }
    assert!(
        r.stderr.contains(&format!(
            "127.0.0.1:{}#key=phase:^ready$ ready after",
            redis.port
        )),
        "shown as written: {r:?}"
    );
}

fn never_ready(redis: &Redis) {
    for (fragment, reason) in [
        ("key=never", "no key \"never\""),
        (
            "key=status:^up$",
            "the value of key \"status\" does not match \"^up$\": \"starting\"",
        ),
        (
            "key=queue:.",
            "key \"queue\" holds a list, not a string for #key=NAME:REGEX to match",
        ),
        (
            "key=big:x",
            "the value of key \"big\" is 600000 bytes, over the 512 KiB whenready reads",
        ),
        ("key=app:seeded", "(the first ':' after key= ends the name"),
    ] {
        for r in assert_never_ready(&url(redis, fragment), reason) {
            assert_no_secret(&r, PW);
        }
    }
    let r = wr(&["--once", &url(redis, "key=never")]);
    assert_exited(&r, 1);
    let r = wr(&[
        "--once",
        &url(redis, "key=status:^start"),
        "--",
        "echo",
        "ran",
    ]);
    assert_exited(&r, 0);
    assert_eq!(r.stdout, "ran\n");
    let r = wr(&["--once", &url(redis, "key=queue")]);
    assert_exited(&r, 0);
}

fn permanent_failures(redis: &Redis) {
    let wrong = "Wrong-Canary-77e1";
    let cases = [
        (
            format!("redis://:{wrong}@127.0.0.1:{}#key=status", redis.port),
            "WRONGPASS",
        ),
        (
            format!("redis://limited:{PW}@127.0.0.1:{}#key=status:x", redis.port),
            "NOPERM",
        ),
        (
            format!("redis://limited:{PW}@127.0.0.1:{}#key=status", redis.port),
            "NOPERM",
        ),
    ];
    for (target, reason) in &cases {
        for r in &assert_permanent(target, reason) {
            assert_no_secret(r, PW);
            assert_no_secret(r, wrong);
        }
    }
    // The limited user may read its own keys.
    let r = wr(&[
        "--once",
        &format!(
            "redis://limited:{PW}@127.0.0.1:{}#key=public%3Anone",
            redis.port
        ),
    ]);
    assert_exited(&r, 1);
    assert!(r.stderr.contains("no key \"public:none\""), "{r:?}");
}

fn malformed(redis: &Redis) {
    for (fragment, why) in [
        ("key=", "key= needs a key name"),
        ("kee=x", "unknown expectation \"kee\""),
        ("key=a:(", "invalid regular expression"),
        ("key=a&key=b", "given twice"),
    ] {
        let target = url(redis, fragment);
        let r = wr(&[&target, "--", "echo", "ran"]);
        assert_exited(&r, 2);
        assert!(r.stderr.contains(why), "{fragment}: {r:?}");
        assert!(
            r.stderr.contains(&format!(
                "invalid target \"redis://:***@127.0.0.1:{}",
                redis.port
            )),
            "{r:?}"
        );
        assert_no_secret(&r, PW);
    }
}
