//! mysql:// against servers a real MySQL or MariaDB cannot be made to imitate (fakes
//! on 127.0.0.1): an RSA key with a huge public exponent or modulus (the deadline
//! and SIGTERM must still hold, memory stays bounded).

mod common;
use common::hostile::*;
use common::mysql_fake::*;
use common::*;
use std::io::Write;
use std::sync::mpsc;
use std::time::{Duration, Instant};

const PASSWORD: &str = "Hostile-Canary-9b2e";

/// A fake that asks for caching_sha2_password's full authentication without TLS,
/// and answers the client's request for its RSA key with `pem`; each key sent is
/// reported on the channel.
fn key_server(pem: Vec<u8>) -> (Fake, mpsc::Receiver<()>) {
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let fake = Fake::start(move |mut s, _| {
        let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
        let _ = s.write_all(&packet(0, &greeting("caching_sha2_password", SERVER_CAPS)));
        let Some(_login) = read_packet(&mut s) else {
            return;
        };
        let _ = s.write_all(&packet(2, &[0x01, 0x04]));
        match read_packet(&mut s) {
            Some((3, request)) if request == [0x02] => {}
            _ => return,
        }
        let mut answer = vec![0x01];
        answer.extend_from_slice(&pem);
        if s.write_all(&packet(4, &answer)).is_ok() {
            let _ = tx.lock().unwrap().send(());
        }
        // Hold the connection until the client gives up on it.
        let _ = read_packet(&mut s);
    });
    (fake, rx)
}

fn key_url(fake: &Fake) -> String {
    format!(
        "mysql://app:{PASSWORD}@{}/app?get-server-public-key=true",
        fake.addr()
    )
}

/// 368 kbit: the exponent of the attack in issue 26, which held whenready for 97 s
/// past a 5 s deadline (modpow on the runtime's only thread).
const HUGE_EXPONENT_BITS: usize = 368_000;

#[test]
fn a_huge_rsa_exponent_does_not_hold_the_deadline() {
    let (fake, keys) = key_server(rsa_public_key_pem(2048, HUGE_EXPONENT_BITS));
    let timeout = Duration::from_secs(5);
    for mode in [&[][..], &["--json"]] {
        let m = run_measured(
            whenready().args(mode).args(["-t", "5s", &key_url(&fake)]),
            Duration::from_secs(30),
        );
        assert!(
            keys.try_recv().is_ok(),
            "the fake never sent its key: {:?}",
            m.run
        );
        assert_exited(&m.run, 1);
        assert_within_deadline(&m.run, timeout);
        assert_bounded_memory(&m);
        assert!(m.run.stderr.contains("RSA"), "{:?}", m.run);
        assert!(m.run.stderr.contains("exponent"), "{:?}", m.run);
        assert_no_secret(&m.run, PASSWORD);
        assert_no_forged_line(&m.run, "whenready: db ready", 600);
        while keys.try_recv().is_ok() {}
    }
}

#[test]
fn sigterm_during_an_attempt_with_a_huge_rsa_exponent_exits_143() {
    let (fake, keys) = key_server(rsa_public_key_pem(2048, HUGE_EXPONENT_BITS));
    let child = whenready()
        .args(["-t", "60s", &key_url(&fake)])
        .spawn_piped();
    let pid = child.id();
    wait_for_handler(pid, 15);
    keys.recv_timeout(Duration::from_secs(20))
        .expect("the fake never sent its key");
    let start = Instant::now();
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let r = finish(child, start, Duration::from_secs(20));
    assert_exited(&r, 143);
    // Measured from the signal: its 100 ms and the deadline helper's slack.
    assert_within_deadline(&r, Duration::ZERO);
    assert!(r.stderr.contains("interrupted by SIGTERM"), "{r:?}");
    assert_no_secret(&r, PASSWORD);
}

/// A key within the bounds but too large for them to be worth anything: refused too.
#[test]
fn an_rsa_modulus_over_8192_bits_is_refused() {
    let (fake, keys) = key_server(rsa_public_key_pem(16384, 17));
    let r = wr(&["-t", "2s", &key_url(&fake)]);
    assert!(
        keys.try_recv().is_ok(),
        "the fake never sent its key: {r:?}"
    );
    assert_exited(&r, 1);
    assert_within_deadline(&r, Duration::from_secs(2));
    assert!(r.stderr.contains("modulus"), "{r:?}");
    assert_no_secret(&r, PASSWORD);
}
