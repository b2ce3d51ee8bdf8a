//! Becoming COMMAND: execve through std's `CommandExt::exec`, which searches PATH,
//! passes argv byte for byte, keeps the environment and stdio, empties the signal
//! mask and resets SIGPIPE (which the Rust runtime ignores) to its default.

use crate::exit::Exit;
use std::ffi::OsString;
use std::io::{ErrorKind, Write};
use std::os::unix::process::CommandExt;
use std::process::Command;

/// Replaces this process with `argv`. Returns only when that failed, with the exit
/// status to use: 127 when the program is not found, 126 when it cannot be executed.
pub fn replace_process(argv: &[OsString]) -> Exit {
    let Some((program, args)) = argv.split_first() else {
        return Exit::Ready;
    };
    // No child of whenready's (an exec plugin still running) lives on as COMMAND's.
    crate::children::kill_all();
    let err = Command::new(program).args(args).exec();
    let shown = program.to_string_lossy();
    let (exit, why) = match err.kind() {
        ErrorKind::NotFound => (Exit::NotFound, "command not found".to_string()),
        ErrorKind::PermissionDenied => (Exit::CannotExecute, "permission denied".to_string()),
        _ => (Exit::CannotExecute, reason(&err)),
    };
    let _ = writeln!(std::io::stderr(), "whenready: cannot run {shown:?}: {why}");
    exit
}

/// The system's text for an error, lowercased, without the `(os error N)` noise.
fn reason(err: &std::io::Error) -> String {
    let text = err.to_string();
    let text = text.find(" (os error").map_or(&*text, |i| &text[..i]);
    text.to_lowercase()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_reason_is_the_system_text_without_its_number() {
        let e = std::io::Error::from_raw_os_error(8);
        assert_eq!(super::reason(&e), "exec format error");
    }
}
