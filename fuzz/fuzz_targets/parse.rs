//! Every parser of user input, on arbitrary bytes: targets (all schemes), durations,
//! status lists, whole whenready command lines, and the drop-in personalities'
//! parsers: wait-for-it's and wait-for's command lines and docker-compose-wait's
//! WAIT_* variables. Arguments (and variables) are split at 0x1f. No panic; every
//! error one non-empty line; no secret echoed: the bytes 0x1e and 0x1d become
//! `://u:CANARY@` and `?password=CANARY` in what the personalities see, and CANARY
//! must never come back in a message or a shown target name.
#![no_main]

use clap::Parser;
use libfuzzer_sys::fuzz_target;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use whenready::cli::Cli;
use whenready::compat::{compose_wait, wait_for, wait_for_it, Stop};
use whenready::config::Config;
use whenready::probe::http::StatusSet;
use whenready::env::Env;
use whenready::target::Target;

const CANARY: &str = "FuzzCanary9pw";

/// docker-compose-wait's variables, in the order the fields of the input set them.
const WAIT_VARS: [&str; 12] = [
    "WAIT_HOSTS",
    "WAIT_PATHS",
    "WAIT_TIMEOUT",
    "WAIT_COMMAND",
    "WAIT_BEFORE",
    "WAIT_AFTER",
    "WAIT_SLEEP_INTERVAL",
    "WAIT_HOST_CONNECT_TIMEOUT",
    "WAIT_LOGGER_LEVEL",
    "WAIT_HOSTS_TIMEOUT",
    "WAIT_BEFORE_HOSTS",
    "WAIT_AFTER_HOSTS",
];

fn one_line(e: &str) {
    assert!(!e.trim().is_empty() && !e.contains('\n'), "bad error message: {e:?}");
}

fn no_secret(e: &str) {
    assert!(!e.contains(CANARY), "secret echoed: {e:?}");
}

/// The input with the secret-bearing units spliced in (bytes, not text: non-UTF-8
/// arguments reach the personalities too).
fn with_secrets(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 32);
    for &b in data {
        match b {
            0x1e => out.extend_from_slice(format!("://u:{CANARY}@").as_bytes()),
            0x1d => out.extend_from_slice(format!("?password={CANARY}").as_bytes()),
            _ => out.push(b),
        }
    }
    out
}

fn argv(program: &str, data: &[u8]) -> Vec<OsString> {
    std::iter::once(OsString::from(program))
        .chain(data.split(|&b| b == 0x1f).map(|a| OsString::from_vec(a.to_vec())))
        .collect()
}

fn stopped(stop: Stop, codes: &[i32]) {
    if let Stop::Usage { message, exit } = stop {
        one_line(&message);
        no_secret(&message);
        assert!(codes.contains(&exit.code()), "exit {} for {message:?}", exit.code());
    }
}

fn personalities(data: &[u8]) {
    let env = Env::default();
    match wait_for::parse(&argv("wait-for", data), &env) {
        // Names the personality made itself (HOST:PORT); a URL's name is
        // Target::parse's masked URL, where CANARY may stand in a path and be no
        // password (its masking is tested in tests/parsers.rs).
        Ok(a) => a
            .targets
            .iter()
            .filter(|t| !t.shown.contains("://"))
            .for_each(|t| no_secret(&t.shown)),
        Err(stop) => stopped(stop, &[1, 2, 3]),
    }
    match wait_for_it::parse(&argv("wait-for-it.sh", data)) {
        Ok(a) => {
            no_secret(&a.target.shown);
            // One decision for "is there a command" and what runs.
            assert!(a.command.first().is_none_or(|c| !c.is_empty()));
        }
        Err(stop) => stopped(stop, &[1]),
    }
    let text = String::from_utf8_lossy(data);
    let pairs: Vec<(&str, &str)> = WAIT_VARS.iter().copied().zip(text.split('\u{1f}')).collect();
    let env = Env::from_pairs(&pairs);
    match compose_wait::parse(&argv("wait", b""), &env) {
        Ok(s) => {
            // WAIT_PATHS entries (after the hosts, which are URLs or HOST:PORT).
            s.targets[s.hosts..].iter().for_each(|t| no_secret(&t.shown));
            s.warnings.iter().for_each(|w| no_secret(w));
        }
        Err(e) => {
            one_line(&e);
            no_secret(&e);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // CANARY written out in the input is no secret (libFuzzer finds the string in
    // the binary); only the spliced units are.
    if !data.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()) {
        personalities(&with_secrets(data));
    }
    let Ok(text) = std::str::from_utf8(data) else { return };
    let env = Env::default();
    if let Err(e) = Target::parse(text, &env) {
        one_line(&e.to_string());
    }
    let _ = whenready::duration::parse(text);
    if let Err(e) = StatusSet::parse(text) {
        one_line(&e);
    }
    let argv = std::iter::once("whenready").chain(text.split('\u{1f}'));
    if let Ok(cli) = Cli::try_parse_from(argv) {
        if let Err(e) = Config::from_cli(cli, &env) {
            one_line(&e.0);
        }
    }
});
