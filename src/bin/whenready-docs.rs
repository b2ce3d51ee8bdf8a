//! Generates whenready's man page and shell completions from the same command-line
//! definition as the binary (src/cli.rs), so they cannot drift:
//!
//! ```text
//! cargo run --bin whenready-docs -- man > whenready.1
//! cargo run --bin whenready-docs -- completions bash > /etc/bash_completion.d/whenready
//! ```
//!
//! Shells: bash, zsh, fish, elvish, powershell.

use std::io::Write;
use std::process::ExitCode;
use whenready::cli;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut cmd = cli::command();
    let mut out = std::io::stdout().lock();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["man"] => {
            if let Err(e) = clap_mangen::Man::new(cmd).render(&mut out) {
                eprintln!("whenready-docs: cannot write the man page: {e}");
                return ExitCode::FAILURE;
            }
        }
        ["completions", shell] => {
            let Ok(shell) = shell.parse::<clap_complete::Shell>() else {
                eprintln!("whenready-docs: unknown shell {shell:?}: use bash, zsh, fish, elvish or powershell");
                return ExitCode::from(2);
            };
            clap_complete::generate(shell, &mut cmd, "whenready", &mut out);
        }
        _ => {
            eprintln!("usage: whenready-docs man | whenready-docs completions SHELL");
            return ExitCode::from(2);
        }
    }
    let _ = out.flush();
    ExitCode::SUCCESS
}
