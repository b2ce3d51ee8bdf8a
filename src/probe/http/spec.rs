//! The fragment of an http target (`#status=…&json=…&send-header=…`): the request
//! it asks for and the expectations an answer must meet, and the judging of an
//! answer against them ([`expectations`]), whose reasons say what was seen.

use crate::endpoint::decode;
use crate::env::Env;
use crate::probe::error::ProbeError;
pub use crate::probe::pointer::JsonExpectation;
use crate::probe::pointer::Scalar;
use crate::probe::status::StatusSet;
use hyper::body::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use hyper::Method;
use std::path::PathBuf;

/// What the fragment of an http target asks for: the request (method, headers,
/// body, client certificate) and the expectations the answer must meet.
#[derive(Debug, Default)]
pub struct Spec {
    /// `method=`; POST when only `send-body=` is given, else GET.
    pub method: Option<Method>,
    /// `send-header=` and, marked sensitive, the values of `send-header-env=` and
    /// `bearer-env=`.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// `send-header-file=` and `bearer-file=`: name, file, prefix (`Bearer `); read
    /// before the first attempt.
    pub file_headers: Vec<(HeaderName, PathBuf, &'static str)>,
    /// `send-body=`.
    pub body: Option<Bytes>,
    /// `status=`; `--http-status` when absent.
    pub status: Option<StatusSet>,
    /// `body=`: a regular expression the first MiB of the body must match.
    pub body_matches: Option<Pattern>,
    /// `json=`: values at JSON pointers.
    pub json: Vec<JsonExpectation>,
    /// `header=`: response headers that must match.
    pub header_matches: Vec<(HeaderName, Pattern)>,
    /// `cert=` and `key=`: the target's own client certificate.
    pub client_cert: Option<(PathBuf, PathBuf)>,
}

/// A regular expression with the text it was written as (for messages).
#[derive(Debug)]
pub struct Pattern {
    regex: regex_lite::Regex,
    text: String,
}

impl Pattern {
    fn new(text: String, what: &str) -> Result<Pattern, String> {
        match regex_lite::Regex::new(&text) {
            Ok(regex) => Ok(Pattern { regex, text }),
            Err(e) => {
                let why = e.to_string();
                let why = why.lines().last().unwrap_or("").trim();
                Err(format!(
                    "invalid regular expression {text:?} in {what}=: {why}"
                ))
            }
        }
    }
}

/// Every key the fragment knows, for the message that names an unknown one.
const FRAGMENT_KEYS: &str = "status, body, json, header, method, send-body, send-header, send-header-env, send-header-file, bearer-env, bearer-file, cert, key";

/// Headers whose value is a secret: never taken from the command line.
const SECRET_HEADERS: [&str; 3] = ["authorization", "proxy-authorization", "cookie"];

/// Marks a header value as sensitive (hyper then keeps it out of Debug output).
pub fn secret(mut value: HeaderValue) -> HeaderValue {
    value.set_sensitive(true);
    value
}

fn header_name(text: &str, key: &str) -> Result<HeaderName, String> {
    HeaderName::from_bytes(text.trim().as_bytes())
        .map_err(|_| format!("invalid header name {text:?} in {key}="))
}

/// `NAME:REST` of a fragment value, split at the first colon before decoding, so
/// that `%3A` stays a colon inside either part.
fn name_and_rest<'a>(raw: &'a str, key: &str, form: &str) -> Result<(String, &'a str), String> {
    match raw.split_once(':') {
        Some((name, rest)) if !name.is_empty() => Ok((decode(name), rest)),
        _ => Err(format!("{key}= takes {form}")),
    }
}

impl Spec {
    /// Parses a fragment such as `status=200-299&json=/status:green,yellow`: pairs
    /// separated by `&`, each `KEY=VALUE`, percent-decoded after splitting (so
    /// `%26`, `%2C`, `%3A` are a literal `&`, `,`, `:`). Variables named by
    /// `*-env=` are read from `env` here; files are read by [`crate::probe::Check::prepare`].
    pub fn parse(fragment: &str, env: &Env) -> Result<Spec, String> {
        let mut spec = Spec::default();
        let mut cert = None;
        let mut key_file = None;
        for pair in fragment.split('&').filter(|p| !p.is_empty()) {
            let (key, raw) = match pair.split_once('=') {
                Some((k, v)) => (decode(k), v),
                None => {
                    let key = decode(pair);
                    return Err(format!(
                        "{key:?} after # needs a value: write KEY=VALUE pairs separated by & (keys: {FRAGMENT_KEYS})"
                    ));
                }
            };
            let once = |taken: bool| {
                if taken {
                    Err(format!("{key}= is given twice after #"))
                } else {
                    Ok(())
                }
            };
            match key.as_str() {
                "status" => {
                    once(spec.status.is_some())?;
                    let text = decode(raw);
                    spec.status = Some(
                        StatusSet::parse(&text)
                            .map_err(|why| format!("invalid status={text}: {why}"))?,
                    );
                }
                "body" => {
                    once(spec.body_matches.is_some())?;
                    spec.body_matches = Some(Pattern::new(decode(raw), "body")?);
                }
                "json" => spec.json.push(JsonExpectation::parse(
                    raw,
                    "json",
                    "json=/status:green,yellow",
                )?),
                "header" => {
                    let (name, rest) =
                        name_and_rest(raw, "header", "NAME:REGEX, e.g. header=content-type:json")?;
                    let name = header_name(&name, "header")?;
                    spec.header_matches
                        .push((name, Pattern::new(decode(rest), "header")?));
                }
                "method" => {
                    once(spec.method.is_some())?;
                    let text = decode(raw);
                    let method = Method::from_bytes(text.to_ascii_uppercase().as_bytes())
                        .ok()
                        .filter(|_| !text.is_empty())
                        .ok_or_else(|| {
                            format!("invalid method={text:?}: e.g. GET, HEAD or POST")
                        })?;
                    spec.method = Some(method);
                }
                "send-body" => {
                    once(spec.body.is_some())?;
                    let bytes: Vec<u8> = percent_encoding::percent_decode_str(raw).collect();
                    spec.body = Some(Bytes::from(bytes));
                }
                "send-header" => {
                    let (name, rest) = name_and_rest(
                        raw,
                        "send-header",
                        "NAME:VALUE, e.g. send-header=accept:application/json",
                    )?;
                    let name = header_name(&name, "send-header")?;
                    if SECRET_HEADERS.contains(&name.as_str()) {
                        return Err(format!(
                            "send-header={name}:… would put a secret on the command line: use send-header-env={name}:VAR, send-header-file={name}:PATH, bearer-env=VAR or bearer-file=PATH"
                        ));
                    }
                    let value = HeaderValue::try_from(decode(rest).trim())
                        .map_err(|_| format!("invalid value for send-header={name}"))?;
                    spec.headers.push((name, value));
                }
                "send-header-env" | "bearer-env" => {
                    let (name, var, prefix) = if key == "bearer-env" {
                        (hyper::header::AUTHORIZATION, decode(raw), "Bearer ")
                    } else {
                        let (name, var) = name_and_rest(
                            raw,
                            &key,
                            "NAME:VARIABLE, e.g. send-header-env=x-api-key:API_KEY",
                        )?;
                        (header_name(&name, &key)?, decode(var), "")
                    };
                    let value = env.get(&var)?.ok_or_else(|| {
                        format!("{key}= names the variable {var:?}, which is not set")
                    })?;
                    let value = format!("{prefix}{}", value.trim());
                    crate::secret::register_header(&value);
                    let value = HeaderValue::try_from(value).map_err(|_| {
                        format!("the variable {var} ({key}=) does not hold a valid header value")
                    })?;
                    spec.headers.push((name, secret(value)));
                }
                "send-header-file" | "bearer-file" => {
                    let (name, path, prefix) = if key == "bearer-file" {
                        (hyper::header::AUTHORIZATION, decode(raw), "Bearer ")
                    } else {
                        let (name, path) = name_and_rest(
                            raw,
                            &key,
                            "NAME:PATH, e.g. send-header-file=x-api-key:/run/secrets/key",
                        )?;
                        (header_name(&name, &key)?, decode(path), "")
                    };
                    if path.is_empty() {
                        return Err(format!("{key}= needs a file"));
                    }
                    spec.file_headers.push((name, PathBuf::from(path), prefix));
                }
                "cert" => {
                    once(cert.is_some())?;
                    cert = Some(PathBuf::from(decode(raw)));
                }
                "key" => {
                    once(key_file.is_some())?;
                    key_file = Some(PathBuf::from(decode(raw)));
                }
                other => {
                    return Err(format!(
                    "unknown expectation or option {other:?} after #: the keys are {FRAGMENT_KEYS}"
                ))
                }
            }
        }
        spec.client_cert = match (cert, key_file) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            (Some(_), None) => return Err("cert= needs key= (the private key file)".into()),
            (None, Some(_)) => return Err("key= needs cert= (the certificate file)".into()),
        };
        Ok(spec)
    }

    /// The request's method: `method=`, else POST with `send-body=`, else GET.
    pub fn method(&self) -> Method {
        match (&self.method, &self.body) {
            (Some(m), _) => m.clone(),
            (None, Some(_)) => Method::POST,
            (None, None) => Method::GET,
        }
    }

    /// Whether an expectation reads the body (`body=`, `json=`).
    pub fn needs_body(&self) -> bool {
        self.body_matches.is_some() || !self.json.is_empty()
    }
}

/// How much of a body the expectations look at.
pub const BODY_LIMIT: usize = 1 << 20;

/// What came back: status, headers, and the start of the body when needed.
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: hyper::HeaderMap,
    /// The start of the body (at most [`BODY_LIMIT`]), when an expectation reads it.
    pub body: Vec<u8>,
}

/// Checks the headers, the body and the JSON values of an accepted answer; the
/// error says what was seen.
pub fn expectations(spec: &Spec, answer: &Answer) -> Result<(), ProbeError> {
    let status = answer.status;
    for (name, pattern) in &spec.header_matches {
        let values: Vec<&str> = answer
            .headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap_or(""))
            .collect();
        if values.is_empty() {
            return Err(ProbeError::transient(format!(
                "HTTP {status}, but no {name} header (expected one matching {:?})",
                pattern.text
            )));
        }
        if !values.iter().any(|v| pattern.regex.is_match(v)) {
            return Err(ProbeError::transient(format!(
                "HTTP {status}, but {name} is {} (expected a match of {:?})",
                seen(values.join(", ").as_bytes()),
                pattern.text
            )));
        }
    }
    if let Some(pattern) = &spec.body_matches {
        let text = String::from_utf8_lossy(&answer.body);
        if !pattern.regex.is_match(&text) {
            return Err(ProbeError::transient(format!(
                "HTTP {status}, but the body does not match {:?}: {}",
                pattern.text,
                seen(&answer.body)
            )));
        }
    }
    if spec.json.is_empty() {
        return Ok(());
    }
    let document: serde_json::Value = serde_json::from_slice(&answer.body).map_err(|_| {
        let larger = if answer.body.len() >= BODY_LIMIT {
            " (or larger than 1 MiB)"
        } else {
            ""
        };
        ProbeError::transient(format!(
            "HTTP {status}, but the body is not JSON{larger}: {}",
            seen(&answer.body)
        ))
    })?;
    for want in &spec.json {
        let (shown, expected) = (want.shown(), want.expected());
        match document.pointer(&want.pointer) {
            None => {
                return Err(ProbeError::transient(format!(
                    "HTTP {status}, but the JSON has no {shown} ({expected})"
                )))
            }
            Some(value) if !want.accepts(Scalar::of(value)) => {
                return Err(ProbeError::transient(format!(
                    "HTTP {status}, but {shown} is {} ({expected})",
                    seen(value.to_string().as_bytes())
                )))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// What a message shows of a body or a value: one line, white space collapsed,
/// at most 80 characters, control characters escaped, secrets masked before the
/// cut (which never falls inside one: a server may echo a token).
fn seen(bytes: &[u8]) -> String {
    const MAX: usize = 80;
    let window = bytes.len().min(4 * MAX + crate::secret::longest());
    let text = String::from_utf8_lossy(&bytes[..window]);
    let text = crate::secret::masked_prefix(&text, 4 * MAX);
    let words: Vec<&str> = text.split_whitespace().collect();
    let one_line = words.join(" ");
    if one_line.is_empty() {
        return "empty".into();
    }
    let mut shown: String = one_line.chars().take(MAX).collect();
    if shown.len() < one_line.len() || bytes.len() > 4 * MAX {
        shown.push('…');
    }
    crate::text::clean_line(&shown).into_owned()
}

/// `HTTP 503 Service Unavailable`: a status that is not accepted.
pub fn status_reason(status: u16) -> String {
    let reason = hyper::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    format!("HTTP {status} {reason}").trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(fragment: &str) -> Result<Spec, String> {
        Spec::parse(fragment, &Env::from_pairs(&[("TOKEN", "s3cret\n")]))
    }

    #[test]

    fn fragments_compose() {
        let s = spec("status=200,204&json=/status:green,yellow&json=/a~1b~0c&header=content-type:json&method=put&send-body=%7B%22a%22%3A1%7D&send-header=accept:application/json&bearer-env=TOKEN&cert=c.pem&key=k.pem").unwrap();
        assert_eq!(s.status.unwrap().to_string(), "200,204");
        assert_eq!(s.json[0].pointer, "/status");
        assert_eq!(s.json[0].values, ["green", "yellow"]);
        assert_eq!(s.json[1].pointer, "/a~1b~0c");
        assert!(s.json[1].values.is_empty());
        assert_eq!(s.header_matches[0].0, "content-type");
        assert_eq!(s.method.unwrap(), Method::PUT);
        assert_eq!(s.body.unwrap(), &b"{\"a\":1}"[..]);
        assert_eq!(s.headers[0].1, "application/json");
        assert_eq!(s.headers[1].0, "authorization");
        assert_eq!(s.headers[1].1, "Bearer s3cret");
        assert!(s.headers[1].1.is_sensitive());
        assert_eq!(
            s.client_cert,
            Some((PathBuf::from("c.pem"), PathBuf::from("k.pem")))
        );
        // Decoding comes after splitting: an encoded comma or colon is literal.
        let s = spec("json=/a%3Ab:x%2Cy,z&body=a%26b+c").unwrap();
        assert_eq!(s.json[0].pointer, "/a:b");
        assert_eq!(s.json[0].values, ["x,y", "z"]);
        assert_eq!(s.body_matches.unwrap().text, "a&b+c");
        // send-body alone makes a POST.
        assert_eq!(spec("send-body=x").unwrap().method(), Method::POST);
        assert_eq!(spec("").unwrap().method(), Method::GET);
        assert!(spec("&&").unwrap().status.is_none());
    }

    #[test]

    fn bad_fragments_say_why() {
        for (fragment, needle) in [
            ("json=status:green", "starts with /"),
            ("json=/a~2", "~ is followed by 0 or 1"),
            ("status=200&status=204", "given twice"),
            ("status=abc", "invalid status=abc"),
            ("body=(", "invalid regular expression"),
            ("header=content-type", "NAME:REGEX"),
            ("header=bad name:x", "invalid header name"),
            ("method=", "invalid method"),
            (
                "send-header=Authorization:Bearer x",
                "secret on the command line",
            ),
            ("send-header=cookie:a=b", "secret on the command line"),
            ("bearer-env=NOPE", "\"NOPE\", which is not set"),
            ("send-header-env=x-key", "NAME:VARIABLE"),
            ("cert=c.pem", "needs key="),
            ("key=k.pem", "needs cert="),
            ("jsn=/a", "unknown expectation or option \"jsn\""),
            ("status", "needs a value"),
        ] {
            let e = spec(fragment).unwrap_err();
            assert!(e.contains(needle), "{fragment}: {e}");
            assert!(
                !e.contains("s3cret") && !e.contains('\n'),
                "{fragment}: {e}"
            );
        }
    }

    fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> Answer {
        let mut map = hyper::HeaderMap::new();
        for (k, v) in headers {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        Answer {
            status,
            headers: map,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]

    fn expectations_say_what_was_seen() {
        let check = |fragment: &str, a: &Answer| expectations(&spec(fragment).unwrap(), a);
        let es = answer(
            200,
            &[("content-type", "application/json")],
            r#"{"status":"yellow","n":3,"ok":true,"a/b":{"~":null}}"#,
        );
        for good in [
            "json=/status:green,yellow",
            "json=/n:3.0",
            "json=/ok",
            "json=/ok:true",
            "json=/a~1b",
            "json=/a~1b/~0:null",
            "header=Content-Type:json",
            "body=\"status\":\"(green|yellow)\"",
        ] {
            assert_eq!(check(good, &es), Ok(()), "{good}");
        }
        for (bad, reason) in [
            ("json=/status:green", "HTTP 200, but /status is \"yellow\" (expected green)"),
            ("json=/missing", "HTTP 200, but the JSON has no /missing (expected a value other than null and false)"),
            ("json=/a~1b/~0", "HTTP 200, but /a~1b/~0 is null (expected a value other than null and false)"),
            ("header=content-type:xml", "HTTP 200, but content-type is application/json (expected a match of \"xml\")"),
            ("header=etag:.", "HTTP 200, but no etag header (expected one matching \".\")"),
            ("body=red", "HTTP 200, but the body does not match \"red\": {\"status\":\"yellow\",\"n\":3,\"ok\":true,\"a/b\":{\"~\":null}}"),
        ] {
            let e = check(bad, &es).unwrap_err();
            assert_eq!(e.reason, reason);
            assert!(!e.is_permanent());
        }
        let html = answer(
            200,
            &[],
            "<html>\n\t<body>starting\u{1b}[31m</body>\n</html>",
        );
        let e = check("json=/status", &html).unwrap_err();
        assert_eq!(
            e.reason,
            "HTTP 200, but the body is not JSON: <html> <body>starting\\u{1b}[31m</body> </html>"
        );
        let long = answer(200, &[], &"x".repeat(500));
        let e = check("body=y", &long).unwrap_err();
        assert!(
            e.reason.ends_with("…") && e.reason.len() < 200,
            "{}",
            e.reason
        );
        assert_eq!(
            check("body=y", &answer(200, &[], "")).unwrap_err().reason,
            "HTTP 200, but the body does not match \"y\": empty"
        );
    }

    #[test]

    fn status_reasons() {
        assert_eq!(status_reason(503), "HTTP 503 Service Unavailable");
        assert_eq!(status_reason(599), "HTTP 599");
    }
}
