//! Connecting to HOST:PORT the way the contract asks: resolve the name again at every
//! attempt, try every address at once (IPv4 and IPv6), take the first that answers.

use super::error::{io_reason, ProbeError};
use crate::target::{Endpoint, Host};
use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketFlags, SocketType};
use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::sync::Mutex;
use tokio::net::TcpStream;
use tokio::task::JoinSet;

/// The addresses of an endpoint, resolved now. A name that does not resolve (yet)
/// is a transient failure: DNS records appear late in compose and Kubernetes.
pub async fn resolve(ep: &Endpoint) -> Result<Vec<SocketAddr>, ProbeError> {
    match &ep.host {
        Host::Ip(ip) => Ok(vec![SocketAddr::new(*ip, ep.port)]),
        Host::Name(name) => {
            let not_resolved =
                |why: String| ProbeError::transient(format!("{name:?} does not resolve ({why})"));
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), ep.port))
                .await
                .map_err(|e| {
                    let text = e.to_string();
                    let text = text
                        .strip_prefix("failed to lookup address information: ")
                        .unwrap_or(&text);
                    not_resolved(text.to_lowercase())
                })?
                .collect();
            if addrs.is_empty() {
                return Err(not_resolved("no addresses".into()));
            }
            Ok(addrs)
        }
    }
}

/// Opens a TCP connection to the first address of `ep` that accepts. The addresses
/// are raced, so that one that drops SYNs cannot hide one that answers: the first
/// on the attempt's own descriptor, the others on spare sockets
/// ([`crate::limits::spare_sockets`]) while there are any; when there are too few,
/// the next address starts as soon as one fails.
pub async fn connect(ep: &Endpoint) -> Result<TcpStream, ProbeError> {
    let addrs = match ep.host {
        Host::Ip(ip) => return connect_one(SocketAddr::new(ip, ep.port)).await,
        Host::Name(_) => resolve(ep).await?,
    };
    // One address (an IP target, or a name with one record): nothing to race, so
    // connect right here, without a task for it.
    if let [addr] = addrs[..] {
        return connect_one(addr).await;
    }
    let spare = crate::limits::spare_sockets();
    let mut waiting = addrs.into_iter();
    let mut attempts = JoinSet::new();
    let start = |attempts: &mut JoinSet<_>, addr: SocketAddr, permit| {
        attempts.spawn(async move { (addr, connect_to(addr).await, permit) });
    };
    if let Some(first) = waiting.next() {
        start(&mut attempts, first, None);
    }
    while waiting.len() > 0 {
        let Ok(permit) = spare.try_acquire() else {
            break;
        };
        if let Some(addr) = waiting.next() {
            start(&mut attempts, addr, Some(permit));
        }
    }
    let mut errors: Vec<(SocketAddr, String)> = Vec::new();
    while let Some(joined) = attempts.join_next().await {
        match joined {
            Ok((_, Ok(stream), _)) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Ok((addr, Err(e), permit)) => {
                errors.push((addr, io_reason(&e).into_owned()));
                // Its descriptor is free again: the next address takes it.
                if let Some(next) = waiting.next() {
                    start(&mut attempts, next, permit);
                }
            }
            // A connect task panicked: never expected; its permit is gone with it.
            Err(e) => errors.push((SocketAddr::from(([0, 0, 0, 0], 0)), e.to_string())),
        }
    }
    Err(ProbeError::transient(summarize(errors)))
}

/// Connects to the one address there is.
async fn connect_one(addr: SocketAddr) -> Result<TcpStream, ProbeError> {
    match connect_to(addr).await {
        Ok(stream) => {
            let _ = stream.set_nodelay(true);
            Ok(stream)
        }
        Err(e) => Err(ProbeError::transient(io_reason(&e))),
    }
}

/// Sockets whose last connect was refused within the call, disconnected and kept for
/// the next attempt, one per address family (IPv4, IPv6). After a wake-up from a
/// pause, making a fresh socket and closing it cost about a third of a refused
/// attempt's CPU (the kernel's caches have gone cold while idle); a socket
/// disconnected with `connect(AF_UNSPEC)` is as good as new: no address, no port
/// (the next connect picks another), no state (README, Performance). Without the
/// disconnect, Linux fails every second connect on such a socket with ECONNABORTED.
struct Idle(Mutex<[Option<OwnedFd>; 2]>);

/// This process's idle sockets, shared by every attempt ([`begin`]).
static IDLE: Idle = Idle(Mutex::new([None, None]));

impl Idle {
    fn slot(addr: &SocketAddr) -> usize {
        match addr {
            SocketAddr::V4(_) => 0,
            SocketAddr::V6(_) => 1,
        }
    }

    /// The idle socket for `addr`'s family, or a new one.
    fn take(&self, addr: &SocketAddr) -> io::Result<OwnedFd> {
        let idle = self
            .0
            .lock()
            .ok()
            .and_then(|mut idle| idle[Self::slot(addr)].take());
        if let Some(fd) = idle {
            return Ok(fd);
        }
        let family = match addr {
            SocketAddr::V4(_) => AddressFamily::INET,
            SocketAddr::V6(_) => AddressFamily::INET6,
        };
        let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
        Ok(rustix::net::socket_with(
            family,
            SocketType::STREAM,
            flags,
            None,
        )?)
    }

    /// Keeps `fd`, refused by `addr`, for the next attempt (or closes it, when it
    /// cannot be disconnected or another is kept already).
    fn keep(&self, addr: &SocketAddr, fd: OwnedFd) {
        if rustix::net::connect_unspec(&fd).is_ok() {
            if let Ok(mut idle) = self.0.lock() {
                idle[Self::slot(addr)].get_or_insert(fd);
            }
        }
    }

    /// Starts a non-blocking connect to `addr` and looks at the socket's error right
    /// after `connect()`: a port nobody listens on at a local address is refused
    /// within the call itself (loopback answers the SYN at once), which is returned
    /// as the error, and the socket is kept. Otherwise the handshake is under way,
    /// or already done.
    fn begin(&self, addr: SocketAddr) -> io::Result<OwnedFd> {
        let fd = self.take(&addr)?;
        let failed = match rustix::net::connect(&fd, &addr) {
            // Reading the error clears it; none yet means the handshake is under
            // way (or done).
            Ok(()) | Err(Errno::INPROGRESS) => rustix::net::sockopt::socket_error(&fd)?.err(),
            Err(e) => Some(e),
        };
        match failed {
            None => Ok(fd),
            Some(e) => {
                if e == Errno::CONNREFUSED {
                    self.keep(&addr, fd);
                }
                Err(e.into())
            }
        }
    }
}

/// [`Idle::begin`] with this process's idle sockets.
fn begin(addr: SocketAddr) -> io::Result<OwnedFd> {
    IDLE.begin(addr)
}

/// Opens a TCP connection to `addr`, as `TcpStream::connect` does, but a refusal
/// that [`begin`] already knows closes the socket without registering it with the
/// runtime's epoll, which saves three system calls and a turn of the event loop
/// per attempt. Any other connection is awaited as usual.
async fn connect_to(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::from_std(std::net::TcpStream::from(begin(addr)?))?;
    stream.writable().await?;
    match stream.take_error()? {
        Some(e) => Err(e),
        None => Ok(stream),
    }
}

/// A connection to `ep` decided without waiting, where the kernel decides it
/// within `connect()`: an address of this host's loopback (`127.0.0.0/8`, `::1`),
/// where the SYN is answered inside the call, with a connection or a refusal.
/// `None` for a name (resolving may block), another address (the answer takes a
/// round trip), or a loopback handshake the call did not finish (a listener whose
/// backlog is full); that attempt's socket is closed, and the caller makes the
/// attempt again on the runtime. An established connection is returned open.
pub fn connect_now(ep: &Endpoint) -> Option<Result<OwnedFd, ProbeError>> {
    let Host::Ip(ip) = ep.host else {
        return None;
    };
    if !ip.is_loopback() {
        return None;
    }
    match begin(SocketAddr::new(ip, ep.port)) {
        Err(e) => Some(Err(ProbeError::transient(io_reason(&e)))),
        // A socket whose handshake is complete has a peer; one still in SYN_SENT
        // has none (ENOTCONN).
        Ok(fd) => rustix::net::getpeername(&fd).ok().map(|_| Ok(fd)),
    }
}

/// One reason for all addresses: the reason alone when they agree, else per address.
fn summarize(mut errors: Vec<(SocketAddr, String)>) -> String {
    errors.sort();
    let first = errors.first().map(|(_, r)| r.clone()).unwrap_or_default();
    if errors.iter().all(|(_, r)| *r == first) {
        return first;
    }
    errors
        .iter()
        .map(|(a, r)| format!("{a}: {r}"))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The inode of a socket: the same one across attempts means the same socket.
    fn inode(fd: &OwnedFd) -> u64 {
        rustix::fs::fstat(fd).unwrap().st_ino
    }

    #[test]
    fn a_refused_socket_is_disconnected_and_serves_the_next_attempts() {
        let mut addrs = vec!["127.0.0.1:0"];
        if std::net::TcpListener::bind("[::1]:0").is_ok() {
            addrs.push("[::1]:0");
        }
        for any in addrs {
            let idle = Idle(Mutex::new([None, None]));
            let free = std::net::TcpListener::bind(any).unwrap();
            let refused = free.local_addr().unwrap();
            drop(free);
            let e = idle.begin(refused).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{any}: {e}");
            let kept = inode(
                idle.0.lock().unwrap()[Idle::slot(&refused)]
                    .as_ref()
                    .unwrap(),
            );
            // Again and again: refused each time (not ECONNABORTED), the same socket.
            for _ in 0..3 {
                let e = idle.begin(refused).unwrap_err();
                assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{any}: {e}");
                let slot = idle.0.lock().unwrap();
                assert_eq!(inode(slot[Idle::slot(&refused)].as_ref().unwrap()), kept);
            }
            // The kept socket connects to a port that listens, from a port of its own.
            let listener = std::net::TcpListener::bind(any).unwrap();
            let open = listener.local_addr().unwrap();
            let fd = idle.begin(open).unwrap();
            assert_eq!(inode(&fd), kept, "{any}");
            assert!(idle.0.lock().unwrap()[Idle::slot(&open)].is_none());
            let stream = std::net::TcpStream::from(fd);
            stream.set_nonblocking(false).unwrap();
            let (_, from) = listener.accept().unwrap();
            assert_eq!(from, stream.local_addr().unwrap(), "{any}");
            assert_ne!(from.port(), 0);
        }
    }

    #[tokio::test]
    async fn connect_to_reports_a_refusal_and_opens_a_listening_port() {
        // A port that was just free: nobody listens there (a refusal, found at once
        // or through the runtime, depending on the kernel's timing).
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let refused = free.local_addr().unwrap();
        drop(free);
        let e = connect_to(refused).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e}");
        assert_eq!(io_reason(&e), "connection refused");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stream = connect_to(addr).await.unwrap();
        assert_eq!(stream.peer_addr().unwrap(), addr);
        let (_, from) = listener.accept().unwrap();
        assert_eq!(from, stream.local_addr().unwrap());
        // IPv6 too, where the machine has it.
        if let Ok(v6) = std::net::TcpListener::bind("[::1]:0") {
            let addr = v6.local_addr().unwrap();
            assert_eq!(connect_to(addr).await.unwrap().peer_addr().unwrap(), addr);
        }
    }

    #[test]
    fn a_loopback_connect_is_decided_at_once() {
        let ep = |host: &str, port| Endpoint {
            host: crate::target::parse_host(host).unwrap(),
            port,
        };
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let refused = free.local_addr().unwrap().port();
        drop(free);
        let e = connect_now(&ep("127.0.0.1", refused)).unwrap().unwrap_err();
        assert_eq!(e.reason, "connection refused");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let fd = connect_now(&ep("127.0.0.1", port)).unwrap().unwrap();
        let (_, from) = listener.accept().unwrap();
        let stream = std::net::TcpStream::from(fd);
        assert_eq!(stream.local_addr().unwrap(), from);
        // A name is resolved on the runtime, and another address answers only
        // after a round trip: neither is tried here (nothing is sent).
        assert!(connect_now(&ep("localhost", port)).is_none());
        assert!(connect_now(&ep("192.0.2.1", port)).is_none());
    }

    #[test]
    fn agreeing_reasons_are_said_once() {
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let b: SocketAddr = "[::1]:1".parse().unwrap();
        assert_eq!(
            summarize(vec![
                (a, "connection refused".into()),
                (b, "connection refused".into())
            ]),
            "connection refused"
        );
        assert_eq!(
            summarize(vec![(b, "x".into()), (a, "y".into())]),
            "127.0.0.1:1: y; [::1]:1: x"
        );
    }
}
