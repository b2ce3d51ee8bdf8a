//! Property tests of what a peer feeds the MySQL client: byte streams, not only
//! well-formed values, through the packet reader, the greeting, auth-switch and ERR
//! parsers, and a whole session. No input may panic, a packet's buffer grows with
//! the bytes that arrived (never with the length a peer claims), and every parsed
//! part is no longer than its input. Bounded in time for a plain `cargo test`: a few
//! hundred cases of at most a few KiB each.

use super::packet::*;
use super::*;
use proptest::prelude::*;
use tokio::io::AsyncWriteExt;

/// A peer's bytes, with the largest buffer the client offered to read them into
/// (what it had allocated for them).
struct Metered {
    bytes: std::io::Cursor<Vec<u8>>,
    largest: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl tokio::io::AsyncRead for Metered {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        self.largest
            .fetch_max(buf.remaining(), std::sync::atomic::Ordering::SeqCst);
        std::pin::Pin::new(&mut self.bytes).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Metered {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::task::Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A payload that starts the way the client's decisions do (a greeting's 10, OK,
/// AuthMoreData with its verdicts or an RSA key, an auth switch to a method, ERR),
/// then goes on with anything.
fn payload() -> impl Strategy<Value = Vec<u8>> {
    let head = prop_oneof![
        Just(vec![10u8]),
        Just(vec![0]),
        Just(vec![1, 3]),
        Just(vec![1, 4]),
        Just(b"\x01-----BEGIN PUBLIC KEY-----\n".to_vec()),
        Just(b"\xfecaching_sha2_password\0".to_vec()),
        Just(b"\xfemysql_native_password\0".to_vec()),
        Just(b"\xfeclient_ed25519\0".to_vec()),
        Just(b"\xfemysql_clear_password\0".to_vec()),
        Just(vec![0xFE]),
        Just(vec![0xFF]),
        proptest::collection::vec(any::<u8>(), 1..2),
    ];
    (head, proptest::collection::vec(any::<u8>(), 0..300))
        .prop_map(|(head, rest)| [head, rest].concat())
}

/// Bytes that often look like MySQL packets: a run of packets whose headers mostly
/// claim the true length (`lies` in 10 claim up to the cap, as many anything up to
/// 16 MiB), or bytes without any form.
fn packets(lies: u32) -> impl Strategy<Value = Vec<u8>> {
    let claim = prop_oneof![
        10 - lies => Just(None),
        lies => (0u32..=MAX_PACKET as u32 + 16).prop_map(Some),
        lies => (0u32..0x100_0000).prop_map(Some),
    ];
    let packet = (payload(), claim, any::<u8>()).prop_map(|(p, claim, seq)| {
        let len = claim.unwrap_or(p.len() as u32);
        let mut out = len.to_le_bytes()[..3].to_vec();
        out.push(seq);
        out.extend_from_slice(&p);
        out
    });
    prop_oneof![
        3 => proptest::collection::vec(packet, 0..6).prop_map(|v| v.concat()),
        1 => proptest::collection::vec(any::<u8>(), 0..2048),
    ]
}

/// A greeting that parses, then `tail` (the rest of what the server says).
fn after_greeting(plugin: &str, caps: u32, tail: &[u8]) -> Vec<u8> {
    let g = fake::greeting(plugin, caps);
    let mut out = (g.len() as u32).to_le_bytes()[..3].to_vec();
    out.push(0);
    out.extend_from_slice(&g);
    out.extend_from_slice(tail);
    out
}

/// Runs a session whose server says `bytes`, reads whatever the client sends, and
/// ends its side when done (so the session always ends).
fn session_against(t: MysqlTarget, bytes: Vec<u8>) -> Result<(), ProbeError> {
    runtime().block_on(async move {
        let (client, mut server) = tokio::io::duplex(256 * 1024);
        let peer = tokio::spawn(async move {
            let _ = server.write_all(&bytes).await;
            let _ = server.shutdown().await;
            let mut sink = Vec::new();
            let _ = tokio::io::AsyncReadExt::read_to_end(&mut server, &mut sink).await;
        });
        let out = session(Box::new(client), &t).await;
        drop(peer);
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_packet_reader_takes_any_stream(bytes in packets(3)) {
        let total = bytes.len();
        let largest = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let io = Metered { bytes: std::io::Cursor::new(bytes), largest: largest.clone() };
        let packets = runtime().block_on(async move {
            let mut conn = Conn {
                io: Box::new(io),
                seq: 0,
                link: packet::Link::Plain,
            };
            let mut got = Vec::new();
            while let Ok(p) = conn.read().await {
                got.push(p);
            }
            got
        });
        let mut read = 0;
        for p in &packets {
            prop_assert!(p.len() <= MAX_PACKET);
            // The buffer grew with what arrived: never with a claimed length.
            prop_assert!(p.capacity() <= 2 * p.len() + 64, "{} for {}", p.capacity(), p.len());
            read += 4 + p.len();
        }
        prop_assert!(read <= total);
        // Nothing was allocated for bytes that never came (a claimed length).
        let largest = largest.load(std::sync::atomic::Ordering::SeqCst);
        prop_assert!(largest <= 2 * total + 64, "a {largest}-byte buffer for {total} bytes");
    }

    #[test]
    fn the_parsers_take_any_payload(
        p in proptest::collection::vec(any::<u8>(), 0..600),
        caps in any::<u32>(),
        cut in 0usize..80,
    ) {
        // A greeting cut anywhere, with any capabilities, then anything.
        let mut greeting = fake::greeting("caching_sha2_password", caps);
        greeting.truncate(cut);
        greeting.extend_from_slice(&p);
        for packet in [&p, &greeting] {
            if let Ok(g) = parse_greeting(packet) {
                prop_assert!(g.nonce.len() <= packet.len());
                prop_assert!(g.plugin.len() <= 3 * packet.len() + 21);
            }
        }
        let mut switch = vec![0xFE];
        switch.extend_from_slice(&p);
        for packet in [&p, &switch] {
            if let Ok((plugin, nonce)) = parse_auth_switch(packet) {
                prop_assert!(nonce.len() < packet.len());
                prop_assert!(plugin.len() <= 3 * packet.len());
            }
        }
        let mut err = vec![0xFF];
        err.extend_from_slice(&p);
        let e = server_error(&err);
        prop_assert!(e.reason.len() <= 3 * err.len() + 64);
        let _ = server_key::public_key(&p);
    }

    #[test]
    fn a_session_takes_any_server(
        bytes in packets(1),
        plugin in prop_oneof![
            Just("caching_sha2_password"),
            Just("mysql_native_password"),
            Just("client_ed25519"),
            Just("sha256_password"),
        ],
        greeted in any::<bool>(),
        key in any::<bool>(),
    ) {
        let mut t = fake::target(Some("secret"), Some("app"));
        t.get_server_public_key = key;
        let bytes = if greeted {
            after_greeting(plugin, fake::SERVER_CAPS, &bytes)
        } else {
            bytes
        };
        let _ = session_against(t, bytes);
    }
}
