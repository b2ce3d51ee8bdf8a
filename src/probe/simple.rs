//! The probes without a protocol: a TCP connection, a Unix socket connection, a path.

use super::error::{io_reason, ProbeError};
use super::net;
use crate::target::Endpoint;
use std::path::Path;

/// Ready when a TCP connection is established; it is then closed (FIN, not RST).
pub async fn tcp(ep: &Endpoint) -> Result<(), ProbeError> {
    let stream = net::connect(ep).await?;
    drop(stream);
    Ok(())
}

/// Ready when the Unix stream socket at `path` accepts a connection.
pub async fn unix(path: &Path) -> Result<(), ProbeError> {
    match tokio::net::UnixStream::connect(path).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(ProbeError::transient("no socket there yet"))
        }
        Err(e) => Err(ProbeError::transient(io_reason(&e))),
    }
}

/// Ready when `path` exists (following symbolic links).
///
/// The file system call runs on the blocking pool, never on the runtime's thread: a
/// hung NFS or FUSE mount must stall neither the deadline nor the signals. While one
/// call for a path is still stuck, later attempts wait for that same call instead of
/// starting another, so a hung mount holds one thread, not one per attempt.
pub async fn file(path: &Path) -> Result<(), ProbeError> {
    match stat::exists(path).await {
        Some(Ok(true)) => Ok(()),
        Some(Ok(false)) => Err(ProbeError::transient("does not exist yet")),
        Some(Err(reason)) => Err(ProbeError::transient(reason)),
        None => Err(ProbeError::transient("the file system call failed to run")),
    }
}

/// One `stat` in flight per path, shared by the attempts that ask meanwhile.
mod stat {
    use super::io_reason;
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;
    use tokio::sync::watch;

    /// Whether the path exists, or why that could not be told.
    type Exists = Result<bool, String>;
    /// The answer of a call in flight: `None` until it returns.
    type Answer = watch::Receiver<Option<Exists>>;

    /// Calls still running, by path.
    static IN_FLIGHT: Mutex<Option<HashMap<PathBuf, Answer>>> = Mutex::new(None);

    /// Whether `path` exists; `None` when the call could not be started.
    pub async fn exists(path: &Path) -> Option<Exists> {
        let mut answer = {
            let mut map = IN_FLIGHT.lock().unwrap_or_else(|p| p.into_inner());
            let map = map.get_or_insert_with(HashMap::new);
            match map.get(path) {
                Some(rx) => rx.clone(),
                None => {
                    let (tx, rx) = watch::channel(None);
                    map.insert(path.to_path_buf(), rx.clone());
                    let owned = path.to_path_buf();
                    tokio::task::spawn_blocking(move || {
                        let result = owned.try_exists().map_err(|e| io_reason(&e));
                        let mut map = IN_FLIGHT.lock().unwrap_or_else(|p| p.into_inner());
                        if let Some(map) = map.as_mut() {
                            map.remove(&owned);
                        }
                        let _ = tx.send(Some(result));
                    });
                    rx
                }
            }
        };
        let done = answer.wait_for(Option::is_some).await.ok()?;
        done.clone()
    }
}
