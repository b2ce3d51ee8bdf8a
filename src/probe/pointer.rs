//! JSON pointer expectations, `/POINTER[:VALUE,VALUE…]`, as http's `#json=` and
//! k8s's `field=` write them: how one is parsed, which values it accepts, how a
//! reason words what was expected, and a bounded look-up of one pointer in a JSON
//! text ([`lookup`]) that keeps no more of the document than the value found, cut
//! down to a [`Leaf`].
//!
//! A leaf module: it knows JSON and RFC 6901, nothing of the kinds that use it.

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// `POINTER[:VALUE,VALUE...]`: the value at an RFC 6901 pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonExpectation {
    /// The pointer, decoded (`~0`, `~1` still escaped, as RFC 6901 writes them).
    pub pointer: String,
    /// Accepted values; empty means present and neither `null` nor `false`.
    pub values: Vec<String>,
}

/// A value as an expectation compares it: a scalar, or only the kind of a
/// composite (an array or object equals no written value).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, compared as a float.
    Number(f64),
    /// A string; `cut`: longer than what was kept, so it equals no written value.
    Str {
        /// The string (or its start, when `cut`).
        text: &'a str,
        /// Only the start was kept.
        cut: bool,
    },
    /// An array.
    Array,
    /// An object.
    Object,
}

impl<'a> Scalar<'a> {
    /// The scalar of a parsed value.
    pub fn of(value: &'a serde_json::Value) -> Scalar<'a> {
        use serde_json::Value;
        match value {
            Value::Null => Scalar::Null,
            Value::Bool(b) => Scalar::Bool(*b),
            Value::Number(n) => Scalar::Number(n.as_f64().unwrap_or(f64::NAN)),
            Value::String(s) => Scalar::Str {
                text: s,
                cut: false,
            },
            Value::Array(_) => Scalar::Array,
            Value::Object(_) => Scalar::Object,
        }
    }
}

impl JsonExpectation {
    /// Parses `POINTER[:VALUE,VALUE...]` as written in a URL: split at the first
    /// colon and at commas before percent-decoding, so that `%3A` and `%2C` are a
    /// literal colon and comma. `key` and `example` word the error (`json`,
    /// `json=/status:green,yellow`).
    pub fn parse(raw: &str, key: &str, example: &str) -> Result<JsonExpectation, String> {
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let (pointer, values) = match raw.split_once(':') {
            Some((p, v)) => (decode(p), v.split(',').map(decode).collect()),
            None => (decode(raw), Vec::new()),
        };
        check_pointer(&pointer).map_err(|why| {
            format!("invalid JSON pointer {pointer:?} in {key}=: {why} (write {example})")
        })?;
        Ok(JsonExpectation { pointer, values })
    }

    /// Whether `value` is one of the accepted values: a string equals one, a number
    /// equals one read as a number, `true`/`false`/`null` are written as such.
    /// Without values: present and neither `null` nor `false`.
    pub fn accepts(&self, value: Scalar<'_>) -> bool {
        if self.values.is_empty() {
            return !matches!(value, Scalar::Null | Scalar::Bool(false));
        }
        self.values.iter().any(|want| match value {
            Scalar::Str { text, cut } => !cut && text == want,
            Scalar::Number(a) => want.parse::<f64>().is_ok_and(|b| a == b),
            Scalar::Bool(b) => want == if b { "true" } else { "false" },
            Scalar::Null => want == "null",
            Scalar::Array | Scalar::Object => false,
        })
    }

    /// What a reason says was expected: `expected green or yellow`.
    pub fn expected(&self) -> String {
        if self.values.is_empty() {
            "expected a value other than null and false".to_string()
        } else {
            format!("expected {}", self.values.join(" or "))
        }
    }

    /// The pointer as a reason names it (`the document` for the empty one).
    pub fn shown(&self) -> &str {
        if self.pointer.is_empty() {
            "the document"
        } else {
            &self.pointer
        }
    }

    /// The pointer's reference tokens, unescaped (`~1` is `/`, `~0` is `~`).
    pub fn tokens(&self) -> Vec<String> {
        if self.pointer.is_empty() {
            return Vec::new();
        }
        self.pointer[1..]
            .split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect()
    }
}

/// An RFC 6901 pointer: empty (the whole document) or `/`-separated tokens in
/// which `~` is followed by `0` or `1`. The error says what is wrong.
pub fn check_pointer(pointer: &str) -> Result<(), &'static str> {
    if !pointer.is_empty() && !pointer.starts_with('/') {
        return Err("it starts with /");
    }
    let mut chars = pointer.chars();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
            return Err("~ is followed by 0 or 1");
        }
    }
    Ok(())
}

/// The most of a string value a [`Leaf`] keeps: a longer one is cut, and then
/// equals no written value.
pub const MAX_LEAF_TEXT: usize = 1024;

/// A value found at a pointer, cut down: a scalar, at most [`MAX_LEAF_TEXT`] bytes
/// of a string, only the kind of an array or object.
#[derive(Debug, Clone, PartialEq)]
pub enum Leaf {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Number(f64),
    /// A string (its start, when `cut`).
    Str {
        /// The string, at most [`MAX_LEAF_TEXT`] bytes.
        text: Box<str>,
        /// It was longer.
        cut: bool,
    },
    /// An array.
    Array,
    /// An object.
    Object,
}

impl Leaf {
    /// The leaf as an expectation compares it.
    pub fn scalar(&self) -> Scalar<'_> {
        match self {
            Leaf::Null => Scalar::Null,
            Leaf::Bool(b) => Scalar::Bool(*b),
            Leaf::Number(n) => Scalar::Number(*n),
            Leaf::Str { text, cut } => Scalar::Str { text, cut: *cut },
            Leaf::Array => Scalar::Array,
            Leaf::Object => Scalar::Object,
        }
    }

    /// The bytes it keeps on the heap.
    pub fn heap(&self) -> usize {
        match self {
            Leaf::Str { text, .. } => text.len(),
            _ => 0,
        }
    }
}

impl fmt::Display for Leaf {
    /// As JSON writes it (a cut string ends with `…` inside its quotes).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Leaf::Null => f.write_str("null"),
            Leaf::Bool(b) => write!(f, "{b}"),
            Leaf::Number(n) => write!(f, "{n}"),
            Leaf::Str { text, cut } => {
                let quoted = serde_json::Value::String(text.to_string()).to_string();
                if *cut {
                    write!(f, "{}…\"", &quoted[..quoted.len() - 1])
                } else {
                    f.write_str(&quoted)
                }
            }
            Leaf::Array => f.write_str("an array"),
            Leaf::Object => f.write_str("an object"),
        }
    }
}

/// The value at `tokens` (a pointer's [`JsonExpectation::tokens`]) in the JSON
/// text `json`, as a [`Leaf`]; `None` when the pointer leads nowhere. The text is
/// read once, every value off the path skipped without being kept.
pub fn lookup(json: &str, tokens: &[String]) -> Result<Option<Leaf>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(json);
    let found = At(tokens).deserialize(&mut de)?;
    de.end()?;
    Ok(found)
}

/// Looks for the rest of a pointer in a value.
struct At<'t>(&'t [String]);

impl<'de> DeserializeSeed<'de> for At<'_> {
    type Value = Option<Leaf>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<Leaf>, D::Error> {
        if self.0.is_empty() {
            d.deserialize_any(LeafVisitor).map(Some)
        } else {
            d.deserialize_any(self)
        }
    }
}

impl<'de> Visitor<'de> for At<'_> {
    type Value = Option<Leaf>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Leaf>, A::Error> {
        let (head, rest) = (&self.0[0], &self.0[1..]);
        let mut found = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key.as_ref() == head.as_str() {
                // A repeated key: the last one counts, as in a parsed document.
                found = map.next_value_seed(At(rest))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<Leaf>, A::Error> {
        let (head, rest) = (&self.0[0], &self.0[1..]);
        // RFC 6901: an index is 0 or digits without a leading zero.
        let index = head
            .parse::<usize>()
            .ok()
            .filter(|_| head == "0" || !head.starts_with(['0', '+']));
        let mut found = None;
        let mut i = 0;
        loop {
            if Some(i) == index {
                match seq.next_element_seed(At(rest))? {
                    Some(f) => found = f,
                    None => break,
                }
            } else if seq.next_element::<IgnoredAny>()?.is_none() {
                break;
            }
            i += 1;
        }
        Ok(found)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Option<Leaf>, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Option<Leaf>, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Option<Leaf>, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Option<Leaf>, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Option<Leaf>, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Option<Leaf>, E> {
        Ok(None)
    }
}

/// Reads the value a pointer ends at as a [`Leaf`].
struct LeafVisitor;

impl<'de> Visitor<'de> for LeafVisitor {
    type Value = Leaf;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Leaf, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Leaf::Object)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Leaf, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Leaf::Array)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Leaf, E> {
        Ok(Leaf::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Leaf, E> {
        Ok(Leaf::Number(n as f64))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Leaf, E> {
        Ok(Leaf::Number(n as f64))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Leaf, E> {
        Ok(Leaf::Number(n))
    }
    fn visit_str<E>(self, s: &str) -> Result<Leaf, E> {
        let mut end = s.len().min(MAX_LEAF_TEXT);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        Ok(Leaf::Str {
            text: s[..end].into(),
            cut: end < s.len(),
        })
    }
    fn visit_unit<E>(self) -> Result<Leaf, E> {
        Ok(Leaf::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(raw: &str) -> JsonExpectation {
        JsonExpectation::parse(raw, "json", "json=/status:green,yellow").unwrap()
    }

    fn at(json: &str, pointer: &str) -> Option<Leaf> {
        lookup(json, &ex(pointer).tokens()).unwrap()
    }

    #[test]
    fn parsing_splits_before_decoding() {
        let e = ex("/a%3Ab:x%2Cy,z");
        assert_eq!(e.pointer, "/a:b");
        assert_eq!(e.values, ["x,y", "z"]);
        assert_eq!(ex("/a~1b~0c/~01").tokens(), ["a/b~c", "~1"]);
        assert!(ex("").tokens().is_empty());
        assert_eq!(ex("").shown(), "the document");
        for (bad, why) in [
            ("status", "starts with /"),
            ("/a~2", "~ is followed by 0 or 1"),
        ] {
            let e = JsonExpectation::parse(bad, "field", "field=/status/phase:Bound").unwrap_err();
            assert!(
                e.contains(why)
                    && e.contains("in field=")
                    && e.contains("(write field=/status/phase:Bound)"),
                "{e}"
            );
        }
    }

    #[test]
    fn values_are_compared_as_json_writes_them() {
        let v = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
        let check = |raw: &str, json: &str| ex(raw).accepts(Scalar::of(&v(json)));
        assert!(check("/x:green,yellow", "\"yellow\""));
        assert!(check("/x:3", "3.0"));
        assert!(check("/x:true", "true") && check("/x:null", "null"));
        assert!(!check("/x:1", "[1]") && !check("/x", "false") && !check("/x", "null"));
        assert!(check("/x", "{}") && check("/x", "0"));
        let cut = Scalar::Str {
            text: "ab",
            cut: true,
        };
        assert!(!ex("/x:ab").accepts(cut));
        assert_eq!(ex("/x:a,b").expected(), "expected a or b");
    }

    #[test]
    fn lookup_keeps_only_the_leaf() {
        let doc = r#"{"status":{"phase":"Bound","n":3,"ok":true,"none":null,
            "loadBalancer":{"ingress":[{"hostname":"a"},{"ip":"10.0.0.1"}]}},
            "a/b":{"~":"t"},"dup":1,"dup":2}"#;
        assert_eq!(
            at(doc, "/status/phase"),
            Some(Leaf::Str {
                text: "Bound".into(),
                cut: false
            })
        );
        assert_eq!(at(doc, "/status/n"), Some(Leaf::Number(3.0)));
        assert_eq!(at(doc, "/status/ok"), Some(Leaf::Bool(true)));
        assert_eq!(at(doc, "/status/none"), Some(Leaf::Null));
        assert_eq!(
            at(doc, "/status/loadBalancer/ingress/1/ip").map(|l| l.to_string()),
            Some("\"10.0.0.1\"".into())
        );
        assert_eq!(at(doc, "/status/loadBalancer/ingress"), Some(Leaf::Array));
        assert_eq!(
            at(doc, "/status/loadBalancer/ingress/0"),
            Some(Leaf::Object)
        );
        assert_eq!(at(doc, "/status/loadBalancer/ingress/2"), None);
        assert_eq!(at(doc, "/status/loadBalancer/ingress/01"), None);
        assert_eq!(at(doc, "/status/phase/x"), None);
        assert_eq!(at(doc, "/missing"), None);
        assert_eq!(
            at(doc, "/a~1b/~0").map(|l| l.to_string()),
            Some("\"t\"".into())
        );
        assert_eq!(at(doc, "/dup"), Some(Leaf::Number(2.0)));
        assert_eq!(at(doc, ""), Some(Leaf::Object));
        // A long string is cut at a character boundary and equals nothing.
        let long = format!(r#"{{"s":"{}"}}"#, "é".repeat(1000));
        match at(&long, "/s") {
            Some(Leaf::Str { text, cut: true }) => assert!(text.len() <= MAX_LEAF_TEXT),
            other => panic!("{other:?}"),
        }
        assert!(lookup("{\"a\":", &["a".into()]).is_err());
        assert!(lookup("{} x", &[]).is_err());
    }
}
