//! What every kind of target provides ([`Kind`]: its forms, parsing and help;
//! [`Check`]: a parsed target's attempts) and what their probes share during a run
//! ([`Ctx`]). The contract between the kinds (one module each, beside this one) and
//! the rest of whenready, which finds them in [`crate::kinds::KINDS`].

use super::error::ProbeError;
use super::status::StatusSet;
use super::tls;
use crate::env::Env;
use std::future::Future;
use std::pin::Pin;
use url::Url;

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
    /// within a system call (a TCP connect to loopback: [`super::net::connect_now`]), so
    /// that a check this attempt settles never starts the runtime. `None`: this
    /// attempt needs the runtime; [`Check::probe`] makes it. The default is `None`.
    fn attempt_now(&self) -> Option<Result<(), ProbeError>> {
        None
    }
    /// Whether, with `--reverse`, an attempt cut by the attempt timeout (no answer)
    /// shows the target gone. It does for a service: a server that does not answer
    /// is not serving. It does not where what is waited on is not the server that
    /// kept silent (a Kubernetes object behind its API server, a DNS record).
    fn silence_is_gone(&self) -> bool {
        true
    }
    /// Requests sent to the target's server so far, for kinds whose attempts are
    /// not one request each (k8s watches across attempts); `--json` reports it.
    fn requests(&self) -> Option<u64> {
        None
    }

    /// Resolves when the kernel reports a change that may have made the target
    /// ready (inotify, for `file://` and `unix://`: [`super::watch`]), so that the pause
    /// after a failed attempt ends at once. The default never resolves: the backoff
    /// alone paces the attempts, and stays the fallback for kinds that have one.
    fn changed<'a>(&'a self) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(std::future::pending())
    }
}

/// One attempt in flight.
pub type Attempt<'a> = Pin<Box<dyn Future<Output = Result<(), ProbeError>> + Send + 'a>>;

/// What probes share during a run: the TLS settings, the accepted HTTP statuses,
/// and whether the run waits for targets to be gone.
pub struct Ctx {
    /// TLS for kinds verified against the system's and `--cacert`'s roots.
    pub tls: tls::Tls,
    /// `--http-status`.
    pub http_status: StatusSet,
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
    pub http_status: StatusSet,
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
