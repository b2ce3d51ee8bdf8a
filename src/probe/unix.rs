//! `unix:///PATH`: ready when the Unix stream socket at PATH accepts a connection.

use super::error::{io_reason, ProbeError};
use super::{Attempt, Check, Ctx, Kind};
use crate::env::Env;
use crate::target::local_path;
use std::path::PathBuf;
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
        Ok(Box::new(UnixTarget(local_path(url)?)))
    }
}

/// A Unix socket target: the socket's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixTarget(pub PathBuf);

impl Check for UnixTarget {
    fn probe<'a>(&'a self, _ctx: &'a Ctx) -> Attempt<'a> {
        Box::pin(async move {
            match tokio::net::UnixStream::connect(&self.0).await {
                Ok(_) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    Err(ProbeError::transient("no socket there yet"))
                }
                Err(e) => Err(ProbeError::transient(io_reason(&e))),
            }
        })
    }
}
