//! Asking a server: one query over UDP from a fresh socket with a fresh random ID,
//! asked again over TCP when the answer is truncated, and the system's nameservers
//! (/etc/resolv.conf) when the target names none.

use super::message::{build_query, parse_response, Answer, Mismatch};
use super::target::{DnsTarget, Server};
use crate::probe::error::{io_reason, ProbeError};
use crate::probe::net;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// How long one server has to answer a query before the next one is asked.
const SERVER_TIMEOUT: Duration = Duration::from_secs(2);

/// Where the system's nameservers are listed.
const RESOLV_CONF: &str = "/etc/resolv.conf";

/// The largest message read: a UDP datagram's payload, or a TCP message (its
/// length is 16 bits).
const MAX_MESSAGE: usize = 65_535;

/// A fresh query ID from the system's random source (ring, already linked).
fn random_id() -> u16 {
    let mut b = [0u8; 2];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
    u16::from_be_bytes(b)
}

/// The nameservers of resolv.conf (port 53); 127.0.0.1 when it lists none, as
/// the C libraries do.
pub fn nameservers(conf: &str) -> Vec<SocketAddr> {
    let mut found: Vec<SocketAddr> = conf
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            (words.next()? == "nameserver").then_some(())?;
            let addr = words.next()?;
            // A link-local IPv6 address may carry a zone (%eth0): not supported.
            addr.parse::<IpAddr>().ok()
        })
        .map(|ip| SocketAddr::new(ip, 53))
        .collect();
    if found.is_empty() {
        found.push(SocketAddr::from(([127, 0, 0, 1], 53)));
    }
    found
}

/// The servers to ask, in turn: the target's `server=`, or resolv.conf's nameservers
/// (also for `mongodb+srv://`'s lookups).
pub(crate) async fn servers(t: &DnsTarget) -> Result<Vec<SocketAddr>, ProbeError> {
    match &t.server {
        Server::Given(ep) => net::resolve(ep).await,
        Server::System => {
            // On a thread of its own: a file read must not stall the runtime.
            let conf = tokio::task::spawn_blocking(|| std::fs::read_to_string(RESOLV_CONF))
                .await
                .map_err(|e| ProbeError::transient(e.to_string()))?;
            Ok(nameservers(&conf.unwrap_or_default()))
        }
    }
}

/// Asks one server over UDP (then TCP if truncated); the error is why no answer
/// came.
pub(crate) async fn ask(t: &DnsTarget, server: SocketAddr) -> Result<Answer, String> {
    let id = random_id();
    let query = build_query(id, &t.name, t.rtype);
    let answer = tokio::time::timeout(SERVER_TIMEOUT, ask_udp(&query, id, t, server))
        .await
        .map_err(|_| format!("no answer within {}s", SERVER_TIMEOUT.as_secs()))??;
    if answer != Answer::Truncated {
        return Ok(answer);
    }
    let id = random_id();
    let query = build_query(id, &t.name, t.rtype);
    tokio::time::timeout(SERVER_TIMEOUT, ask_tcp(&query, id, t, server))
        .await
        .map_err(|_| format!("no answer over TCP within {}s", SERVER_TIMEOUT.as_secs()))?
}

async fn ask_udp(
    query: &[u8],
    id: u16,
    t: &DnsTarget,
    server: SocketAddr,
) -> Result<Answer, String> {
    let local: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let io = |e: std::io::Error| io_reason(&e);
    let socket = UdpSocket::bind(local).await.map_err(io)?;
    // Connected: the kernel drops datagrams from any other address and port, and
    // reports an ICMP port unreachable as "connection refused".
    socket.connect(server).await.map_err(io)?;
    socket.send(query).await.map_err(io)?;
    let mut buf = vec![0u8; MAX_MESSAGE];
    loop {
        let n = socket.recv(&mut buf).await.map_err(io)?;
        match parse_response(&buf[..n], id, &t.name, t.rtype) {
            Ok(answer) => return Ok(answer),
            Err(Mismatch::Foreign) => continue,
            Err(Mismatch::Malformed(why)) => return Err(why),
        }
    }
}

async fn ask_tcp(
    query: &[u8],
    id: u16,
    t: &DnsTarget,
    server: SocketAddr,
) -> Result<Answer, String> {
    let mut stream = TcpStream::connect(server)
        .await
        .map_err(|e| io_reason(&e))?;
    over_tcp(&mut stream, query, id, t).await
}

/// The exchange over a TCP connection: the query and the answer, each behind its
/// two-byte length.
async fn over_tcp<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    query: &[u8],
    id: u16,
    t: &DnsTarget,
) -> Result<Answer, String> {
    let io = |e: std::io::Error| io_reason(&e);
    let mut framed = (query.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(query);
    stream.write_all(&framed).await.map_err(io)?;
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await.map_err(io)?;
    let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
    stream.read_exact(&mut msg).await.map_err(io)?;
    match parse_response(&msg, id, &t.name, t.rtype) {
        // A truncated answer over TCP too: judged as such, never asked again.
        Ok(answer) => Ok(answer),
        Err(Mismatch::Foreign) => Err("the answer over TCP is not for our question".into()),
        Err(Mismatch::Malformed(why)) => Err(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf() {
        let conf = "# x\nsearch a.b\nnameserver 10.0.0.2\nnameserver ::1\nnameserver fe80::1%eth0\noptions ndots:5\n";
        assert_eq!(
            nameservers(conf),
            vec!["10.0.0.2:53".parse().unwrap(), "[::1]:53".parse().unwrap()]
        );
        assert_eq!(nameservers(""), vec!["127.0.0.1:53".parse().unwrap()]);
    }

    /// The exchange over TCP against every byte stream: a length, then a message.
    #[test]
    fn fuzz_tcp() {
        use crate::probe::dns::message::{build_query, RecordType};
        use crate::probe::wire::fuzz;
        let rt = fuzz::runtime();
        let t = super::super::parse(&url::Url::parse("dns://db.test?type=TXT").unwrap()).unwrap();
        let mut answer = build_query(9, "db.test", RecordType::Txt);
        answer[2] = 0x81;
        answer[3] = 0x80;
        answer[7] = 1;
        answer.extend_from_slice(&[
            0xC0, 12, 0, 16, 0, 1, 0, 0, 0, 60, 0, 4, 3, b'v', b'=', b'1',
        ]);
        let framed = [&(answer.len() as u16).to_be_bytes()[..], &answer].concat();
        let query = build_query(9, "db.test", RecordType::Txt);
        fuzz::run("dns-tcp", &[framed], 70_000, |input, case| {
            let mut peer = fuzz::Peer::new(input.to_vec(), case);
            let result = fuzz::settle(&rt, over_tcp(&mut peer, &query, 9, &t));
            match &result {
                Err(why) => fuzz::assert_reason(why),
                Ok(answer) => assert!(input.len() >= 14, "{answer:?} from {input:?}"),
            }
            fuzz::outcome(&result)
        });
    }
}
