//! Redis targets against hostile peers: fakes on 127.0.0.1 that answer the first
//! command with a reply no real server sends (a line that never ends, a bulk string
//! of 3 GB, an array of 2^31 elements), then stream bytes until whenready hangs up.
//! Whatever they send, whenready keeps under the contract's 16 MiB, ends at its
//! deadline (or after `--once`'s one attempt) with exit 1, says why, and prints no
//! password.

mod common;
use common::hostile::{attack, endless, Measured};
use common::*;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PW: &str = "hostile-redis-Canary-5e1";

/// A fake that reads the client's commands (kept in `received`), sends `header`,
/// then `unit` over and over until the client goes away (or, without a unit, waits
/// for it to go away).
fn attacker(header: &'static [u8], unit: &'static [u8]) -> (Fake, Arc<Mutex<Vec<u8>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let seen = received.clone();
    let fake = Fake::start(move |mut s, _| {
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).unwrap_or(0);
        {
            let mut seen = seen.lock().unwrap();
            if seen.is_empty() {
                seen.extend_from_slice(&buf[..n]);
            }
        }
        if s.write_all(header).is_err() {
            return;
        }
        if unit.is_empty() {
            while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
            return;
        }
        endless(&mut s, unit);
    });
    (fake, received)
}

/// The checks every attack shares: exit 1 at the deadline (or at once with
/// `--once`), bounded memory, the reason shown, no password printed.
fn assert_held(m: &Measured, timeout: Duration, reason: &str) {
    common::hostile::assert_held(m, timeout, reason, PW);
}

const FIVE: Duration = Duration::from_secs(5);

#[test]
fn a_simple_string_that_never_ends() {
    let (fake, received) = attacker(b"+", b"a");
    let url = format!("redis://{}", fake.addr());
    let m = attack(&["-t", "5s"], &url);
    assert_held(&m, FIVE, "not a Redis reply to PING: a line over 64 KiB");
    assert_eq!(&received.lock().unwrap()[..], b"*1\r\n$4\r\nPING\r\n");
    let m = attack(&["-t", "5s", "--once"], &url);
    assert_held(&m, FIVE, "a line over 64 KiB");
}

#[test]
fn a_bulk_string_of_three_gigabytes() {
    let (fake, received) = attacker(b"$3000000000\r\n", b"0123456789abcdef");
    let url = format!("redis://:{PW}@{}", fake.addr());
    let reason = "not a Redis reply to AUTH: a bulk string of 3000000000 bytes (over 512 KiB)";
    let m = attack(&["-t", "5s"], &url);
    assert_held(&m, FIVE, reason);
    let sent = format!(
        "*2\r\n$4\r\nAUTH\r\n${}\r\n{PW}\r\n*1\r\n$4\r\nPING\r\n",
        PW.len()
    );
    assert_eq!(String::from_utf8_lossy(&received.lock().unwrap()), sent);
    // An attempt allowed to run past the deadline is still cut by it.
    let m = attack(&["-t", "5s", "--attempt-timeout", "15s"], &url);
    assert_held(&m, FIVE, reason);
    let m = attack(&["-t", "5s", "--once"], &url);
    assert_held(&m, FIVE, reason);
    let m = attack(&["-t", "5s", "--json"], &url);
    assert_held(&m, FIVE, "over 512 KiB");
}

#[test]
fn an_array_of_two_billion_elements() {
    let (fake, _) = attacker(b"*2147483647\r\n", b":1\r\n");
    let url = format!("redis://{}/2", fake.addr());
    let reason = "not a Redis reply to SELECT: an array of 2147483647 elements (over 1024)";
    let m = attack(&["-t", "5s"], &url);
    assert_held(&m, FIVE, reason);
    let m = attack(&["-t", "5s", "--once"], &url);
    assert_held(&m, FIVE, reason);
}

#[test]
fn arrays_nested_without_end() {
    let (fake, _) = attacker(b"", b"*1\r\n");
    let url = format!("redis://{}", fake.addr());
    let m = attack(&["-t", "5s", "--once"], &url);
    assert_held(&m, FIVE, "arrays nested deeper than 8");
}

#[test]
fn a_stalled_bulk_string_is_cut_by_the_attempt_timeout() {
    // Within the limits, but the rest never comes.
    let (fake, _) = attacker(b"$1000\r\nabc", b"");
    let url = format!("redis://{}", fake.addr());
    let m = attack(&["-t", "5s", "--once", "--attempt-timeout", "300ms"], &url);
    assert_held(&m, FIVE, "no answer within 300ms");
}

#[test]
fn a_server_that_echoes_the_password() {
    let echo: &'static [u8] = format!("-WRONGPASS {PW} is not {PW}\r\n").leak().as_bytes();
    let (fake, received) = attacker(echo, b"");
    let url = format!("redis://app:{PW}@{}", fake.addr());
    // Permanent: exit 3, or 1 with --once (a healthcheck's "not ready").
    for (mode, code) in [(&[][..], 3), (&["--json"], 3), (&["--once"], 1)] {
        let mut args = vec!["-t", "5s"];
        args.extend_from_slice(mode);
        let m = attack(&args, &url);
        assert_exited(&m.run, code);
        assert_no_secret(&m.run, PW);
        assert!(
            m.run.stderr.contains("WRONGPASS *** is not ***"),
            "{:?}",
            m.run
        );
    }
    let sent = format!(
        "*3\r\n$4\r\nAUTH\r\n$3\r\napp\r\n${}\r\n{PW}\r\n*1\r\n$4\r\nPING\r\n",
        PW.len()
    );
    assert_eq!(String::from_utf8_lossy(&received.lock().unwrap()), sent);
}
