//! `file:///PATH`: ready when PATH exists (following symbolic links).
//!
//! Between attempts, an inotify watch on the nearest existing directory on the way
//! to PATH ends the pause as soon as PATH (or a directory leading to it) appears;
//! polling on the backoff stays as the fallback for what inotify cannot see, such as
//! a file written on an NFS server ([`super::watch`]).
//!
//! The file system call runs on the blocking pool, never on the runtime's thread: a
//! hung NFS or FUSE mount must stall neither the deadline nor the signals. While one
//! call for a path is still stuck, later attempts wait for that same call instead of
//! starting another, so a hung mount holds one thread, not one per attempt.

use super::error::{io_reason, ProbeError};
use super::kind::{Attempt, Check, Ctx, Kind};
use super::watch::Watch;
use crate::endpoint::local_path;
use crate::env::Env;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use url::Url;

/// The file kind.
pub struct File;

impl Kind for File {
    fn name(&self) -> &'static str {
        "file"
    }
    fn schemes(&self) -> &'static [&'static str] {
        &["file"]
    }
    fn forms(&self) -> &'static str {
        "file:///PATH"
    }
    fn help(&self) -> (&'static str, &'static str) {
        ("file:///PATH", "the path exists")
    }
    fn parse(&self, url: &Url, _env: &Env) -> Result<Box<dyn Check>, String> {
        Ok(Box::new(FileTarget::new(local_path(url)?)))
    }
}

/// A file target: the path that must exist, and the watch on the way to it.
#[derive(Debug)]
pub struct FileTarget {
    path: PathBuf,
    watch: Arc<Watch>,
}

impl FileTarget {
    /// A target for `path`.
    pub fn new(path: PathBuf) -> FileTarget {
        FileTarget {
            watch: Arc::new(Watch::new(path.clone())),
            path,
        }
    }

    /// The path that must exist.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

impl Check for FileTarget {
    fn probe<'a>(&'a self, _ctx: &'a Ctx) -> Attempt<'a> {
        Box::pin(async move {
            match stat::exists(&self.path, &self.watch).await {
                Some(Ok(true)) => Ok(()),
                Some(Ok(false)) => Err(ProbeError::transient("does not exist yet")),
                Some(Err(reason)) => Err(ProbeError::transient(reason)),
                None => Err(ProbeError::transient("the file system call failed to run")),
            }
        })
    }

    fn changed<'a>(&'a self) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(self.watch.changed())
    }
}

/// One `stat` in flight per path, shared by the attempts that ask meanwhile.
mod stat {
    use super::io_reason;
    use super::Watch;
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};
    use std::sync::{Arc, Mutex};
    use tokio::sync::watch;

    /// Whether the path exists, or why that could not be told.
    type Exists = Result<bool, String>;
    /// The answer of a call in flight: `None` until it returns.
    type Answer = watch::Receiver<Option<Exists>>;

    /// Calls still running, by path.
    static IN_FLIGHT: Mutex<Option<HashMap<PathBuf, Answer>>> = Mutex::new(None);

    /// Whether `path` exists; `None` when the call could not be started. `watch` is
    /// armed first, in the same call (its lookups may block just the same).
    pub async fn exists(path: &Path, watch: &Arc<Watch>) -> Option<Exists> {
        let mut answer = {
            let mut map = IN_FLIGHT.lock().unwrap_or_else(|p| p.into_inner());
            let map = map.get_or_insert_with(HashMap::new);
            match map.get(path) {
                Some(rx) => rx.clone(),
                None => {
                    let (tx, rx) = watch::channel(None);
                    map.insert(path.to_path_buf(), rx.clone());
                    let owned = path.to_path_buf();
                    let watch = watch.clone();
                    tokio::task::spawn_blocking(move || {
                        watch.arm();
                        let result = owned.try_exists().map_err(|e| io_reason(&e).into_owned());
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
