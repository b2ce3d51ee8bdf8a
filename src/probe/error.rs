//! The outcome of a failed attempt: a reason for the user and whether waiting can help.

use std::borrow::Cow;
use std::io;

/// Whether waiting longer can make a failed target ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transience {
    /// Keep waiting: refused, reset, timed out, starting up, LOADING, ...
    Transient,
    /// Stop at once with exit 3: rejected password, missing database, bad certificate.
    Permanent,
    /// Keep waiting, as `Transient`; but with `--reverse` this does not count as gone
    /// either: the target is still there (a Kubernetes object that exists), or the
    /// server that would tell could not be reached or did not answer (an API server,
    /// a DNS server).
    Unsettled,
}

/// Why one attempt at a target failed. A reason may quote a peer (an error message,
/// a body): the reporter masks secrets in it, keeps it to one line and caps it
/// (`crate::report::safe_reason`) before anything shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeError {
    /// Whether waiting can help.
    pub transience: Transience,
    /// A short lowercase reason, e.g. `connection refused`: a fixed text costs no
    /// allocation (most attempts that fail, fail the same way again).
    pub reason: Cow<'static, str>,
}

impl ProbeError {
    /// A failure of the given transience.
    pub fn new(transience: Transience, reason: impl Into<Cow<'static, str>>) -> Self {
        ProbeError {
            transience,
            reason: reason.into(),
        }
    }

    /// A failure that waiting may fix.
    pub fn transient(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Transience::Transient, reason)
    }

    /// A failure that waiting cannot fix.
    pub fn permanent(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Transience::Permanent, reason)
    }

    /// A failure that waiting may fix and that, with `--reverse`, does not show the
    /// target gone ([`Transience::Unsettled`]).
    pub fn unsettled(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Transience::Unsettled, reason)
    }

    /// Whether this failure ends the run (unless `--retry-all`).
    pub fn is_permanent(&self) -> bool {
        self.transience == Transience::Permanent
    }
}

impl std::fmt::Display for ProbeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

/// A short reason for an I/O error, without the `(os error N)` noise.
pub fn io_reason(e: &io::Error) -> Cow<'static, str> {
    use io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => "connection refused".into(),
        ConnectionReset => "connection reset".into(),
        ConnectionAborted => "connection aborted".into(),
        TimedOut => "timed out".into(),
        UnexpectedEof => "connection closed by the server".into(),
        BrokenPipe => "connection closed by the server (broken pipe)".into(),
        NotFound => "not found".into(),
        PermissionDenied => "permission denied".into(),
        HostUnreachable => "host unreachable".into(),
        NetworkUnreachable => "network unreachable".into(),
        AddrNotAvailable => "address not available".into(),
        _ => {
            let text = e.to_string();
            match text.find(" (os error") {
                Some(i) => text[..i].to_lowercase().into(),
                None => text.into(),
            }
        }
    }
}

/// Walks an error's source chain, looking inside `io::Error`s too, for the first
/// error of type `T`.
pub fn find_in_chain<'a, T: std::error::Error + 'static>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut cur: Option<&'a (dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(t) = e.downcast_ref::<T>() {
            return Some(t);
        }
        if let Some(io) = e.downcast_ref::<io::Error>() {
            if let Some(inner) = io.get_ref() {
                if let Some(t) = find_in_chain::<T>(inner) {
                    return Some(t);
                }
            }
        }
        cur = e.source();
    }
    None
}

/// The innermost I/O error in a chain, if any.
pub fn find_io<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a io::Error> {
    let mut found = None;
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            found = Some(io);
        }
        cur = e.source();
    }
    found
}

/// A certificate or TLS-level failure in `err`'s chain, classified: rejected
/// certificates are permanent, anything else at the TLS layer is transient.
pub fn tls_failure(err: &(dyn std::error::Error + 'static)) -> Option<ProbeError> {
    let tls = find_in_chain::<rustls::Error>(err)?;
    Some(match tls {
        rustls::Error::InvalidCertificate(_) | rustls::Error::InvalidCertRevocationList(_) => {
            ProbeError::permanent(format!("certificate verification failed: {tls}"))
        }
        // The server's verdict on our client certificate (mTLS): waiting cannot fix
        // a missing, unknown, expired or refused certificate.
        rustls::Error::AlertReceived(alert) => {
            use rustls::AlertDescription as A;
            match alert {
                A::CertificateRequired => ProbeError::permanent(
                    "the server requires a client certificate (give --cert and --key)",
                ),
                A::BadCertificate
                | A::UnsupportedCertificate
                | A::CertificateRevoked
                | A::CertificateExpired
                | A::CertificateUnknown
                | A::UnknownCA
                // OpenSSL's answer to a certificate whose issuer has the name of
                // one of its CAs but another key: the signature does not verify.
                | A::DecryptError
                | A::AccessDenied => ProbeError::permanent(format!(
                    "the server refused the client certificate (TLS alert {alert:?})"
                )),
                _ => ProbeError::transient(format!("TLS error: {tls}")),
            }
        }
        rustls::Error::InvalidMessage(_) => ProbeError::transient(format!(
            "TLS handshake failed: the server did not answer in TLS ({tls})"
        )),
        other => ProbeError::transient(format!("TLS error: {other}")),
    })
}
