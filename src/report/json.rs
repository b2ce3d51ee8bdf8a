//! The JSON voice (`--json`): one object per line for every event, with a small
//! encoder of its own (the events need strings, numbers, booleans and lists only).

use super::{say, Reporter, Voice};
use crate::text::quote;
use std::ffi::OsStr;

/// One JSON object per line for every event (`--json`).
#[derive(Default)]
pub struct Json;

impl Json {
    /// The JSON voice.
    pub fn new() -> Json {
        Json
    }

    /// The events about target `i`, with its request count where it has one.
    fn about(&self, r: &Reporter, event: &str, i: usize, fields: &[(&str, Value)]) {
        let mut all = vec![("target", Value::Str(r.names()[i].clone()))];
        all.extend(fields.iter().map(|(k, v)| (*k, v.clone())));
        if let Some(n) = r.requests_sent(i) {
            all.push(("requests", Value::Num(n)));
        }
        Json::event(r, event, &all);
    }

    fn event(r: &Reporter, event: &str, fields: &[(&str, Value)]) {
        let mut out = format!(
            "{{\"event\":\"{event}\",\"elapsed_ms\":{}",
            r.elapsed().as_millis()
        );
        for (k, v) in fields {
            out.push_str(&format!(",\"{k}\":{}", v.render()));
        }
        out.push('}');
        say(&out);
    }

    fn unready_events(&self, r: &Reporter, event: &str) {
        for (i, reason, attempts) in r.unready() {
            self.about(
                r,
                event,
                i,
                &[
                    ("reason", Value::Str(reason)),
                    ("attempts", Value::Num(attempts)),
                ],
            );
        }
    }
}

impl Voice for Json {
    fn begin(&self, r: &Reporter) {
        Json::event(
            r,
            "start",
            &[
                ("targets", Value::List(r.names().to_vec())),
                (
                    "timeout_ms",
                    r.timeout()
                        .map_or(Value::Null, |t| Value::Num(t.as_millis() as u64)),
                ),
                ("once", Value::Bool(r.once())),
                ("reverse", Value::Bool(r.reverse())),
            ],
        );
    }

    fn not_ready(&self, r: &Reporter, i: usize, reason: &str, permanent: bool, _last: bool) {
        self.about(
            r,
            &format!("not_{}", r.goal()),
            i,
            &[
                ("reason", Value::Str(reason.into())),
                ("permanent", Value::Bool(permanent)),
                ("attempts", Value::Num(r.attempts(i))),
            ],
        );
    }

    fn ready(&self, r: &Reporter, i: usize) {
        let mut fields = vec![("attempts", Value::Num(r.attempts(i)))];
        if r.reverse() {
            // How it shows that it is gone (refused, no answer, ...).
            let reason = r.last_reason(i).unwrap_or_default();
            fields.push(("reason", Value::Str(reason)));
        }
        self.about(r, r.goal(), i, &fields);
    }

    fn deadline(&self, r: &Reporter) {
        self.unready_events(r, "timeout");
    }

    fn once_failed(&self, r: &Reporter) {
        self.unready_events(r, &format!("not_{}_once", r.goal()));
    }

    fn permanent(&self, r: &Reporter, i: usize) {
        self.about(
            r,
            "permanent",
            i,
            &[("reason", Value::Str(r.last_reason(i).unwrap_or_default()))],
        );
    }

    fn signal(&self, r: &Reporter, name: &str) {
        let waiting = r
            .unready()
            .into_iter()
            .map(|(i, _, _)| r.names()[i].clone())
            .collect();
        Json::event(
            r,
            "signal",
            &[
                ("signal", Value::Str(name.into())),
                ("waiting", Value::List(waiting)),
            ],
        );
    }

    fn done(&self, r: &Reporter, program: Option<&OsStr>) {
        let command = program.map_or(Value::Null, |p| {
            Value::Str(p.to_string_lossy().into_owned())
        });
        Json::event(
            r,
            if program.is_some() { "exec" } else { "done" },
            &[("command", command)],
        );
    }
}

/// A JSON value, just enough for the events.
#[derive(Clone)]
enum Value {
    Str(String),
    Num(u64),
    Bool(bool),
    List(Vec<String>),
    Null,
}

impl Value {
    fn render(&self) -> String {
        match self {
            Value::Str(s) => quote(s),
            Value::Num(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::List(items) => format!(
                "[{}]",
                items.iter().map(|s| quote(s)).collect::<Vec<_>>().join(",")
            ),
            Value::Null => "null".into(),
        }
    }
}
