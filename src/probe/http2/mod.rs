//! A minimal HTTP/2 client for one request on a fresh connection: what the gRPC
//! health call needs, written from RFC 9113 (HTTP/2) and RFC 7541 (HPACK).
//!
//! [`request`] sends the connection preface, SETTINGS, one HEADERS and one DATA frame
//! on stream 1, answers the server's SETTINGS and PINGs, and reads stream 1's header
//! blocks (headers, then trailers) and data until END_STREAM. The header blocks are
//! decoded by [`hpack`], a complete HPACK decoder ([`Decoder`]). A general client (hyper's
//! `http2` feature, the h2 crate) would add 258 KB to the static binary for this one
//! exchange (measured). Every length the server sends is bounded: a frame by the
//! default SETTINGS_MAX_FRAME_SIZE (16 KiB), the data by [`MAX_DATA`], a header list
//! by [`MAX_HEADERS`]; nothing the server sends can make it panic.

pub mod hpack;

pub use hpack::{encode_headers, huffman_decode, Decoder, MAX_HEADERS};

use crate::probe::wire::Cursor;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The most response data kept (a health answer is a few bytes).
pub const MAX_DATA: usize = 64 * 1024;

/// The frame size every HTTP/2 peer must accept, and the largest we accept.
const MAX_FRAME: usize = 16 * 1024;

/// What the server answered on stream 1.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Response {
    /// The first header block (`:status` included).
    pub headers: Vec<(String, String)>,
    /// The data frames' payloads, joined.
    pub data: Vec<u8>,
    /// The second header block, if any.
    pub trailers: Vec<(String, String)>,
}

impl Response {
    /// The value of `name` in the headers.
    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, name)
    }

    /// The value of `name` in the trailers.
    pub fn trailer(&self, name: &str) -> Option<&str> {
        find(&self.trailers, name)
    }
}

fn find<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Why the exchange failed: an I/O error, or what the server did wrong.
#[derive(Debug)]
pub enum Error {
    /// Reading or writing failed.
    Io(std::io::Error),
    /// The server broke the protocol, reset the stream or went away.
    Protocol(String),
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

fn protocol<T>(why: impl Into<String>) -> Result<T, Error> {
    Err(Error::Protocol(why.into()))
}

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PUSH_PROMISE: u8 = 0x5;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const CONTINUATION: u8 = 0x9;

const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;

/// A frame of `kind` on `stream` around `payload`.
pub(crate) fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut f = len.to_be_bytes()[1..].to_vec();
    f.push(kind);
    f.push(flags);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// Sends one request on stream 1 of a fresh connection and reads its response:
/// `fields` are the request's header fields, pseudo-headers first.
pub async fn request<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    fields: &[(&str, &str)],
    body: &[u8],
) -> Result<Response, Error> {
    let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    // SETTINGS_ENABLE_PUSH = 0: nothing but our one stream.
    out.extend(frame(SETTINGS, 0, 0, &[0, 2, 0, 0, 0, 0]));
    let block = encode_headers(fields);
    if block.len() > MAX_FRAME || body.len() > MAX_FRAME {
        return protocol("the request is larger than one frame");
    }
    out.extend(frame(HEADERS, END_HEADERS, 1, &block));
    out.extend(frame(DATA, END_STREAM, 1, body));
    stream.write_all(&out).await?;
    stream.flush().await?;

    let mut decoder = Decoder::new();
    let mut response = Response::default();
    let mut blocks = 0;
    // A header block in progress (HEADERS without END_HEADERS, then CONTINUATION),
    // and whether its HEADERS frame ended the stream.
    let mut pending: Option<(Vec<u8>, bool)> = None;
    loop {
        let mut head = [0u8; 9];
        stream.read_exact(&mut head).await?;
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let (kind, flags) = (head[3], head[4]);
        let id = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7FFF_FFFF;
        if len > MAX_FRAME {
            return protocol(format!(
                "not an HTTP/2 server (a frame of {len} bytes, or no frame at all)"
            ));
        }
        let mut payload = vec![0u8; len];
        stream.read_exact(&mut payload).await?;
        if let Some((block, _)) = &mut pending {
            if kind != CONTINUATION || id != 1 {
                return protocol("a header block interrupted by another frame");
            }
            block.extend_from_slice(&payload);
            if block.len() > MAX_HEADERS {
                return protocol("a header block larger than 64 KiB");
            }
        }
        match kind {
            SETTINGS if id == 0 => {
                if flags & ACK == 0 {
                    if !len.is_multiple_of(6) {
                        return protocol("a SETTINGS frame of the wrong size");
                    }
                    stream.write_all(&frame(SETTINGS, ACK, 0, &[])).await?;
                    stream.flush().await?;
                }
                continue;
            }
            PING if id == 0 => {
                if flags & ACK == 0 && len == 8 {
                    stream.write_all(&frame(PING, ACK, 0, &payload)).await?;
                    stream.flush().await?;
                }
                continue;
            }
            GOAWAY => {
                let code = Cursor::at(&payload, 4).u32().unwrap_or(0);
                let debug = String::from_utf8_lossy(payload.get(8..).unwrap_or_default());
                let debug: String = debug.chars().take(80).collect();
                return protocol(format!(
                    "the server closed the connection (GOAWAY, {}{})",
                    error_name(code),
                    if debug.is_empty() {
                        String::new()
                    } else {
                        format!(": {debug:?}")
                    }
                ));
            }
            RST_STREAM if id == 1 => {
                let code = Cursor::new(&payload).u32().unwrap_or(0);
                return protocol(format!(
                    "the server reset the stream ({})",
                    error_name(code)
                ));
            }
            PUSH_PROMISE => return protocol("a PUSH_PROMISE, which was disabled"),
            _ if id != 1 => continue,
            DATA => {
                if blocks == 0 {
                    return protocol("data before the response headers");
                }
                let data = unpad(&payload, flags)?;
                if response.data.len() + data.len() > MAX_DATA {
                    return protocol("more than 64 KiB of response data");
                }
                response.data.extend_from_slice(data);
                if flags & END_STREAM != 0 {
                    return Ok(response);
                }
            }
            HEADERS => {
                let mut fragment = unpad(&payload, flags)?;
                if flags & PRIORITY != 0 {
                    fragment = fragment
                        .get(5..)
                        .ok_or(Error::Protocol("a HEADERS frame cut short".into()))?;
                }
                pending = Some((fragment.to_vec(), flags & END_STREAM != 0));
                if flags & END_HEADERS == 0 {
                    continue;
                }
            }
            CONTINUATION => {
                if pending.is_none() {
                    return protocol("a CONTINUATION without HEADERS");
                }
                if flags & END_HEADERS == 0 {
                    continue;
                }
            }
            _ => continue,
        }
        // A header block is complete.
        if let Some((block, ends)) = pending.take() {
            let fields = decoder.decode(&block).map_err(Error::Protocol)?;
            let informational = blocks == 0
                && find(&fields, ":status").is_some_and(|s| s.len() == 3 && s.starts_with('1'));
            if !informational {
                match blocks {
                    0 => response.headers = fields,
                    _ => response.trailers = fields,
                }
                blocks += 1;
            }
            if ends {
                return Ok(response);
            }
        }
    }
}

/// A frame's payload without its padding (when PADDED is set).
fn unpad(payload: &[u8], flags: u8) -> Result<&[u8], Error> {
    if flags & PADDED == 0 {
        return Ok(payload);
    }
    let (&pad, rest) = payload.split_first().ok_or(Error::Protocol(
        "a padded frame without its pad length".into(),
    ))?;
    rest.len()
        .checked_sub(pad as usize)
        .map(|end| &rest[..end])
        .ok_or(Error::Protocol("padding longer than the frame".into()))
}

fn error_name(code: u32) -> String {
    let name = match code {
        0x0 => "NO_ERROR",
        0x1 => "PROTOCOL_ERROR",
        0x2 => "INTERNAL_ERROR",
        0x3 => "FLOW_CONTROL_ERROR",
        0x5 => "STREAM_CLOSED",
        0x6 => "FRAME_SIZE_ERROR",
        0x7 => "REFUSED_STREAM",
        0x8 => "CANCEL",
        0x9 => "COMPRESSION_ERROR",
        0xb => "ENHANCE_YOUR_CALM",
        0xd => "HTTP_1_1_REQUIRED",
        n => return format!("error {n}"),
    };
    name.to_string()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::probe::wire::fuzz;

    fn exchange(bytes: Vec<u8>) -> Result<Response, Error> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (mut client, mut server) = tokio::io::duplex(1 << 20);
            server.write_all(&bytes).await.unwrap();
            server.shutdown().await.unwrap();
            tokio::spawn(async move {
                let mut sink = Vec::new();
                let _ = server.read_to_end(&mut sink).await;
            });
            request(&mut client, &[(":method", "POST")], b"x").await
        })
    }

    #[test]
    fn a_response_with_trailers() {
        let mut s = frame(SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 100]);
        s.extend(frame(PING, 0, 0, &[1; 8]));
        s.extend(frame(HEADERS, END_HEADERS, 1, &[0x88])); // :status 200
        s.extend(frame(DATA, PADDED, 1, &[2, 7, 7, 0, 0]));
        let trailers = encode_headers(&[("grpc-status", "0")]);
        // The trailers in two frames: HEADERS (ending the stream), CONTINUATION.
        s.extend(frame(HEADERS, END_STREAM, 1, &trailers[..3]));
        s.extend(frame(CONTINUATION, END_HEADERS, 1, &trailers[3..]));
        let r = exchange(s).unwrap();
        assert_eq!(r.header(":status"), Some("200"));
        assert_eq!(r.data, vec![7, 7]);
        assert_eq!(r.trailer("grpc-status"), Some("0"));
    }

    #[test]
    fn goaway_reset_and_garbage_are_errors() {
        let e = exchange(frame(GOAWAY, 0, 0, &[0, 0, 0, 0, 0, 0, 0, 0xb])).unwrap_err();
        assert!(
            matches!(e, Error::Protocol(ref m) if m.contains("ENHANCE_YOUR_CALM")),
            "{e:?}"
        );
        let e = exchange(frame(RST_STREAM, 0, 1, &[0, 0, 0, 7])).unwrap_err();
        assert!(
            matches!(e, Error::Protocol(ref m) if m.contains("REFUSED_STREAM")),
            "{e:?}"
        );
        let e = exchange(b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec()).unwrap_err();
        assert!(
            matches!(e, Error::Protocol(ref m) if m.contains("not an HTTP/2 server")),
            "{e:?}"
        );
        let e = exchange(Vec::new()).unwrap_err();
        assert!(matches!(e, Error::Io(_)), "{e:?}");
    }

    /// A whole response: SETTINGS, PING, 100 Continue, headers (with PRIORITY),
    /// padded data, trailers split over CONTINUATION.
    pub(crate) fn full_response(data: &[u8]) -> Vec<u8> {
        let mut s = frame(SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 100, 0, 1, 0, 0, 0x10, 0]);
        s.extend(frame(PING, 0, 0, &[1; 8]));
        s.extend(frame(
            HEADERS,
            END_HEADERS,
            1,
            &encode_headers(&[(":status", "100")]),
        ));
        let mut headers = vec![0x80, 0, 0, 3, 16];
        headers.extend(encode_headers(&[
            (":status", "200"),
            ("content-type", "application/grpc"),
        ]));
        s.extend(frame(HEADERS, END_HEADERS | PRIORITY, 1, &headers));
        s.extend(frame(SETTINGS, ACK, 0, &[]));
        let mut padded = vec![3];
        padded.extend(data);
        padded.extend([0, 0, 0]);
        s.extend(frame(DATA, PADDED, 1, &padded));
        let trailers = encode_headers(&[("grpc-status", "0"), ("grpc-message", "")]);
        s.extend(frame(HEADERS, END_STREAM, 1, &trailers[..5]));
        s.extend(frame(CONTINUATION, END_HEADERS, 1, &trailers[5..]));
        s
    }

    /// The response to the request against every byte stream.
    #[test]
    fn fuzz_frames() {
        let rt = fuzz::runtime();
        let seeds = vec![
            full_response(&[0, 0, 0, 0, 2, 0x08, 1]),
            [
                frame(SETTINGS, 0, 0, &[]),
                frame(
                    HEADERS,
                    END_HEADERS | END_STREAM,
                    1,
                    &[0x88, 0x40, 1, b'g', 1, b'1', 0xbe],
                ),
            ]
            .concat(),
            frame(
                GOAWAY,
                0,
                0,
                &[0, 0, 0, 1, 0, 0, 0, 0xb, b'c', b'a', b'l', b'm'],
            ),
            frame(RST_STREAM, 0, 1, &[0, 0, 0, 7]),
            frame(PUSH_PROMISE, END_HEADERS, 1, &[0, 0, 0, 2, 0x88]),
        ];
        fuzz::run("http2", &seeds, 200_000, |input, case| {
            let mut peer = fuzz::Peer::new(input.to_vec(), case);
            let result = fuzz::settle(&rt, request(&mut peer, &[(":method", "POST")], b"x"));
            match &result {
                Ok(r) => assert!(r.data.len() <= MAX_DATA),
                Err(Error::Protocol(why)) => fuzz::assert_reason(why),
                Err(Error::Io(_)) => {}
            }
            fuzz::outcome(&result.map_err(|e| match e {
                Error::Io(e) => e.to_string(),
                Error::Protocol(why) => why,
            }))
        });
    }
}
