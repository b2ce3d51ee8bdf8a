//! Property tests of every parser a user's input reaches: targets, durations, status
//! lists and whole command lines never panic; every error is one line that says
//! something; a password never survives into what is shown. The long-running fuzzer
//! over the same entry points is `fuzz/run.sh` (cargo-fuzz).

use clap::Parser;
use proptest::prelude::*;
use whenready::cli::Cli;
use whenready::config::{Config, StatusSet};
use whenready::duration;
use whenready::env::Env;
use whenready::target::Target;

fn one_line(e: &str) {
    assert!(!e.trim().is_empty(), "empty error");
    assert!(!e.contains('\n'), "multi-line error: {e:?}");
}

/// Strings that look like the inputs: URL pieces, separators, digits, brackets.
fn targetish() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "postgres://",
        "postgresql://",
        "redis://",
        "rediss://",
        "nats://",
        "mqtt://",
        "mqtts://",
        "amqp://",
        "amqps://",
        "http://",
        "https://",
        "tcp://",
        "unix://",
        "file://",
        "mysql://",
        "user",
        ":",
        "@",
        "/",
        "?",
        "&",
        "=",
        "#",
        "[",
        "]",
        "::1",
        "127.0.0.1",
        "localhost",
        "db",
        "5432",
        "65536",
        "0",
        "-1",
        "%2F",
        "%zz",
        "sslmode",
        "verify-full",
        "password",
        "host",
        ",",
        " ",
        "é",
        "\u{0}",
        "*",
        "..",
        "1e3",
        "\n",
        "\u{1b}[31m",
        "\t",
    ]);
    prop::collection::vec(pieces, 0..12).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn targets_never_panic(text in targetish()) {
        if let Err(e) = Target::parse(&text, &Env::default()) {
            one_line(&e);
        }
    }

    #[test]
    fn arbitrary_targets_never_panic(text in any::<String>()) {
        if let Err(e) = Target::parse(&text, &Env::default()) {
            one_line(&e);
        }
    }

    #[test]
    fn durations_never_panic(text in "[0-9.a-z ]{0,12}") {
        let _ = duration::parse(&text);
    }

    #[test]
    fn status_lists_never_panic(text in "[0-9,\\- a]{0,16}") {
        if let Err(e) = StatusSet::parse(&text) {
            one_line(&e);
        }
    }

    #[test]
    fn command_lines_never_panic(args in prop::collection::vec(prop_oneof![
        targetish(),
        Just("-t".to_string()), Just("--timeout".to_string()), Just("--interval".to_string()),
        Just("--attempt-timeout".to_string()), Just("--http-status".to_string()), Just("--once".to_string()),
        Just("-q".to_string()), Just("--".to_string()), "[0-9a-z.]{0,5}",
    ], 0..8)) {
        let argv = std::iter::once("whenready".to_string()).chain(args);
        if let Ok(cli) = Cli::try_parse_from(argv) {
            if let Err(e) = Config::from_cli(cli, &Env::default()) {
                one_line(&e.0);
            }
        }
    }

    #[test]
    fn passwords_are_never_shown(
        scheme in prop::sample::select(vec!["postgres", "postgresql", "redis", "rediss", "nats", "mqtt", "mqtts", "amqp", "amqps", "http", "https"]),
        password in "Pw[A-Za-z0-9!$&'()*+,;=~_.-]{10,20}",
        port in prop::option::of(0u32..70000),
        query in prop::sample::select(vec!["", "?sslmode=disable", "?bogus=1", "?password=SAME"]),
    ) {
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        let query = query.replace("SAME", &password);
        let text = format!("{scheme}://user:{password}@db{port}/app{query}");
        match Target::parse(&text, &Env::default()) {
            Ok(t) => {
                prop_assert!(!t.shown.contains(&password), "{}", t.shown);
                let debug = format!("{:?}", t);
                prop_assert!(!debug.contains(&password));
            }
            Err(e) => prop_assert!(!e.contains(&password), "{e}"),
        }
    }

    #[test]
    fn nats_tokens_are_never_shown(
        token in "Tk[A-Za-z0-9!$&'()*+,;=~_.-]{10,20}",
        port in prop::option::of(0u32..70000),
        query in prop::sample::select(vec!["", "?tls=true", "?bogus=1", "?tls=maybe"]),
    ) {
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        let text = format!("nats://{token}@broker{port}{query}");
        match Target::parse(&text, &Env::default()) {
            Ok(t) => {
                prop_assert!(!t.shown.contains(&token), "{}", t.shown);
                let debug = format!("{:?}", t);
                prop_assert!(!debug.contains(&token));
            }
            Err(e) => prop_assert!(!e.contains(&token), "{e}"),
        }
    }
}
