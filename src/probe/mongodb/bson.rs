//! BSON (bsonspec.org), as much as the probe needs: commands written with a small
//! builder ([`DocBuf`]), and replies read as a view over their bytes ([`Doc`]),
//! validated whole before a field is looked at: every length is checked against
//! the bytes that hold it, every element type is known (its size follows from it),
//! documents nest at most [`MAX_DEPTH`] deep, and nothing is allocated for a field
//! that is not asked for. No input makes it panic or read past the end.

use crate::probe::wire::Cursor;

/// The deepest nesting of documents and arrays read.
pub const MAX_DEPTH: usize = 16;

/// Builds one BSON document.
#[derive(Debug, Clone)]
pub struct DocBuf(Vec<u8>);

impl Default for DocBuf {
    fn default() -> Self {
        DocBuf::new()
    }
}

impl DocBuf {
    /// An empty document.
    pub fn new() -> DocBuf {
        DocBuf(vec![0; 4])
    }

    fn key(&mut self, kind: u8, key: &str) {
        self.0.push(kind);
        // Keys are C strings: one with a NUL in it is cut there.
        self.0
            .extend_from_slice(key.split('\0').next().unwrap_or("").as_bytes());
        self.0.push(0);
    }

    /// A UTF-8 string.
    pub fn str(mut self, key: &str, value: &str) -> DocBuf {
        self.key(0x02, key);
        self.0
            .extend_from_slice(&(value.len() as i32 + 1).to_le_bytes());
        self.0.extend_from_slice(value.as_bytes());
        self.0.push(0);
        self
    }

    /// A 32-bit integer.
    pub fn i32(mut self, key: &str, value: i32) -> DocBuf {
        self.key(0x10, key);
        self.0.extend_from_slice(&value.to_le_bytes());
        self
    }

    /// A boolean.
    pub fn bool(mut self, key: &str, value: bool) -> DocBuf {
        self.key(0x08, key);
        self.0.push(value as u8);
        self
    }

    /// Generic binary data (subtype 0).
    pub fn binary(mut self, key: &str, value: &[u8]) -> DocBuf {
        self.key(0x05, key);
        self.0
            .extend_from_slice(&(value.len() as i32).to_le_bytes());
        self.0.push(0);
        self.0.extend_from_slice(value);
        self
    }

    /// An embedded document.
    pub fn doc(mut self, key: &str, value: DocBuf) -> DocBuf {
        self.key(0x03, key);
        self.0.extend_from_slice(&value.finish());
        self
    }

    /// The document's bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.0.push(0);
        let len = self.0.len() as i32;
        self.0[..4].copy_from_slice(&len.to_le_bytes());
        self.0
    }
}

/// A value of a validated document.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// 0x01.
    Double(f64),
    /// 0x02 (lossy where not UTF-8).
    Str(&'a [u8]),
    /// 0x03.
    Doc(Doc<'a>),
    /// 0x04: a document whose keys are indexes.
    Array(Doc<'a>),
    /// 0x05: the bytes (subtype dropped).
    Binary(&'a [u8]),
    /// 0x08.
    Bool(bool),
    /// 0x10.
    Int32(i32),
    /// 0x12.
    Int64(i64),
    /// 0x0A.
    Null,
    /// Any other known type (ObjectId, dates, timestamps, ...): not read.
    Other,
}

impl<'a> Value<'a> {
    /// A number as a float (double, int32 or int64), as BSON's `ok` may be any.
    pub fn number(&self) -> Option<f64> {
        match *self {
            Value::Double(d) => Some(d),
            Value::Int32(i) => Some(f64::from(i)),
            Value::Int64(i) => Some(i as f64),
            _ => None,
        }
    }

    /// A string as text (lossy UTF-8).
    pub fn text(&self) -> Option<String> {
        match self {
            Value::Str(s) => Some(String::from_utf8_lossy(s).into_owned()),
            _ => None,
        }
    }

    /// A boolean (a number other than 0 counts as true, as the servers' `ok`).
    pub fn truth(&self) -> bool {
        match *self {
            Value::Bool(b) => b,
            other => other.number().is_some_and(|n| n != 0.0),
        }
    }
}

/// A document whose bytes were validated whole ([`parse`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Doc<'a> {
    /// The elements, without the length and the final NUL.
    body: &'a [u8],
}

/// Checks `bytes` as one BSON document of exactly that length.
pub fn parse(bytes: &[u8]) -> Result<Doc<'_>, String> {
    let (doc, used) = document(bytes, 0)?;
    if used != bytes.len() {
        return Err(format!("{} bytes after the document", bytes.len() - used));
    }
    Ok(doc)
}

/// A document at the start of `bytes` (validated, nested `depth` deep), and its
/// length.
fn document(bytes: &[u8], depth: usize) -> Result<(Doc<'_>, usize), String> {
    if depth > MAX_DEPTH {
        return Err(format!("documents nested deeper than {MAX_DEPTH}"));
    }
    let mut c = Cursor::new(bytes);
    let len = c
        .array::<4>()
        .map(i32::from_le_bytes)
        .ok_or("a cut document")?;
    if len < 5 || len as usize > bytes.len() {
        return Err(format!(
            "a document of {len} bytes where {} are left",
            bytes.len()
        ));
    }
    let len = len as usize;
    if bytes[len - 1] != 0 {
        return Err("a document without its final NUL".into());
    }
    let body = &bytes[4..len - 1];
    let mut c = Cursor::new(body);
    while !c.is_empty() {
        element(&mut c, depth)?;
    }
    Ok((Doc { body }, len))
}

/// Reads one element at `c` (validating what it holds); its key and value.
fn element<'a>(c: &mut Cursor<'a>, depth: usize) -> Result<(&'a [u8], Value<'a>), String> {
    let kind = c.u8().ok_or("a cut element")?;
    let key = cstring(c)?;
    let cut = || "a value cut short".to_string();
    let int = |c: &mut Cursor<'a>| c.array::<4>().map(i32::from_le_bytes).ok_or_else(cut);
    let value = match kind {
        0x01 => Value::Double(f64::from_le_bytes(c.array().ok_or_else(cut)?)),
        0x02 | 0x0D | 0x0E => {
            let n = int(c)?;
            if n < 1 {
                return Err(format!("a string of length {n}"));
            }
            let s = c.take(n as usize).ok_or_else(cut)?;
            if s.last() != Some(&0) {
                return Err("a string without its final NUL".into());
            }
            let s = &s[..s.len() - 1];
            if kind == 0x02 {
                Value::Str(s)
            } else {
                Value::Other
            }
        }
        0x03 | 0x04 => {
            let (doc, len) = document(c.rest(), depth + 1)?;
            c.skip(len).ok_or_else(cut)?;
            if kind == 0x03 {
                Value::Doc(doc)
            } else {
                Value::Array(doc)
            }
        }
        0x05 => {
            let n = int(c)?;
            if n < 0 {
                return Err(format!("binary data of length {n}"));
            }
            c.u8().ok_or_else(cut)?;
            Value::Binary(c.take(n as usize).ok_or_else(cut)?)
        }
        0x06 | 0x0A | 0x7F | 0xFF => {
            if kind == 0x0A {
                Value::Null
            } else {
                Value::Other
            }
        }
        0x07 => {
            c.skip(12).ok_or_else(cut)?;
            Value::Other
        }
        0x08 => match c.u8().ok_or_else(cut)? {
            0 => Value::Bool(false),
            1 => Value::Bool(true),
            b => return Err(format!("a boolean of value {b}")),
        },
        0x09 | 0x11 => {
            c.skip(8).ok_or_else(cut)?;
            Value::Other
        }
        0x0B => {
            cstring(c)?;
            cstring(c)?;
            Value::Other
        }
        0x0C => {
            let n = int(c)?;
            if n < 1 {
                return Err(format!("a string of length {n}"));
            }
            c.skip(n as usize + 12).ok_or_else(cut)?;
            Value::Other
        }
        0x0F => {
            // Code with scope: a total length, a string, a document.
            let n = int(c)?;
            if n < 14 {
                return Err(format!("code with scope of length {n}"));
            }
            let inner = c.take(n as usize - 4).ok_or_else(cut)?;
            let mut ic = Cursor::new(inner);
            let s = ic.array::<4>().map(i32::from_le_bytes).ok_or_else(cut)?;
            if s < 1 {
                return Err(format!("a string of length {s}"));
            }
            ic.skip(s as usize).ok_or_else(cut)?;
            let (_, len) = document(ic.rest(), depth + 1)?;
            if len != ic.rest().len() {
                return Err("code with scope of the wrong length".into());
            }
            Value::Other
        }
        0x10 => Value::Int32(int(c)?),
        0x12 => Value::Int64(i64::from_le_bytes(c.array().ok_or_else(cut)?)),
        0x13 => {
            c.skip(16).ok_or_else(cut)?;
            Value::Other
        }
        other => return Err(format!("an element of unknown type 0x{other:02x}")),
    };
    Ok((key, value))
}

fn cstring<'a>(c: &mut Cursor<'a>) -> Result<&'a [u8], String> {
    let rest = c.rest();
    let end = rest
        .iter()
        .position(|b| *b == 0)
        .ok_or("a name without its NUL")?;
    let s = c.take(end).ok_or("a cut name")?;
    c.skip(1).ok_or("a cut name")?;
    Ok(s)
}

impl<'a> Doc<'a> {
    /// The elements in order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a [u8], Value<'a>)> + 'a {
        let mut c = Cursor::new(self.body);
        // Validated already: every element reads; depth no longer matters.
        std::iter::from_fn(move || {
            if c.is_empty() {
                None
            } else {
                element(&mut c, 0).ok()
            }
        })
    }

    /// The first value named `key`.
    pub fn get(&self, key: &str) -> Option<Value<'a>> {
        self.iter()
            .find(|(k, _)| *k == key.as_bytes())
            .map(|(_, v)| v)
    }

    /// A string field as text.
    pub fn text(&self, key: &str) -> Option<String> {
        self.get(key).and_then(|v| v.text())
    }

    /// A boolean field (absent: false).
    pub fn truth(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| v.truth())
    }

    /// The strings of an array field, at most `max` of them.
    pub fn strings(&self, key: &str, max: usize) -> Vec<String> {
        match self.get(key) {
            Some(Value::Array(a)) => a.iter().filter_map(|(_, v)| v.text()).take(max).collect(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_round_trips() {
        let bytes = DocBuf::new()
            .i32("hello", 1)
            .str("$db", "admin")
            .bool("helloOk", true)
            .binary("payload", b"n,,n=u")
            .doc("options", DocBuf::new().bool("skipEmptyExchange", true))
            .finish();
        let d = parse(&bytes).unwrap();
        assert_eq!(d.get("hello"), Some(Value::Int32(1)));
        assert_eq!(d.text("$db").as_deref(), Some("admin"));
        assert!(d.truth("helloOk"));
        assert_eq!(d.get("payload"), Some(Value::Binary(b"n,,n=u")));
        let Some(Value::Doc(o)) = d.get("options") else {
            panic!()
        };
        assert!(o.truth("skipEmptyExchange"));
        assert_eq!(d.get("nope"), None);
    }

    #[test]
    fn a_reply_with_every_common_type_is_read() {
        // {ok: 1.0, hosts: ["a:1", "b:2"], n: null, t: Timestamp, id: ObjectId,
        //  d: Date, l: int64}
        let mut b = vec![0u8; 4];
        b.push(0x01);
        b.extend_from_slice(b"ok\0");
        b.extend_from_slice(&1.0f64.to_le_bytes());
        let mut arr = vec![0u8; 4];
        for (i, h) in ["a:1", "b:2"].iter().enumerate() {
            arr.push(0x02);
            arr.extend_from_slice(format!("{i}\0").as_bytes());
            arr.extend_from_slice(&4i32.to_le_bytes());
            arr.extend_from_slice(h.as_bytes());
            arr.push(0);
        }
        arr.push(0);
        let n = arr.len() as i32;
        arr[..4].copy_from_slice(&n.to_le_bytes());
        b.push(0x04);
        b.extend_from_slice(b"hosts\0");
        b.extend_from_slice(&arr);
        b.extend_from_slice(b"\x0an\0");
        b.extend_from_slice(b"\x11t\0");
        b.extend_from_slice(&[1; 8]);
        b.extend_from_slice(b"\x07id\0");
        b.extend_from_slice(&[2; 12]);
        b.extend_from_slice(b"\x09d\0");
        b.extend_from_slice(&[3; 8]);
        b.extend_from_slice(b"\x12l\0");
        b.extend_from_slice(&7i64.to_le_bytes());
        b.push(0);
        let n = b.len() as i32;
        b[..4].copy_from_slice(&n.to_le_bytes());
        let d = parse(&b).unwrap();
        assert_eq!(d.get("ok").unwrap().number(), Some(1.0));
        assert_eq!(d.strings("hosts", 10), ["a:1", "b:2"]);
        assert_eq!(d.strings("hosts", 1), ["a:1"]);
        assert_eq!(d.get("n"), Some(Value::Null));
        assert_eq!(d.get("l"), Some(Value::Int64(7)));
        // Cut anywhere: an error, never a panic.
        for end in 0..b.len() {
            assert!(parse(&b[..end]).is_err(), "{end}");
        }
    }

    #[test]
    fn lengths_and_nesting_are_bounded() {
        let e = parse(&[0xff, 0xff, 0xff, 0x7f, 0]).unwrap_err();
        assert!(e.contains("2147483647 bytes where 5 are left"), "{e}");
        // Documents nested 100 deep.
        let mut d = DocBuf::new().i32("x", 1);
        for _ in 0..100 {
            d = DocBuf::new().doc("d", d);
        }
        let e = parse(&d.finish()).unwrap_err();
        assert!(e.contains("nested deeper than 16"), "{e}");
        let e = parse(&[8, 0, 0, 0, 0x42, b'a', 0, 0]).unwrap_err();
        assert!(e.contains("unknown type 0x42"), "{e}");
        let e = parse(&[12, 0, 0, 0, 0x02, b'a', 0, 0xff, 0xff, 0xff, 0x7f, 0]).unwrap_err();
        assert!(e.contains("cut"), "{e}");
    }

    #[test]
    fn fuzz_bson() {
        use crate::probe::wire::fuzz::{assert_reason, outcome, run};
        let seeds = vec![
            DocBuf::new()
                .i32("ok", 1)
                .str("setName", "rs0")
                .binary("payload", b"r=x")
                .doc("d", DocBuf::new().bool("b", true))
                .finish(),
            vec![5, 0, 0, 0, 0],
        ];
        run("bson", &seeds, 1024, |input, _| {
            let r = parse(input);
            match &r {
                Ok(d) => {
                    let _ = d.iter().count();
                    let _ = d.strings("hosts", 50);
                    let _ = d.text("setName");
                }
                Err(e) => assert_reason(e),
            }
            outcome(&r)
        });
    }
}
