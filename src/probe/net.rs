//! Connecting to HOST:PORT the way the contract asks: resolve the name again at every
//! attempt, try every address at once (IPv4 and IPv6), take the first that answers.

use super::error::{io_reason, ProbeError};
use crate::target::{Endpoint, Host};
use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketFlags, SocketType};
use std::io;
use std::net::SocketAddr;
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

/// Opens a TCP connection to `addr`, as `TcpStream::connect` does, but looks at the
/// socket's error right after `connect()` first: a port nobody listens on at a local
/// address is refused within the call itself (loopback answers the SYN at once),
/// and the socket is then closed without being registered with the runtime's epoll,
/// which saves three system calls and a turn of the event loop per attempt. Any
/// other connection is awaited as usual.
async fn connect_to(addr: SocketAddr) -> io::Result<TcpStream> {
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    };
    let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
    let fd = rustix::net::socket_with(family, SocketType::STREAM, flags, None)?;
    match rustix::net::connect(&fd, &addr) {
        Ok(()) | Err(Errno::INPROGRESS) => {}
        Err(e) => return Err(e.into()),
    }
    // Reading the error clears it; none yet means the handshake is under way (or
    // done), which the runtime then waits for.
    rustix::net::sockopt::socket_error(&fd)??;
    let stream = TcpStream::from_std(std::net::TcpStream::from(fd))?;
    stream.writable().await?;
    match stream.take_error()? {
        Some(e) => Err(e),
        None => Ok(stream),
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
