//! mysql:// against servers a real MySQL or MariaDB cannot be made to imitate (fakes
//! on 127.0.0.1): an RSA key with a huge public exponent or modulus (the deadline
//! and SIGTERM must still hold, memory stays bounded); a switch to a method that
//! sends the password as it is, over no TLS or TLS whose certificate was not
//! verified (the password must not leave); the verifying ssl-modes without a CA (a
//! usage error before any attempt).

mod common;
use common::hostile::*;
use common::mysql_fake::*;
use common::*;
use std::io::Write;
use std::sync::mpsc;
use std::time::{Duration, Instant};

const PASSWORD: &str = "Hostile-Canary-9b2e";

/// `mode` (say `--json`), then `-t 30s URL`.
fn args<'a>(mode: &[&'a str], url: &'a str) -> Vec<&'a str> {
    mode.iter().copied().chain(["-t", "30s", url]).collect()
}

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
/// The largest modulus whenready accepts, so that the exponent is what it refuses
/// (with it, the old release binary took 15.9 s for `-t 5s`).
const MODULUS_BITS: usize = 8192;

#[test]
fn a_huge_rsa_exponent_does_not_hold_the_deadline() {
    let (fake, keys) = key_server(rsa_public_key_pem(MODULUS_BITS, HUGE_EXPONENT_BITS));
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
    let (fake, keys) = key_server(rsa_public_key_pem(MODULUS_BITS, HUGE_EXPONENT_BITS));
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

/// A fake offering TLS with `certs`' certificate that switches the login to
/// `plugin`; whatever the client then sends is recorded in `log` and answered with
/// OK (so a client that sent the password would be ready).
fn switching_server(plugin: &'static str, certs: &Certs, log: &Received) -> Fake {
    let config = tls_server(certs);
    let log = log.clone();
    Fake::start(move |s, _| {
        let Some(mut c) = accept_tls(s, "mysql_native_password", &config, &log) else {
            return;
        };
        if read_packet(&mut c).is_none() {
            return;
        }
        let _ = c.write_all(&packet(3, &auth_switch(plugin)));
        let _ = c.flush();
        if read_packet(&mut c).is_some() {
            finish_login(&mut c, 5);
        }
    })
}

#[test]
fn no_password_in_clear_to_an_unverified_certificate() {
    let certs = certs(&["127.0.0.1"]);
    for plugin in ["mysql_clear_password", "sha256_password"] {
        for mode in [&[][..], &["--json"]] {
            for query in ["", "?ssl-mode=REQUIRED", "?ssl-mode=PREFERRED"] {
                let log = Received::default();
                let fake = switching_server(plugin, &certs, &log);
                let url = format!("mysql://app:{PASSWORD}@{}/app{query}", fake.addr());
                let r = run(
                    whenready().args(mode).args(["-t", "30s", &url]),
                    Duration::from_secs(40),
                );
                assert!(log.len() > 0, "the fake got nothing: {r:?}");
                assert!(
                    !log.contains(PASSWORD.as_bytes()),
                    "{plugin} {query}: the password reached an unverified peer: {r:?}"
                );
                assert_exited(&r, 3);
                assert!(r.elapsed < Duration::from_secs(10), "at once: {r:?}");
                assert!(r.stderr.contains(plugin), "{r:?}");
                assert!(
                    r.stderr.contains("ssl-mode=VERIFY_IDENTITY") && r.stderr.contains("ssl-ca"),
                    "says how to allow it: {r:?}"
                );
                assert_no_secret(&r, PASSWORD);
                assert_no_forged_line(&r, "whenready: db ready", 600);
            }
        }
    }
    // Without TLS at all, the same.
    let log = Received::default();
    let log2 = log.clone();
    let fake = Fake::start(move |s, _| {
        let mut c = Recording::new(s, &log2);
        let _ = c.write_all(&packet(0, &greeting("mysql_native_password", SERVER_CAPS)));
        if read_packet(&mut c).is_some() {
            let _ = c.write_all(&packet(2, &auth_switch("mysql_clear_password")));
            let _ = read_packet(&mut c);
        }
    });
    let url = format!("mysql://app:{PASSWORD}@{}/app", fake.addr());
    let r = wr(&["-t", "30s", &url]);
    assert_exited(&r, 3);
    assert!(!log.contains(PASSWORD.as_bytes()), "{r:?}");
    assert!(r.stderr.contains("ssl-mode=VERIFY_IDENTITY"), "{r:?}");
}

#[test]
fn the_password_in_clear_goes_to_a_verified_certificate() {
    let certs = certs(&["127.0.0.1"]);
    for plugin in ["mysql_clear_password", "sha256_password"] {
        for mode in ["VERIFY_IDENTITY", "VERIFY_CA"] {
            let log = Received::default();
            let fake = switching_server(plugin, &certs, &log);
            let url = format!(
                "mysql://app:{PASSWORD}@{}/app?ssl-mode={mode}&ssl-ca={}",
                fake.addr(),
                certs.ca.display()
            );
            for json in [&[][..], &["--json"]] {
                let r = wr(&args(json, &url));
                assert_exited(&r, 0);
                assert_no_secret(&r, PASSWORD);
            }
            let mut sent = PASSWORD.as_bytes().to_vec();
            sent.push(0);
            assert!(log.contains(&sent), "{plugin} under {mode}");
        }
    }
}

#[test]
fn verifying_modes_without_a_ca_are_a_usage_error_before_any_attempt() {
    let fake = Fake::start(silent);
    for mode in ["VERIFY_CA", "verify_identity"] {
        let url = format!("mysql://app:{PASSWORD}@{}/app?ssl-mode={mode}", fake.addr());
        for json in [&[][..], &["--json"]] {
            let r = wr(&args(json, &url));
            assert_exited(&r, 2);
            assert!(r.stderr.contains("needs ssl-ca"), "{r:?}");
            assert!(
                r.stderr.contains("mysql://app:***@127.0.0.1"),
                "names the target: {r:?}"
            );
            assert_eq!(r.stderr.lines().count(), 1, "one line: {r:?}");
            assert_no_secret(&r, PASSWORD);
        }
    }
    assert_eq!(fake.connections_so_far(), 0, "no attempt was made");
}
