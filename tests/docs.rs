//! The man page and shell completions that `whenready-docs` (built with the `docs`
//! feature: `cargo test --all-features`) makes from the same options table as the
//! binary's `--help`.

mod common;
use common::*;
use std::process::Command;
use std::time::Duration;

#[test]
fn man_page_and_completions_come_from_the_same_definition() {
    let docs = env!("CARGO_BIN_EXE_whenready-docs");
    let man = run(Command::new(docs).arg("man"), Duration::from_secs(10));
    assert_eq!(man.code, 0, "{man:?}");
    assert!(man.stdout.contains(".TH whenready 1"), "{man:?}");
    // The options are those `--help` lists (the binary's own text, not the table
    // the generator reads), and the table has those too.
    let help = wr(&["--help"]);
    let mut in_help: Vec<String> = help
        .stdout
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| w.starts_with("--") && w[2..].starts_with(|c: char| c.is_ascii_lowercase()))
        .map(String::from)
        .collect();
    in_help.sort();
    in_help.dedup();
    let mut in_table: Vec<String> = whenready::cli::OPTIONS
        .iter()
        .map(|o| format!("--{}", o.long))
        .collect();
    in_table.sort();
    assert_eq!(in_help, in_table, "--help and the options table differ");
    let completions: Vec<(&str, String)> = ["bash", "zsh", "fish", "elvish", "powershell"]
        .into_iter()
        .map(|shell| {
            let c = run(
                Command::new(docs).args(["completions", shell]),
                Duration::from_secs(10),
            );
            assert_eq!(c.code, 0, "{shell}: {c:?}");
            (shell, c.stdout)
        })
        .collect();
    // Every option has its entry in the man page (short form, long form, value
    // name, variable) and is completed by every shell.
    for o in whenready::cli::OPTIONS {
        let long = format!("\\fB\\-\\-{}\\fR", o.long.replace('-', "\\-"));
        let entry = match o.short {
            Some(c) => format!("\\fB\\-{c}\\fR, {long}"),
            None => long,
        };
        let line = man
            .stdout
            .lines()
            .find(|l| l.starts_with(&entry))
            .unwrap_or_else(|| panic!("--{} has no entry {entry:?} in the man page", o.long));
        if let Some(value) = o.value {
            assert!(line.contains(&format!("<{value}>")), "--{}: {line}", o.long);
        }
        if let Some(var) = o.var() {
            assert!(
                man.stdout.contains(&format!("[env: {var}]")),
                "--{}: {var} is not in the man page",
                o.long
            );
        }
        for (shell, text) in &completions {
            let form = match *shell {
                "fish" => format!("-l {}", o.long),
                _ => format!("--{}", o.long),
            };
            assert!(
                text.contains(&form),
                "{shell} does not complete --{}",
                o.long
            );
        }
    }
    let bad = run(
        Command::new(docs).args(["completions", "tcsh"]),
        Duration::from_secs(10),
    );
    assert_eq!(bad.code, 2, "{bad:?}");
}
