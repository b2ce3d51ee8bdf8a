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
pub async fn file(path: &Path) -> Result<(), ProbeError> {
    match path.try_exists() {
        Ok(true) => Ok(()),
        Ok(false) => Err(ProbeError::transient("does not exist yet")),
        Err(e) => Err(ProbeError::transient(io_reason(&e))),
    }
}
