//! Connecting to HOST:PORT the way the contract asks: resolve the name again at every
//! attempt, try every address at once (IPv4 and IPv6), take the first that answers.
//!
//! `localhost` and the names under `.localhost` are this host's loopback addresses,
//! 127.0.0.1 and ::1, without asking the resolver (RFC 6761, section 6.3), so that a
//! check of `localhost:PORT` is decided as fast as one of `127.0.0.1:PORT`. Other
//! names go to the system's resolver (getaddrinfo, on a thread of the runtime's
//! blocking pool, since it blocks).

use super::error::{io_reason, ProbeError};
use crate::endpoint::{Endpoint, Host};
use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketFlags, SocketType};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::OwnedFd;
use tokio::net::TcpStream;
use tokio::task::JoinSet;

/// Whether `name` is `localhost` or a name under `.localhost` (with or without the
/// final dot, in any case): a name for this host's loopback (RFC 6761, 6.3).
pub fn is_loopback_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name).as_bytes();
    const LOCALHOST: &[u8] = b"localhost";
    let Some(head) = name.len().checked_sub(LOCALHOST.len()) else {
        return false;
    };
    name[head..].eq_ignore_ascii_case(LOCALHOST)
        && (head == 0 || (head > 1 && name[head - 1] == b'.'))
}

/// The addresses of a loopback name: IPv4's first (where most servers listen).
fn loopback(port: u16) -> [SocketAddr; 2] {
    [
        SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        SocketAddr::from((Ipv6Addr::LOCALHOST, port)),
    ]
}

/// The addresses of an endpoint, resolved now. A name that does not resolve (yet)
/// is a transient failure: DNS records appear late in compose and Kubernetes.
pub async fn resolve(ep: &Endpoint) -> Result<Vec<SocketAddr>, ProbeError> {
    match &ep.host {
        Host::Ip(ip) => Ok(vec![SocketAddr::new(*ip, ep.port)]),
        Host::Name(name) if is_loopback_name(name) => Ok(loopback(ep.port).to_vec()),
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

/// Opens a TCP connection to the first address of `ep` that accepts. Each address's
/// connect starts without waiting, and one that the kernel decides within the call
/// (a loopback port: refused, or connected) costs no task and no registration with
/// the runtime. The others are raced, so that one that drops SYNs cannot hide one
/// that answers: the first on the attempt's own descriptor, the others on spare
/// sockets ([`crate::limits::spare_sockets`]) while there are any; when there are
/// too few, the next address starts as soon as one fails.
pub async fn connect(ep: &Endpoint) -> Result<TcpStream, ProbeError> {
    let addrs = match &ep.host {
        Host::Ip(ip) => vec![SocketAddr::new(*ip, ep.port)],
        Host::Name(_) => resolve(ep).await?,
    };
    let spare = crate::limits::spare_sockets();
    let mut waiting = addrs.into_iter();
    let mut racing = JoinSet::new();
    let mut errors: Vec<(SocketAddr, String)> = Vec::new();
    loop {
        while waiting.len() > 0 {
            let permit = if racing.is_empty() {
                None
            } else {
                match spare.try_acquire() {
                    Ok(permit) => Some(permit),
                    Err(_) => break,
                }
            };
            let Some(addr) = waiting.next() else {
                break;
            };
            let stream = match dial(addr) {
                Ok(Dialed::Connected(stream)) => return Ok(stream),
                Ok(Dialed::Pending(stream)) => stream,
                Err(e) => {
                    errors.push((addr, io_reason(&e).into_owned()));
                    continue;
                }
            };
            if waiting.len() == 0 && racing.is_empty() {
                // The last address, and the only one under way: awaited right here.
                return finish(stream).await.map_err(|e| {
                    errors.push((addr, io_reason(&e).into_owned()));
                    ProbeError::transient(summarize(errors))
                });
            }
            racing.spawn(async move { (addr, finish(stream).await, permit) });
        }
        match racing.join_next().await {
            None => return Err(ProbeError::transient(summarize(errors))),
            Some(Ok((_, Ok(stream), _))) => return Ok(stream),
            // Its descriptor is free again: the next address takes it.
            Some(Ok((addr, Err(e), _permit))) => errors.push((addr, io_reason(&e).into_owned())),
            // A connect task panicked: never expected; its permit is gone with it.
            Some(Err(e)) => errors.push((SocketAddr::from(([0, 0, 0, 0], 0)), e.to_string())),
        }
    }
}

/// A connect just begun ([`begin`]).
enum Dialed {
    /// Established within the call.
    Connected(TcpStream),
    /// The handshake is under way.
    Pending(TcpStream),
}

/// Begins a connect to `addr`; a refusal within the call is the error.
fn dial(addr: SocketAddr) -> io::Result<Dialed> {
    let fd = begin(addr)?;
    // A socket whose handshake is complete has a peer; one still in SYN_SENT has
    // none (ENOTCONN).
    let connected = rustix::net::getpeername(&fd).is_ok();
    let stream = TcpStream::from_std(std::net::TcpStream::from(fd))?;
    if connected {
        let _ = stream.set_nodelay(true);
        return Ok(Dialed::Connected(stream));
    }
    Ok(Dialed::Pending(stream))
}

/// Waits for a connect under way to end.
async fn finish(stream: TcpStream) -> io::Result<TcpStream> {
    stream.writable().await?;
    match stream.take_error()? {
        Some(e) => Err(e),
        None => {
            let _ = stream.set_nodelay(true);
            Ok(stream)
        }
    }
}

/// Starts a non-blocking connect to `addr` and looks at the socket's error right
/// after `connect()`: a port nobody listens on at a local address is refused within
/// the call itself (loopback answers the SYN at once), which is returned as the
/// error. Otherwise the handshake is under way, or already done.
fn begin(addr: SocketAddr) -> io::Result<OwnedFd> {
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    };
    let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
    let fd = rustix::net::socket_with(family, SocketType::STREAM, flags, None)?;
    let failed = match rustix::net::connect(&fd, &addr) {
        // Reading the error clears it; none yet means the handshake is under way
        // (or done).
        Ok(()) | Err(Errno::INPROGRESS) => rustix::net::sockopt::socket_error(&fd)?.err(),
        Err(e) => Some(e),
    };
    match failed {
        None => Ok(fd),
        Some(e) => Err(e.into()),
    }
}

/// A connection to `ep` decided without waiting, where the kernel decides it
/// within `connect()`: this host's loopback (`127.0.0.0/8`, `::1`, `localhost`),
/// where the SYN is answered inside the call, with a connection or a refusal. A
/// loopback name's addresses are tried in turn until one connects. `None` for
/// another name (resolving may block) or address (the answer takes a round trip),
/// or a loopback handshake the call did not finish (a listener whose backlog is
/// full); the caller makes that attempt on the runtime. An established connection
/// is returned open.
pub fn connect_now(ep: &Endpoint) -> Option<Result<OwnedFd, ProbeError>> {
    let addrs = match &ep.host {
        Host::Ip(ip) if ip.is_loopback() => vec![SocketAddr::new(*ip, ep.port)],
        Host::Name(name) if is_loopback_name(name) => loopback(ep.port).to_vec(),
        _ => return None,
    };
    let mut errors = Vec::new();
    for addr in addrs {
        match begin(addr) {
            Err(e) => errors.push((addr, io_reason(&e).into_owned())),
            // A socket whose handshake is complete has a peer; one still in
            // SYN_SENT has none (ENOTCONN).
            Ok(fd) => return rustix::net::getpeername(&fd).ok().map(|_| Ok(fd)),
        }
    }
    Some(Err(ProbeError::transient(summarize(errors))))
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

    fn ip(addr: SocketAddr) -> Endpoint {
        Endpoint {
            host: Host::Ip(addr.ip()),
            port: addr.port(),
        }
    }

    #[tokio::test]
    async fn connect_reports_a_refusal_and_opens_a_listening_port() {
        // A port that was just free: nobody listens there.
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let refused = free.local_addr().unwrap();
        drop(free);
        let e = connect(&ip(refused)).await.unwrap_err();
        assert_eq!(e.reason, "connection refused");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stream = connect(&ip(addr)).await.unwrap();
        assert_eq!(stream.peer_addr().unwrap(), addr);
        let (_, from) = listener.accept().unwrap();
        assert_eq!(from, stream.local_addr().unwrap());
        // IPv6 too, where the machine has it.
        if let Ok(v6) = std::net::TcpListener::bind("[::1]:0") {
            let addr = v6.local_addr().unwrap();
            assert_eq!(connect(&ip(addr)).await.unwrap().peer_addr().unwrap(), addr);
        }
    }

    #[tokio::test]
    async fn an_address_that_drops_syns_does_not_hide_one_that_answers() {
        use rustix::net::{bind, listen, socket, sockopt};
        // 127.0.0.1:PORT listens with a full accept queue (a backlog of 0, taken by
        // one connection): its SYNs are dropped and its connect stays under way.
        // [::1]:PORT accepts. localhost tries both, 127.0.0.1 first.
        let (v6, full, _filler) = loop {
            let v6 = std::net::TcpListener::bind("[::1]:0")
                .expect("this test needs IPv6 on loopback (::1)");
            let port = v6.local_addr().unwrap().port();
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let fd = socket(AddressFamily::INET, SocketType::STREAM, None).unwrap();
            sockopt::set_socket_reuseaddr(&fd, true).unwrap();
            if bind(&fd, &addr).is_err() {
                continue;
            }
            listen(&fd, 0).unwrap();
            let filler = std::net::TcpStream::connect(addr).unwrap();
            break (v6, fd, filler);
        };
        let port = v6.local_addr().unwrap().port();
        let ep = Endpoint {
            host: Host::Name("localhost".into()),
            port,
        };
        assert!(connect_now(&ep).is_none(), "decided at once");
        let stream = connect(&ep).await.unwrap();
        assert_eq!(stream.peer_addr().unwrap(), v6.local_addr().unwrap());
        drop(full);
    }

    #[test]
    fn a_loopback_connect_is_decided_at_once() {
        let ep = |host: &str, port| Endpoint {
            host: crate::endpoint::parse_host(host).unwrap(),
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
        // localhost is loopback too, without the resolver.
        let fd = connect_now(&ep("localhost", port)).unwrap().unwrap();
        let (_, from) = listener.accept().unwrap();
        assert_eq!(std::net::TcpStream::from(fd).local_addr().unwrap(), from);
        // Another name is resolved on the runtime, and another address answers only
        // after a round trip: neither is tried here (nothing is sent).
        assert!(connect_now(&ep("db", port)).is_none());
        assert!(connect_now(&ep("192.0.2.1", port)).is_none());
    }

    #[test]
    fn a_loopback_name_tries_both_addresses() {
        let ep = |port| Endpoint {
            host: crate::endpoint::parse_host("localhost").unwrap(),
            port,
        };
        // Only ::1 listens (where the machine has IPv6): found after 127.0.0.1's
        // refusal.
        let v6 =
            std::net::TcpListener::bind("[::1]:0").expect("this test needs IPv6 on loopback (::1)");
        let port = v6.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            let fd = connect_now(&ep(port)).unwrap().unwrap();
            let peer = rustix::net::getpeername(&fd).unwrap().unwrap();
            let peer = std::net::SocketAddr::try_from(peer).unwrap();
            assert_eq!(peer, v6.local_addr().unwrap());
        }
        drop(v6);
        // Neither listens: refused, said once.
        let e = connect_now(&ep(port)).unwrap().unwrap_err();
        assert_eq!(e.reason, "connection refused");
    }

    #[tokio::test]
    async fn a_loopback_name_resolves_without_the_resolver() {
        for name in ["localhost", "LocalHost.", "db.localhost", "a.b.LOCALHOST"] {
            assert!(is_loopback_name(name), "{name}");
            let ep = Endpoint {
                host: Host::Name(name.into()),
                port: 5432,
            };
            let addrs = resolve(&ep).await.unwrap();
            assert_eq!(
                addrs,
                [
                    "127.0.0.1:5432".parse().unwrap(),
                    "[::1]:5432".parse().unwrap()
                ] as [SocketAddr; 2]
            );
        }
        for name in [
            "",
            "localhost.com",
            "notlocalhost",
            "xlocalhost.",
            ".localhost",
            "local",
        ] {
            assert!(!is_loopback_name(name), "{name}");
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
