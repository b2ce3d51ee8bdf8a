//! Logging in to MongoDB with SCRAM, as the drivers' authentication specification
//! says: SCRAM-SHA-256 when the user has its credentials (`saslSupportedMechs` in
//! `hello` lists it), SCRAM-SHA-1 otherwise, or the URL's `authMechanism`;
//! `saslStart`, `saslContinue` with the proof, the server's signature checked,
//! and one more empty `saslContinue` if the server is not done.
//!
//! SCRAM-SHA-256 hashes the password after SASLprep (RFC 4013); SCRAM-SHA-1
//! hashes the hex MD5 digest of `USER:mongo:PASSWORD`, as MongoDB stores it. The
//! server sees a proof, never the password.

use super::bson::{self, DocBuf, Value};
use super::message::{garbage, Conn};
use super::target::{Mechanism, MongoTarget};
use super::{command_error, MAX_ITERATIONS};
use crate::probe::error::ProbeError;
use crate::probe::scram::{self, Hash, Refusal};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};

/// The hash for the login: the URL's mechanism, else SHA-256 when the server says
/// the user has it, else SHA-1 (also when it says nothing: an unknown user).
pub fn choose(named: Option<Mechanism>, supported: &[String]) -> Hash {
    match named {
        Some(Mechanism::Sha1) => Hash::Sha1,
        Some(Mechanism::Sha256) => Hash::Sha256,
        None if supported.iter().any(|m| m == "SCRAM-SHA-256") => Hash::Sha256,
        None => Hash::Sha1,
    }
}

/// What SCRAM hashes for the mechanism: the SASLprep'd password (SHA-256), or the
/// hex MD5 digest of `USER:mongo:PASSWORD` (SHA-1).
pub fn secret(hash: Hash, user: &str, password: &str) -> Result<Vec<u8>, ProbeError> {
    match hash {
        Hash::Sha1 => {
            use md5::Digest;
            let digest = md5::Md5::digest(format!("{user}:mongo:{password}").as_bytes());
            Ok(digest
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
                .into_bytes())
        }
        _ => stringprep::saslprep(password)
            .map(|p| p.into_owned().into_bytes())
            .map_err(|_| {
                ProbeError::permanent(
                    "the password has characters SCRAM-SHA-256 does not allow (SASLprep, RFC 4013)",
                )
            }),
    }
}

/// Logs in as the target's user on `auth_source`; `supported` is what `hello`
/// said of the user's mechanisms.
pub async fn login<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    t: &MongoTarget,
    auth_source: &str,
    supported: &[String],
) -> Result<(), ProbeError> {
    let Some((user, password)) = &t.credentials else {
        return Ok(());
    };
    let hash = choose(t.mechanism, supported);
    let client = scram::Client::new(hash, user);
    let start = DocBuf::new()
        .i32("saslStart", 1)
        .str("mechanism", hash.mechanism())
        .binary("payload", client.first().as_bytes())
        .i32("autoAuthorize", 1)
        .doc("options", DocBuf::new().bool("skipEmptyExchange", true))
        .str("$db", auth_source)
        .finish();
    let reply = conn.command(start, "saslStart").await?;
    let (id, first, _) = step(&reply, "saslStart")?;
    let challenge = client
        .challenge(&first, MAX_ITERATIONS)
        .map_err(ProbeError::transient)?;
    let secret: Arc<[u8]> = Arc::from(secret(hash, user, password)?);
    let keys = t
        .keys
        .keys(hash, secret, &challenge.salt, challenge.iterations)
        .await
        .map_err(ProbeError::transient)?;
    let (last, signature) = client.finish(&challenge, &keys);
    let cont = |payload: &[u8]| {
        DocBuf::new()
            .i32("saslContinue", 1)
            .i32("conversationId", id)
            .binary("payload", payload)
            .str("$db", auth_source)
            .finish()
    };
    let reply = conn.command(cont(last.as_bytes()), "saslContinue").await?;
    let (_, end, done) = step(&reply, "saslContinue")?;
    scram::verify_final(&end, &signature).map_err(|r| match r {
        Refusal::Refused(why) => ProbeError::permanent(format!(
            "authentication failed: the server refused the SCRAM proof ({why})"
        )),
        Refusal::Garbage(why) => ProbeError::transient(why),
    })?;
    if !done {
        // Servers that ignore skipEmptyExchange (before 4.4) want one more round.
        let reply = conn.command(cont(b""), "saslContinue").await?;
        let (_, _, done) = step(&reply, "saslContinue")?;
        if !done {
            return Err(ProbeError::transient(
                "the server did not end the SCRAM conversation",
            ));
        }
    }
    Ok(())
}

/// A SASL reply: its conversation ID, payload and `done`, or the command's error.
fn step(reply: &[u8], what: &str) -> Result<(i32, Vec<u8>, bool), ProbeError> {
    let doc = bson::parse(reply).map_err(|why| garbage(what, &why))?;
    command_error(&doc, what)?;
    let id = match doc.get("conversationId") {
        Some(Value::Int32(i)) => i,
        Some(Value::Int64(i)) => i as i32,
        _ => return Err(garbage(what, "no conversationId")),
    };
    let payload = match doc.get("payload") {
        Some(Value::Binary(b)) => b.to_vec(),
        _ => return Err(garbage(what, "no payload")),
    };
    Ok((id, payload, doc.truth("done")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mechanism_follows_the_specification() {
        let both = vec!["SCRAM-SHA-1".to_string(), "SCRAM-SHA-256".to_string()];
        let one = vec!["SCRAM-SHA-1".to_string()];
        assert_eq!(choose(None, &both), Hash::Sha256);
        assert_eq!(choose(None, &one), Hash::Sha1);
        assert_eq!(choose(None, &[]), Hash::Sha1);
        assert_eq!(choose(Some(Mechanism::Sha1), &both), Hash::Sha1);
        assert_eq!(choose(Some(Mechanism::Sha256), &one), Hash::Sha256);
    }

    #[test]
    fn secrets() {
        // MongoDB's digest of user "user", password "pencil" (as pymongo computes it).
        let s = secret(Hash::Sha1, "user", "pencil").unwrap();
        assert_eq!(s, b"1c33006ec1ffd90f9cadcbcc0e118200");
        // SASLprep maps a non-ASCII space to a space and drops a soft hyphen.
        let s = secret(Hash::Sha256, "u", "a\u{00A0}b\u{00AD}c").unwrap();
        assert_eq!(s, b"a bc");
        let e = secret(Hash::Sha256, "u", "a\u{0007}").unwrap_err();
        assert!(e.is_permanent() && e.reason.contains("SASLprep"), "{e}");
    }
}
