//! A byte stream that ends with an error once the server has sent a set number of
//! bytes: what bounds a PostgreSQL session's memory, since tokio-postgres buffers a
//! whole message (a row of any size) before it hands it over.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The most one session reads from the server: a login, a TLS handshake and the
/// first row of a `#query=` take a few KiB; 1 MiB leaves room for a large first row
/// while an attempt stays far under the contract's 16 MiB.
pub const SESSION_MAX: usize = 1 << 20;

/// The error a [`Capped`] stream returns once its budget is spent.
#[derive(Debug)]
pub struct OverCap;

impl std::fmt::Display for OverCap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the server sent over {} KiB", SESSION_MAX / 1024)
    }
}

impl std::error::Error for OverCap {}

/// `S`, of which at most `left` more bytes are read.
pub struct Capped<S> {
    inner: S,
    left: usize,
}

impl<S> Capped<S> {
    /// `inner`, read through [`SESSION_MAX`].
    pub fn new(inner: S) -> Self {
        Capped {
            inner,
            left: SESSION_MAX,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Capped<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        if this.left == 0 {
            return Poll::Ready(Err(io::Error::other(OverCap)));
        }
        let room = buf.remaining().min(this.left);
        let mut part = ReadBuf::new(buf.initialize_unfilled_to(room));
        ready!(Pin::new(&mut this.inner).poll_read(cx, &mut part))?;
        let n = part.filled().len();
        buf.advance(n);
        this.left -= n;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Capped<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, data)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn reads_stop_at_the_cap_with_an_error_of_its_own() {
        let (mut server, client) = tokio::io::duplex(64 * 1024);
        let writer = tokio::spawn(async move {
            let chunk = vec![7u8; 32 * 1024];
            while server.write_all(&chunk).await.is_ok() {}
        });
        let mut capped = Capped::new(client);
        let mut seen = 0usize;
        let mut buf = vec![0u8; 10_000];
        let err = loop {
            match capped.read(&mut buf).await {
                Ok(n) => seen += n,
                Err(e) => break e,
            }
        };
        assert_eq!(seen, SESSION_MAX);
        assert!(err.get_ref().is_some_and(|e| e.is::<OverCap>()), "{err}");
        drop(capped);
        writer.await.unwrap();
    }
}
