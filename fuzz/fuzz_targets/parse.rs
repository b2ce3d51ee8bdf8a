//! Every parser of user input, on arbitrary bytes: targets (all schemes), durations,
//! status lists, whole whenready command lines (arguments split at 0x1f), and the
//! drop-in personalities' command lines. No panic; every error one non-empty line.
#![no_main]

use clap::Parser;
use libfuzzer_sys::fuzz_target;
use whenready::cli::Cli;
use whenready::config::{Config, StatusSet};
use whenready::env::Env;
use whenready::target::Target;

fn one_line(e: &str) {
    assert!(!e.trim().is_empty() && !e.contains('\n'), "bad error message: {e:?}");
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let env = Env::default();
    if let Err(e) = Target::parse(text, &env) {
        one_line(&e);
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
