//! The registry of kinds: every kind of target whenready knows ([`KINDS`]), the one
//! that owns a URL scheme, and the list of forms that messages give. Adding a kind
//! is one module under [`crate::probe`] and one line here.

use crate::probe::*;

/// Every kind of target whenready knows, in the order `--help`, `--version` and
/// messages list them.
pub static KINDS: &[&dyn Kind] = &[
    &tcp::Tcp,
    &unix::Unix,
    &file::File,
    &http::Http,
    &postgres::Postgres,
    &redis::Redis,
    &mysql::Mysql,
    &amqp::Amqp,
    &nats::Nats,
    &mqtt::Mqtt,
    &k8s::K8s,
    &memcached::Memcached,
    &dns::Dns,
    &grpc::Grpc,
    &kafka::Kafka,
    &mongodb::Mongodb,
    &cmd::Cmd,
];

/// The kind that owns `scheme` (lowercase), if any.
pub fn kind_of(scheme: &str) -> Option<&'static dyn Kind> {
    KINDS
        .iter()
        .copied()
        .find(|k| k.schemes().contains(&scheme))
}

/// Every form, for messages: `HOST:PORT, tcp://, ..., unix:///PATH or file:///PATH`.
pub fn all_forms() -> String {
    let mut forms: Vec<&str> = KINDS.iter().map(|k| k.forms()).collect();
    // The local forms read best last.
    forms.sort_by_key(|f| f.ends_with("PATH"));
    match forms.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => forms.join(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scheme_has_one_kind() {
        let mut seen = Vec::new();
        for k in KINDS {
            for s in k.schemes() {
                assert_eq!(s.to_ascii_lowercase(), *s, "{s}");
                assert!(!seen.contains(s), "{s} is claimed twice");
                seen.push(*s);
            }
            assert_eq!(kind_of(k.schemes()[0]).unwrap().name(), k.name());
        }
    }

    #[test]
    fn the_forms_read_as_a_list() {
        let forms = all_forms();
        assert!(
            forms.starts_with("HOST:PORT, tcp://, http(s)://"),
            "{forms}"
        );
        assert!(forms.ends_with(", unix:///PATH or file:///PATH"), "{forms}");
        for k in KINDS {
            assert!(forms.contains(k.forms()), "{forms}");
        }
    }
}
