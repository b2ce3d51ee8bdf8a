//! `unix:///PATH`: ready when the Unix stream socket at PATH accepts a connection.
//!
//! Between attempts, an inotify watch on the nearest existing directory on the way
//! to PATH ends the pause as soon as the socket is bound there (bind() creates it);
//! polling on the backoff stays as the fallback, e.g. for a socket file that already
//! exists while its server has not started listening ([`super::watch`]).

use super::error::{io_reason, ProbeError};
use super::kind::{Attempt, Check, Ctx, Kind};
use super::watch::Watch;
use crate::endpoint::local_path;
use crate::env::Env;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use url::Url;

/// The Unix socket kind.
pub struct Unix;

impl Kind for Unix {
    fn name(&self) -> &'static str {
        "unix"
    }
    fn schemes(&self) -> &'static [&'static str] {
        &["unix"]
    }
    fn forms(&self) -> &'static str {
        "unix:///PATH"
    }
    fn help(&self) -> (&'static str, &'static str) {
        ("unix:///PATH", "the Unix socket accepts a connection")
    }
    fn parse(&self, url: &Url, _env: &Env) -> Result<Box<dyn Check>, String> {
        let path = local_path(url)?;
        Ok(Box::new(UnixTarget {
            watch: Watch::new(path.clone()),
            path,
        }))
    }
}

/// A Unix socket target: the socket's path, and the watch on the way to it.
#[derive(Debug)]
pub struct UnixTarget {
    path: PathBuf,
    watch: Watch,
}

impl Check for UnixTarget {
    fn probe<'a>(&'a self, _ctx: &'a Ctx) -> Attempt<'a> {
        Box::pin(async move {
            // Armed before the connect, so a socket bound in between is not missed
            // (its lookups are those the connect makes anyway).
            self.watch.arm();
            match tokio::net::UnixStream::connect(&self.path).await {
                Ok(_) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    Err(ProbeError::transient("no socket there yet"))
                }
                Err(e) => Err(ProbeError::transient(io_reason(&e))),
            }
        })
    }

    fn changed<'a>(&'a self) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(self.watch.changed())
    }
}
