//! Generates whenready's man page and shell completions from the same command-line
//! table as the binary (`whenready::cli::OPTIONS`), so they cannot drift. clap
//! renders them; the binary itself parses with lexopt (see src/cli.rs).
//!
//! ```text
//! cargo run --features docs --bin whenready-docs -- man > whenready.1
//! cargo run --features docs --bin whenready-docs -- completions bash > /etc/bash_completion.d/whenready
//! ```
//!
//! Shells: bash, zsh, fish, elvish, powershell.

use clap::{Arg, ArgAction, Command};
use std::io::Write;
use std::process::ExitCode;
use whenready::cli;

/// whenready's command line as clap sees it: every row of the table, the two
/// positional arguments, the version and the long help's sections.
fn command() -> Command {
    let mut cmd = Command::new(cli::NAME)
        .version(&*cli::version().leak())
        .about(cli::ABOUT)
        .long_about(format!("{}.\n\n{}", cli::ABOUT, cli::LONG_ABOUT))
        .override_usage(cli::USAGE)
        .after_help(cli::AFTER_SHORT_HELP)
        .after_long_help(cli::after_long_help())
        .disable_help_flag(true)
        .disable_version_flag(true);
    let [(target, target_help), (command, command_help)] = cli::ARGUMENTS;
    cmd = cmd.arg(
        Arg::new(target)
            .value_name(target)
            .help(target_help)
            .num_args(0..)
            .action(ArgAction::Append),
    );
    for o in cli::OPTIONS {
        let mut arg = Arg::new(o.long).long(o.long).help(o.help_line());
        if let Some(c) = o.short {
            arg = arg.short(c);
        }
        arg = match (o.long, o.value) {
            ("help", _) => arg.action(ArgAction::Help),
            ("version", _) => arg.action(ArgAction::Version),
            (_, None) => arg.action(ArgAction::SetTrue),
            (_, Some(name)) => {
                let arg = arg.value_name(name).action(ArgAction::Set);
                if name == "FILE" {
                    arg.value_hint(clap::ValueHint::FilePath)
                } else {
                    arg
                }
            }
        };
        cmd = cmd.arg(arg);
    }
    cmd.arg(
        Arg::new(command)
            .value_name(command)
            .help(command_help)
            .num_args(0..)
            .last(true)
            .value_hint(clap::ValueHint::CommandWithArguments),
    )
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut cmd = command();
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

#[cfg(test)]
mod tests {
    #[test]
    fn definition_is_consistent() {
        super::command().debug_assert();
    }
}
