//! Small fake servers on 127.0.0.1 for faults a real server will not produce on
//! demand: a listener whose connections a closure handles, silence, a minimal HTTP
//! server.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- fake servers

/// A listener on 127.0.0.1 whose connections are handled by a closure, each in its
/// own thread. Stops accepting on drop.
pub struct Fake {
    /// The port it listens on.
    pub port: u16,
    stop: Arc<AtomicBool>,
    /// How many connections were accepted.
    pub accepted: Arc<AtomicUsize>,
    /// The client address of each accepted connection, in order.
    peers: Arc<std::sync::Mutex<Vec<std::net::SocketAddr>>>,
}

impl Fake {
    /// Listens on a free port; `handle(stream, n)` gets the n-th connection (from 0).
    pub fn start(handle: impl Fn(TcpStream, usize) + Send + Sync + 'static) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        Fake::on(listener, handle)
    }

    /// Serves on an existing listener.
    pub fn on(
        listener: TcpListener,
        handle: impl Fn(TcpStream, usize) + Send + Sync + 'static,
    ) -> Fake {
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let peers = Arc::new(std::sync::Mutex::new(Vec::new()));
        let handle = Arc::new(handle);
        let (s, a, p) = (stop.clone(), accepted.clone(), peers.clone());
        thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nonblocking(false);
                        p.lock().unwrap().push(peer);
                        let n = a.fetch_add(1, Ordering::SeqCst);
                        let h = handle.clone();
                        thread::spawn(move || h(stream, n));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Fake {
            port,
            stop,
            accepted,
            peers,
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// How many connections were made to it so far, once every one of them has been
    /// accepted. A client may exit as soon as the kernel completes its handshake,
    /// before the accept thread takes the connection, so the bare counter can lag.
    /// The kernel hands out connections in the order they were made: when a marker
    /// connection made now is accepted, every earlier one was, and its place in the
    /// order is the answer.
    pub fn connections_so_far(&self) -> usize {
        let marker = TcpStream::connect(("127.0.0.1", self.port)).expect("marker connection");
        let me = marker.local_addr().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(place) = self.peers.lock().unwrap().iter().position(|p| *p == me) {
                return place;
            }
            assert!(
                Instant::now() < deadline,
                "the marker connection was never accepted"
            );
            thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Accepts and never sends a byte (holds the connection for a minute).
pub fn silent(stream: TcpStream, _: usize) {
    thread::sleep(Duration::from_secs(60));
    drop(stream);
}

/// Reads an HTTP request head; returns the request line.
pub fn read_request(stream: &mut impl Read) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&buf)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

/// Writes a minimal HTTP/1.1 response and closes.
pub fn respond(stream: &mut impl Write, status: u16, extra_headers: &str, body: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n{extra_headers}\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
}

/// An HTTP server whose answer depends on the path and the connection number.
pub fn http(answer: impl Fn(&str, usize) -> (u16, String) + Send + Sync + 'static) -> Fake {
    Fake::start(move |mut s, n| {
        let line = read_request(&mut s);
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        let (status, headers) = answer(&path, n);
        respond(&mut s, status, &headers, "ok\n");
    })
}
