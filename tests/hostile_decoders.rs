//! Hostile peers against the hand-written decoders: fake servers on 127.0.0.1 that
//! send what no real server sends (a DNS name that points at itself, a flood of
//! answers with wrong IDs, an HPACK table-size bomb, an HPACK reference bomb, a
//! CONTINUATION flood, an AMQP frame of 0xFFFFFFFF bytes, a 100 MB NATS INFO line,
//! an MQTT CONNACK of 256 MiB or of garbage, an endless memcached line).
//!
//! Each attack runs twice: waiting (`-t 3s`: exit 1 at the deadline, after many
//! attempts) and `--once` (exit 1). Both must end within the deadline's slack and
//! stay under 16 MiB of peak resident memory (`VmHWM`, polled:
//! tests/common/hostile.rs), and the reason must name the decoder's limit that
//! stopped the attack. Each test fails if its decoder's limit is lifted: the
//! memory bound trips (hundreds of MiB to GiBs within the 3 s), or the run
//! overstays the deadline, hangs or ends ready. The peers run one at a time:
//! they stream as fast as loopback goes, and a loaded machine would blur the
//! deadlines.

mod common;
use common::hostile::{assert_bounded_memory, assert_within_deadline, run_measured};
use common::*;
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// The deadline of the waiting runs.
const DEADLINE: Duration = Duration::from_secs(3);

/// When a run is killed and the test fails.
const LIMIT: Duration = Duration::from_secs(20);

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Runs whenready against `target` waiting (`-t 3s`) and with `--once`: both exit 1
/// within the deadline's slack, under 16 MiB. Returns what each printed on stderr.
fn attack(target: &str) -> (String, String) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let waiting = run_measured(whenready().args(["-t", "3s", target]), LIMIT);
    assert_exited(&waiting.run, 1);
    assert_within_deadline(&waiting.run, DEADLINE);
    assert_bounded_memory(&waiting);
    let once = run_measured(whenready().args(["--once", "-t", "3s", target]), LIMIT);
    assert_exited(&once.run, 1);
    assert_within_deadline(&once.run, DEADLINE);
    // A --once run may be over in a few milliseconds, before the first look at its
    // memory on a loaded machine; the waiting run made the same first attempt.
    if once.peak_kib > 0 {
        assert_bounded_memory(&once);
    }
    eprintln!(
        "{target}: waiting {:?}, {} KiB; --once {:?}, {} KiB",
        waiting.run.elapsed, waiting.peak_kib, once.run.elapsed, once.peak_kib
    );
    (waiting.run.stderr, once.run.stderr)
}

/// Asserts that both runs said `needle` (the limit that stopped the attack).
fn both_say((waiting, once): &(String, String), needle: &str) {
    assert!(waiting.contains(needle), "waiting: {waiting}");
    assert!(once.contains(needle), "--once: {once}");
}

/// Writes `chunk` again and again until `total` bytes went out or the client went
/// away; counts what was sent.
fn stream(s: &mut TcpStream, chunk: &[u8], total: u64, sent: &AtomicU64) {
    let mut n = 0;
    while n < total {
        match s.write(chunk) {
            Ok(0) | Err(_) => return,
            Ok(k) => {
                n += k as u64;
                sent.fetch_add(k as u64, Ordering::SeqCst);
            }
        }
    }
}

/// Reads and drops whatever the client sends, so its writes never block.
fn drain(s: &TcpStream) {
    if let Ok(mut r) = s.try_clone() {
        thread::spawn(move || {
            let mut sink = [0u8; 4096];
            while matches!(r.read(&mut sink), Ok(n) if n > 0) {}
        });
    }
}

// ------------------------------------------------------------------ DNS

/// A DNS answer to `query` (same ID and question) with `answer` as its answer
/// section of one record.
fn dns_answer(query: &[u8], id: [u8; 2], answer: &[u8]) -> Vec<u8> {
    let mut m = id.to_vec();
    m.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
    m.extend_from_slice(query.get(12..).unwrap_or_default());
    m.extend_from_slice(answer);
    m
}

#[test]
fn a_dns_name_that_points_at_itself() {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let (st, an) = (stop.clone(), answered.clone());
    socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    thread::spawn(move || {
        let mut buf = [0u8; 512];
        while !st.load(Ordering::SeqCst) {
            let Ok((n, from)) = socket.recv_from(&mut buf) else {
                continue;
            };
            let q = &buf[..n];
            // The answer's owner name is a compression pointer to itself.
            let at = n as u16;
            let mut rr = vec![0xC0 | (at >> 8) as u8, at as u8];
            rr.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 5]);
            let _ = socket.send_to(&dns_answer(q, [q[0], q[1]], &rr), from);
            an.fetch_add(1, Ordering::SeqCst);
        }
    });
    let out = attack(&format!("dns://db.test?server=127.0.0.1:{port}"));
    stop.store(true, Ordering::SeqCst);
    both_say(&out, "compression pointer loops");
    assert!(answered.load(Ordering::SeqCst) >= 2);
}

#[test]
fn a_flood_of_dns_answers_with_wrong_ids() {
    let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
    let port = socket.local_addr().unwrap().port();
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let (st, se) = (stop.clone(), sent.clone());
    socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    thread::spawn(move || {
        let mut buf = [0u8; 512];
        while !st.load(Ordering::SeqCst) {
            let Ok((n, from)) = socket.recv_from(&mut buf) else {
                continue;
            };
            let q = buf[..n].to_vec();
            let (socket, st, se) = (socket.clone(), st.clone(), se.clone());
            // 200,000 answers to this query, each with another ID, each with the
            // A record asked for: none may count.
            thread::spawn(move || {
                let id = u16::from_be_bytes([q[0], q[1]]);
                let rr = [0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 5];
                for i in 0..200_000u32 {
                    if st.load(Ordering::SeqCst) {
                        return;
                    }
                    let wrong = id ^ (1 + (i % 0xFFFF) as u16);
                    let _ = socket.send_to(&dns_answer(&q, wrong.to_be_bytes(), &rr), from);
                    se.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    });
    let out = attack(&format!("dns://db.test?server=127.0.0.1:{port}"));
    stop.store(true, Ordering::SeqCst);
    both_say(&out, "no answer within 2s");
    let sent = sent.load(Ordering::SeqCst);
    assert!(sent >= 100_000, "only {sent} answers went out");
}

// ------------------------------------------------------------------ HTTP/2 (gRPC)

/// An HTTP/2 frame.
fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    f.push(kind);
    f.push(flags);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

const HEADERS: u8 = 0x1;
const CONTINUATION: u8 = 0x9;
const END_HEADERS: u8 = 0x4;

/// An HPACK integer with an `n`-bit prefix under `first`.
fn hpack_int(out: &mut Vec<u8>, first: u8, n: u32, mut value: u64) {
    let max = (1u64 << n) - 1;
    if value < max {
        out.push(first | value as u8);
        return;
    }
    out.push(first | max as u8);
    value -= max;
    while value >= 0x80 {
        out.push((value as u8 & 0x7F) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A literal field with incremental indexing (it enters the dynamic table).
fn indexed_literal(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.push(0x40);
    hpack_int(out, 0, 7, name.len() as u64);
    out.extend_from_slice(name);
    hpack_int(out, 0, 7, value.len() as u64);
    out.extend_from_slice(value);
}

/// A gRPC target served by an HTTP/2 peer that reads the client's preface, sends
/// SETTINGS (a 4 GiB header table, 16 MiB frames allowed) and `first`, then
/// `again` again and again (at most `total` bytes) on every connection.
fn h2_attack(first: Vec<u8>, again: Vec<u8>, total: u64) -> (Fake, Arc<AtomicU64>) {
    let sent = Arc::new(AtomicU64::new(0));
    let s2 = sent.clone();
    let fake = Fake::start(move |mut s, _| {
        let mut preface = [0u8; 24];
        if s.read_exact(&mut preface).is_err() {
            return;
        }
        drain(&s);
        let mut settings = Vec::new();
        for (id, value) in [(1u16, u32::MAX), (5, 16 * 1024 * 1024 - 1), (6, u32::MAX)] {
            settings.extend_from_slice(&id.to_be_bytes());
            settings.extend_from_slice(&value.to_be_bytes());
        }
        let mut opening = h2_frame(0x4, 0, 0, &settings);
        opening.extend_from_slice(&first);
        if s.write_all(&opening).is_ok() {
            stream(&mut s, &again, total, &s2);
        }
    });
    (fake, sent)
}

#[test]
fn an_hpack_table_size_bomb() {
    // Header blocks of 100 Continue (informational: the client reads on), each
    // raising the dynamic table to 100 MB and filling it with 16 KB of new entries.
    let mut block = Vec::new();
    hpack_int(&mut block, 0x20, 5, 100_000_000);
    block.extend_from_slice(&[0x48, 3, b'1', b'0', b'0']); // :status 100
    for i in 0..15u32 {
        indexed_literal(&mut block, format!("x-{i}").as_bytes(), &[b'v'; 1000]);
    }
    let frame = h2_frame(HEADERS, END_HEADERS, 1, &block);
    let (fake, sent) = h2_attack(Vec::new(), frame, 1 << 30);
    let out = attack(&format!("grpc://{}", fake.addr()));
    both_say(&out, "HPACK table size 100000000 above the 4096 allowed");
    assert!(sent.load(Ordering::SeqCst) > 0);
}

#[test]
fn an_hpack_reference_bomb() {
    // Header blocks of one frame each: a 4000-byte entry into the table, then
    // 12,000 one-byte references to it: 48 MB of header fields from 16 KB.
    let mut block = vec![0x88]; // :status 200
    indexed_literal(&mut block, b"x", &[b'v'; 4000]);
    block.resize(16_000, 0xBE); // index 62: the newest entry
    let frame = h2_frame(HEADERS, END_HEADERS, 1, &block);
    let (fake, sent) = h2_attack(Vec::new(), frame, 1 << 30);
    let out = attack(&format!("grpc://{}", fake.addr()));
    both_say(&out, "more than 64 KiB of header fields");
    assert!(sent.load(Ordering::SeqCst) > 0);
}

#[test]
fn an_endless_header_block_of_continuation_frames() {
    // A HEADERS frame without END_HEADERS, then CONTINUATION frames of literal
    // fields, never END_HEADERS.
    let mut field = Vec::new();
    indexed_literal(&mut field, b"x", &[b'v'; 100]);
    let fragment = field.repeat(16_000 / field.len());
    let (fake, sent) = h2_attack(
        h2_frame(HEADERS, 0, 1, &fragment),
        h2_frame(CONTINUATION, 0, 1, &fragment),
        1 << 30,
    );
    let out = attack(&format!("grpc://{}", fake.addr()));
    both_say(&out, "a header block larger than 64 KiB");
    assert!(sent.load(Ordering::SeqCst) > 64 * 1024);
}

// ------------------------------------------------------------------ AMQP, NATS, MQTT, memcached

#[test]
fn an_amqp_frame_of_4_gib() {
    let sent = Arc::new(AtomicU64::new(0));
    let s2 = sent.clone();
    let fake = Fake::start(move |mut s, _| {
        let mut header = [0u8; 8];
        if s.read_exact(&mut header).is_err() {
            return;
        }
        drain(&s);
        // A method frame on channel 0 of 0xFFFFFFFF bytes, and its bytes.
        if s.write_all(&[1, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF]).is_ok() {
            stream(&mut s, &[0x41; 64 * 1024], 1 << 32, &s2);
        }
    });
    let out = attack(&format!("amqp://{}", fake.addr()));
    both_say(&out, "an unexpected frame");
}

#[test]
fn a_nats_info_line_of_100_mb() {
    let sent = Arc::new(AtomicU64::new(0));
    let s2 = sent.clone();
    let fake = Fake::start(move |mut s, _| {
        drain(&s);
        if s.write_all(b"INFO {\"server_id\":\"").is_ok() {
            stream(&mut s, &[b'x'; 64 * 1024], 100_000_000, &s2);
        }
        // Then silence, until the client goes.
        thread::sleep(Duration::from_secs(10));
    });
    let out = attack(&format!("nats://{}", fake.addr()));
    both_say(&out, "a line longer than 64 KiB");
    assert!(sent.load(Ordering::SeqCst) > 64 * 1024);
}

#[test]
fn an_mqtt_connack_of_256_mib_or_of_garbage() {
    let sent = Arc::new(AtomicU64::new(0));
    let s2 = sent.clone();
    let fake = Fake::start(move |mut s, n| {
        let mut connect = [0u8; 2];
        if s.read_exact(&mut connect).is_err() {
            return;
        }
        drain(&s);
        let head: &[u8] = if n % 2 == 0 {
            // CONNACK, remaining length 268,435,455 (the largest), then its bytes.
            &[0x20, 0xFF, 0xFF, 0xFF, 0x7F]
        } else {
            // CONNACK, then a remaining length that never ends.
            &[0x20]
        };
        if s.write_all(head).is_ok() {
            let filler = if n % 2 == 0 { b'A' } else { 0xFF };
            stream(&mut s, &[filler; 64 * 1024], 1 << 30, &s2);
        }
    });
    let (waiting, _) = attack(&format!("mqtt://{}", fake.addr()));
    // The waiting run met both peers, one attempt after the other.
    assert!(
        waiting.contains("a CONNACK of 268435455 bytes"),
        "{waiting}"
    );
    assert!(waiting.contains("malformed CONNACK length"), "{waiting}");
}

#[test]
fn an_endless_memcached_line() {
    let sent = Arc::new(AtomicU64::new(0));
    let s2 = sent.clone();
    let fake = Fake::start(move |mut s, _| {
        drain(&s);
        if s.write_all(b"VERSION 1.").is_ok() {
            stream(&mut s, &[b'9'; 64 * 1024], 1 << 30, &s2);
        }
    });
    let out = attack(&format!("memcached://{}", fake.addr()));
    both_say(&out, "a reply line longer than 4 KiB");
    assert!(sent.load(Ordering::SeqCst) > 4096);
}
