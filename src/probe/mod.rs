//! The kinds of target, one module each, and what they share.
//!
//! A kind's module owns everything about its protocol: its URL schemes, form and
//! defaults, its environment variables, which query parameters are secret, its
//! probe, its table of transient and permanent failures, and its lines in `--help`
//! and `--version`. [`KINDS`] lists the modules: adding a kind is one new module
//! and one line there. [`crate::target`] dispatches a target's scheme to its kind;
//! [`crate::wait`] bounds every attempt, so deadlines and retries are no probe's
//! business.
//!
//! Shared machinery: [`net`] resolves and connects (every address, resolved again
//! at every attempt), [`tls`] builds client configurations and performs the
//! handshake for every protocol, [`error`] says why an attempt failed, [`wire`]
//! reads the bytes of the protocols whose decoders are written by hand, [`sql`]
//! holds the `#query=` and `#table=` expectations of the SQL kinds,
//! [`pointer`](mod@pointer) the JSON pointer expectations of http's `#json=` and
//! k8s's `field=`, [`scram`] the SCRAM logins of Kafka and MongoDB, [`cluster`] the
//! host lists of Kafka and MongoDB.

pub mod cluster;
pub mod error;
pub mod net;
pub mod pointer;
pub mod scram;
pub mod sql;
pub mod tls;
pub mod watch;
pub mod wire;

pub mod amqp;
pub mod cmd;
pub mod dns;
pub mod file;
pub mod grpc;
pub mod http;
pub mod http2;
pub mod k8s;
pub mod kafka;
pub mod memcached;
pub mod mongodb;
pub mod mqtt;
pub mod mysql;
pub mod nats;
pub mod postgres;
pub mod redis;
pub mod tcp;
pub mod unix;

pub use error::ProbeError;

use crate::env::Env;
use std::future::Future;
use std::pin::Pin;
use url::Url;

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

/// One kind of target: how it is written and parsed, and how it is documented.
pub trait Kind: Sync {
    /// Its name in messages and tables, e.g. `postgres`.
    fn name(&self) -> &'static str;
    /// The URL schemes it owns, in lowercase.
    fn schemes(&self) -> &'static [&'static str];
    /// How a message lists its forms, e.g. `postgres(ql)://`.
    fn forms(&self) -> &'static str;
    /// Its row in `--help`'s Targets section: the form, and when it is ready.
    fn help(&self) -> (&'static str, &'static str);
    /// Its line in `--help`'s Environment section, if it reads variables.
    fn environment(&self) -> Option<&'static str> {
        None
    }
    /// Query parameters whose value is a secret, shown as `***` (lowercase).
    fn secret_params(&self) -> &'static [&'static str] {
        &["password"]
    }
    /// Whether a user part without a password is a secret token (NATS), shown as
    /// `***`.
    fn user_is_token(&self) -> bool {
        false
    }
    /// Whether its authority is a list of hosts (`kafka://h1:9092,h2:9092`, as
    /// Kafka and MongoDB write them): then every comma in the authority belongs to
    /// the URL, and a list of targets (`WHENREADY_TARGETS`) is not split there
    /// ([`crate::target::split_list`]). Otherwise only a comma in the user info does.
    fn authority_is_host_list(&self) -> bool {
        false
    }
    /// Whether its URLs may carry a fragment (`#…`, its expectations: http,
    /// postgres, mysql, redis); for every other kind a fragment is a usage error
    /// rather than silently dropped.
    fn takes_fragment(&self) -> bool {
        false
    }
    /// Whether a target shows its fragment as the user wrote it (a SQL query, with
    /// its spaces), rather than as the URL parser encodes it.
    fn fragment_as_given(&self) -> bool {
        false
    }
    /// Whether its targets are `SCHEME:REST` where REST is no URL (`cmd:WORDS`):
    /// then [`Kind::parse_opaque`] reads REST instead of [`Kind::parse`], and the
    /// target is shown as written, with the passwords of URLs in it masked.
    fn opaque(&self) -> bool {
        false
    }
    /// Parses the REST of an opaque target ([`Kind::opaque`]); the error says why.
    fn parse_opaque(&self, _rest: &str, _env: &Env) -> Result<Box<dyn Check>, String> {
        Err(format!("a {} target is a URL", self.name()))
    }
    /// Checks the raw text before it is parsed as a URL (for forms the URL parser
    /// would misreport); the error says why.
    fn check_raw(&self, _text: &str) -> Result<(), String> {
        Ok(())
    }
    /// Parses a URL of one of its schemes; `env` supplies its variables. The error
    /// says why, without quoting the input (the caller quotes it, masked).
    fn parse(&self, url: &Url, env: &Env) -> Result<Box<dyn Check>, String>;
    /// Parses the target's text itself, for kinds whose URLs a URL parser cannot
    /// read: a list of hosts in the authority (`kafka://a:9092,b:9092`,
    /// `mongodb://a,b/?replicaSet=rs`). `None`, the default, hands the text to the
    /// URL parser and [`Kind::parse`]. The error says why, like [`Kind::parse`]'s.
    fn parse_text(&self, _text: &str, _env: &Env) -> Option<Result<Box<dyn Check>, String>> {
        None
    }
}

/// A parsed target of some kind, ready to be probed.
pub trait Check: Send + Sync {
    /// Reads what must be read before the first attempt (a CA file, say), so that a
    /// missing or broken file is a usage error; `shown` names the target.
    fn prepare(&self, _shown: &str) -> Result<(), String> {
        Ok(())
    }
    /// What `prepare` found worth a warning (a private key readable by others).
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
    /// Makes one attempt.
    fn probe<'a>(&'a self, ctx: &'a Ctx) -> Attempt<'a>;
    /// Makes one attempt at once, without the runtime, where the kernel decides it
    /// within a system call (a TCP connect to loopback: [`net::connect_now`]), so
    /// that a check this attempt settles never starts the runtime. `None`: this
    /// attempt needs the runtime; [`Check::probe`] makes it. The default is `None`.
    fn attempt_now(&self) -> Option<Result<(), ProbeError>> {
        None
    }
    /// Requests sent to the target's server so far, for kinds whose attempts are
    /// not one request each (k8s watches across attempts); `--json` reports it.
    fn requests(&self) -> Option<u64> {
        None
    }

    /// Resolves when the kernel reports a change that may have made the target
    /// ready (inotify, for `file://` and `unix://`: [`watch`]), so that the pause
    /// after a failed attempt ends at once. The default never resolves: the backoff
    /// alone paces the attempts, and stays the fallback for kinds that have one.
    fn changed<'a>(&'a self) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(std::future::pending())
    }
}

/// One attempt in flight.
pub type Attempt<'a> = Pin<Box<dyn Future<Output = Result<(), ProbeError>> + Send + 'a>>;

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

/// What probes share during a run: the TLS settings, the accepted HTTP statuses,
/// and whether the run waits for targets to be gone.
pub struct Ctx {
    /// TLS for kinds verified against the system's and `--cacert`'s roots.
    pub tls: tls::Tls,
    /// `--http-status`.
    pub http_status: http::StatusSet,
    /// Warnings found while preparing (printed once, before the first attempt).
    pub warnings: Vec<String>,
    /// `--reverse`: for kinds whose "gone" is not "not ready" (a k8s target waits
    /// until its objects are deleted).
    pub reverse: bool,
}

/// The run's settings that probes share, as the command line gave them.
pub struct Shared<'a> {
    /// `--cacert`.
    pub cacert: Option<&'a std::path::Path>,
    /// `--cert` and `--key`.
    pub client_cert: Option<(&'a std::path::Path, &'a std::path::Path)>,
    /// `--insecure`.
    pub insecure: bool,
    /// `--http-status`.
    pub http_status: http::StatusSet,
    /// `--reverse`.
    pub reverse: bool,
}

impl Ctx {
    /// Prepares the shared state and every target (`(shown, check)`); reads
    /// `--cacert` and each target's own files, so that a missing or broken file is a
    /// usage error before the first probe. The error says which, in one line.
    pub fn prepare<'a>(
        shared: Shared<'_>,
        targets: impl IntoIterator<Item = (&'a str, &'a dyn Check)>,
    ) -> Result<Ctx, String> {
        let extra = match shared.cacert {
            Some(path) => tls::load_pem(path).map_err(|e| format!("invalid --cacert: {e}"))?,
            None => Vec::new(),
        };
        let mut warnings = Vec::new();
        if let Some((cert, key)) = shared.client_cert {
            let identity =
                tls::Identity::load(cert, key).map_err(|e| format!("invalid --cert/--key: {e}"))?;
            warnings.extend(tls::key_permission_warning(key));
            tls::set_default_identity(identity);
        }
        for (shown, check) in targets {
            check.prepare(shown)?;
            warnings.extend(check.warnings());
        }
        Ok(Ctx {
            tls: tls::Tls::new(extra, shared.insecure),
            http_status: shared.http_status,
            warnings,
            reverse: shared.reverse,
        })
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
