//! A small deterministic fuzzer for the decoders a peer feeds, on the stable
//! toolchain (test builds only): each kind's `fuzz_*` unit tests hand [`run`] a few
//! valid messages (seeds) and a check, and [`run`] feeds the check the seeds, random
//! bytes and mutated seeds (bit flips, boundary values in length fields, inserted,
//! deleted, repeated and spliced pieces, truncation, several messages in a row).
//! Stream decoders read the input from a [`Peer`] that hands it out in chunks of
//! random sizes, sometimes not ready, then ends the stream.
//!
//! The budget comes from the environment: `WHENREADY_FUZZ_SECONDS` (per target, a
//! decimal number) or `WHENREADY_FUZZ_CASES`; without either, [`DEFAULT_CASES`], so
//! that a plain `cargo test` stays quick. `WHENREADY_FUZZ_SEED` picks another
//! sequence of inputs (the default is fixed, so runs repeat). `.ci/fuzz` runs every
//! target for a bounded time. A failing case prints the seed and its number, and
//! writes its input to a file in the temporary directory, named in the message.

use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Cases per target when the environment sets no budget.
pub(crate) const DEFAULT_CASES: u64 = 200;

/// How long a stream decoder may take after its input ended before the case fails
/// as a hang.
const SETTLE: Duration = Duration::from_secs(10);

fn env_var<T: std::str::FromStr>(name: &str) -> Option<T> {
    let text = std::env::var(name).ok()?;
    match text.trim().parse() {
        Ok(v) => Some(v),
        Err(_) => panic!("{name}={text:?} is not a number"),
    }
}

/// FNV-1a: a target's name as the default seed, so targets differ and runs repeat.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Runs `check` on the seeds as they are, then on generated inputs of at most
/// `max_len` bytes, until the budget is spent. `check` gets the input and a number
/// to drive its own random choices (a [`Peer`]'s chunk sizes), and names the
/// outcome ([`outcome`]): the tally, printed at the end, shows how deep the inputs
/// got. A panic in `check` fails the target, naming the case.
pub(crate) fn run(
    target: &str,
    seeds: &[Vec<u8>],
    max_len: usize,
    mut check: impl FnMut(&[u8], u64) -> String,
) {
    let seed = env_var::<u64>("WHENREADY_FUZZ_SEED").unwrap_or(0);
    let seconds = env_var::<f64>("WHENREADY_FUZZ_SECONDS");
    let cases = env_var::<u64>("WHENREADY_FUZZ_CASES").or(match seconds {
        Some(_) => None,
        None => Some(DEFAULT_CASES),
    });
    let until = seconds.map(|s| Instant::now() + Duration::from_secs_f64(s.max(0.0)));
    let mut rng = fastrand::Rng::with_seed(seed ^ fnv(target));
    let start = Instant::now();
    let mut n = 0u64;
    let mut tally = std::collections::BTreeMap::<String, u64>::new();
    loop {
        let input = match seeds.get(n as usize) {
            Some(s) => s.clone(),
            None => mutate(&mut rng, seeds, max_len),
        };
        let case = rng.u64(..);
        match catch_unwind(AssertUnwindSafe(|| check(&input, case))) {
            Ok(name) => *tally.entry(name).or_default() += 1,
            Err(panic) => {
                let file =
                    std::env::temp_dir().join(format!("whenready-fuzz-{target}-{seed}-{n}.bin"));
                let saved = match std::fs::write(&file, &input) {
                    Ok(()) => format!("written to {}", file.display()),
                    Err(e) => format!("not written ({e})"),
                };
                let head: String = input.iter().take(64).map(|b| format!("{b:02x}")).collect();
                eprintln!(
                "fuzz target {target}: case {n} failed (WHENREADY_FUZZ_SEED={seed}, case seed {case}); \
                 its input, {} bytes, starts {head}, {saved}",
                input.len()
            );
                resume_unwind(panic);
            }
        }
        n += 1;
        if cases.is_some_and(|c| n >= c) || until.is_some_and(|u| Instant::now() >= u) {
            break;
        }
    }
    let mut common: Vec<(u64, String)> = tally.into_iter().map(|(k, v)| (v, k)).collect();
    common.sort_by(|a, b| b.cmp(a));
    let shown: Vec<String> = common
        .iter()
        .take(8)
        .map(|(v, k)| format!("{v} {k}"))
        .collect();
    eprintln!(
        "fuzz target {target}: {n} cases in {:.1?} (WHENREADY_FUZZ_SEED={seed}); {} outcomes, most common: {}",
        start.elapsed(),
        common.len(),
        shown.join("; ")
    );
}

/// A short name for an outcome, for the tally: `ok`, or the reason up to the first
/// quote, digit or parenthesis (so that the peer's bytes do not make every
/// outcome a new one).
pub(crate) fn outcome<T, E: std::fmt::Display>(result: &Result<T, E>) -> String {
    match result {
        Ok(_) => "ok".into(),
        Err(e) => {
            let text = e.to_string();
            let cut = text
                .find(|c: char| c == '"' || c == '(' || c == '\'' || c.is_ascii_digit())
                .unwrap_or(text.len());
            text[..cut]
                .chars()
                .take(60)
                .collect::<String>()
                .trim()
                .to_string()
        }
    }
}

/// Byte values at the edges of fields: zero, signs, line ends, DNS pointers.
const BYTES: [u8; 11] = [0, 1, 0x7F, 0x80, 0xFF, b'\r', b'\n', 0xC0, 0x3F, 0x40, 0x20];

/// Values at the edges of length fields.
const WORDS: [u32; 16] = [
    0,
    1,
    0x7F,
    0x80,
    0xFF,
    0x100,
    0x3FFF,
    0x4000,
    0x7FFF,
    0x8000,
    0xFFFF,
    0x1_0000,
    0xFF_FFFF,
    0x7FFF_FFFF,
    0x8000_0000,
    0xFFFF_FFFF,
];

/// A new input: random bytes, several mutated seeds in a row, or one mutated seed.
pub(crate) fn mutate(rng: &mut fastrand::Rng, seeds: &[Vec<u8>], max_len: usize) -> Vec<u8> {
    let pick = |rng: &mut fastrand::Rng| -> Vec<u8> {
        if seeds.is_empty() {
            Vec::new()
        } else {
            seeds[rng.usize(..seeds.len())].clone()
        }
    };
    match rng.u8(..16) {
        0 => {
            let len = if rng.u8(..8) == 0 {
                rng.usize(..=max_len)
            } else {
                rng.usize(..=max_len.min(256))
            };
            std::iter::repeat_with(|| rng.u8(..)).take(len).collect()
        }
        1 | 2 => {
            let mut out = Vec::new();
            for _ in 0..rng.usize(2..=4) {
                let one = pick(rng);
                out.extend(stack(rng, one, seeds, max_len));
            }
            out.truncate(max_len);
            out
        }
        _ => {
            let one = pick(rng);
            stack(rng, one, seeds, max_len)
        }
    }
}

/// One to eight mutations of `data`.
fn stack(rng: &mut fastrand::Rng, mut data: Vec<u8>, seeds: &[Vec<u8>], max_len: usize) -> Vec<u8> {
    for _ in 0..rng.usize(1..=8) {
        mutation(rng, &mut data, seeds, max_len);
    }
    data.truncate(max_len);
    data
}

fn mutation(rng: &mut fastrand::Rng, data: &mut Vec<u8>, seeds: &[Vec<u8>], max_len: usize) {
    let len = data.len();
    let word = |rng: &mut fastrand::Rng| {
        let w = WORDS[rng.usize(..WORDS.len())];
        match rng.u8(..4) {
            0 => w.wrapping_add(1),
            1 => w.wrapping_sub(1),
            _ => w,
        }
    };
    match rng.u8(..12) {
        0 if len > 0 => data[rng.usize(..len)] ^= 1 << rng.u8(..8),
        1 if len > 0 => data[rng.usize(..len)] = rng.u8(..),
        2 if len > 0 => data[rng.usize(..len)] = BYTES[rng.usize(..BYTES.len())],
        3 if len >= 2 => {
            let at = rng.usize(..=len - 2);
            data[at..at + 2].copy_from_slice(&(word(rng) as u16).to_be_bytes());
        }
        4 if len >= 4 => {
            let at = rng.usize(..=len - 4);
            data[at..at + 4].copy_from_slice(&word(rng).to_be_bytes());
        }
        5 => {
            let at = rng.usize(..=len);
            let n = rng.usize(1..=16);
            let bytes: Vec<u8> = std::iter::repeat_with(|| rng.u8(..)).take(n).collect();
            data.splice(at..at, bytes);
        }
        6 if len > 0 => {
            let at = rng.usize(..len);
            let end = rng.usize(at..=len);
            data.drain(at..end);
        }
        7 if len > 0 => {
            // A piece repeated: floods of frames, lines, records or fields.
            let at = rng.usize(..len);
            let end = rng.usize(at + 1..=len.min(at + 64));
            let piece = data[at..end].to_vec();
            let times = if rng.u8(..8) == 0 {
                rng.usize(1..=4096)
            } else {
                rng.usize(1..=16)
            };
            let room = max_len.saturating_sub(len) / piece.len();
            let copies = piece.repeat(times.min(room));
            data.splice(end..end, copies);
        }
        8 => data.truncate(rng.usize(..=len)),
        9 if !seeds.is_empty() => {
            let other = &seeds[rng.usize(..seeds.len())];
            let from = rng.usize(..=other.len());
            let to = rng.usize(from..=other.len());
            let at = rng.usize(..=len);
            data.splice(at..at, other[from..to].iter().copied());
        }
        10 => {
            let n = rng.usize(1..=64);
            data.extend(std::iter::repeat_with(|| rng.u8(..)).take(n));
        }
        11 if len > 0 && !seeds.is_empty() => {
            // The tail replaced with another seed's.
            let other = &seeds[rng.usize(..seeds.len())];
            let at = rng.usize(..len);
            let from = rng.usize(..=other.len());
            data.truncate(at);
            data.extend_from_slice(&other[from..]);
        }
        _ => {}
    }
}

/// A peer that sends a script and then ends the stream: each read gets a random
/// share of what is left (sometimes a byte, sometimes all of it), and sometimes is
/// not ready first (the task is woken at once). What the decoder writes is counted
/// and dropped.
pub(crate) struct Peer {
    script: Vec<u8>,
    at: usize,
    rng: fastrand::Rng,
    /// Bytes the decoder wrote.
    pub(crate) written: usize,
}

impl Peer {
    /// A peer that sends `script`; `seed` decides the chunks.
    pub(crate) fn new(script: Vec<u8>, seed: u64) -> Peer {
        Peer {
            script,
            at: 0,
            rng: fastrand::Rng::with_seed(seed),
            written: 0,
        }
    }
}

impl AsyncRead for Peer {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if this.rng.u8(..8) == 0 {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let left = &this.script[this.at..];
        let most = match this.rng.u8(..4) {
            0 => this.rng.usize(1..=16),
            1 => this.rng.usize(1..=4096),
            _ => usize::MAX,
        };
        let n = left.len().min(buf.remaining()).min(most);
        buf.put_slice(&left[..n]);
        this.at += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Peer {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.written += buf.len();
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A runtime for stream decoders: one thread, timers on.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a test runtime")
}

/// Runs a decoder over a [`Peer`] to its end; a decoder that neither finishes nor
/// fails soon after its input ended hangs, and fails the case.
pub(crate) fn settle<F: Future>(rt: &tokio::runtime::Runtime, decoder: F) -> F::Output {
    rt.block_on(async {
        tokio::time::timeout(SETTLE, decoder)
            .await
            .expect("the decoder neither finished nor failed after its input ended")
    })
}

/// Asserts that a reason built from a peer's bytes is bounded and says something.
pub(crate) fn assert_reason(reason: &str) {
    assert!(!reason.trim().is_empty(), "an empty reason");
    assert!(
        reason.len() <= 2048,
        "a reason of {} bytes: {:.200}…",
        reason.len(),
        reason
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_stay_within_the_length_and_vary() {
        let seeds = vec![b"hello\r\n".to_vec(), vec![0, 1, 2, 3, 4, 5, 6, 7]];
        let mut rng = fastrand::Rng::with_seed(1);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2000 {
            let m = mutate(&mut rng, &seeds, 300);
            assert!(m.len() <= 300);
            seen.insert(m);
        }
        assert!(seen.len() > 1000, "{} distinct inputs", seen.len());
    }

    #[test]
    fn a_peer_hands_out_its_script_then_ends() {
        use tokio::io::AsyncReadExt;
        let rt = runtime();
        for seed in 0..50 {
            let script: Vec<u8> = (0..=255).collect();
            let mut peer = Peer::new(script.clone(), seed);
            let mut got = Vec::new();
            settle(&rt, peer.read_to_end(&mut got)).unwrap();
            assert_eq!(got, script);
        }
    }

    #[test]
    fn a_failing_case_is_reported() {
        let r = catch_unwind(|| {
            run("selftest", &[vec![9]], 8, |input, _| {
                assert_ne!(input, [9]);
                String::new()
            })
        });
        assert!(r.is_err(), "the seed itself fails");
        let _ = std::fs::remove_file(std::env::temp_dir().join("whenready-fuzz-selftest-0-0.bin"));
    }
}
