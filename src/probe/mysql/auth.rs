//! The authentication methods: what the client answers to the server's nonce for
//! each plugin (`mysql_native_password`, `caching_sha2_password`'s fast path,
//! MariaDB's `client_ed25519`, and the password itself for `mysql_clear_password` and
//! `sha256_password`), or why it will not answer.

use super::packet::{garbage, Link};
use crate::probe::error::ProbeError;

fn digest(alg: &'static ring::digest::Algorithm, parts: &[&[u8]]) -> Vec<u8> {
    let mut ctx = ring::digest::Context::new(alg);
    for p in parts {
        ctx.update(p);
    }
    ctx.finish().as_ref().to_vec()
}

fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

/// mysql_native_password: SHA1(pw) XOR SHA1(nonce + SHA1(SHA1(pw))); empty for no password.
pub(super) fn native_scramble(password: &[u8], nonce: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    let sha1 = &ring::digest::SHA1_FOR_LEGACY_USE_ONLY;
    let stage1 = digest(sha1, &[password]);
    let stage2 = digest(sha1, &[&stage1]);
    xor(&stage1, &digest(sha1, &[nonce, &stage2]))
}

/// caching_sha2_password's fast path: SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + nonce).
pub(super) fn sha2_scramble(password: &[u8], nonce: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    let sha256 = &ring::digest::SHA256;
    let stage1 = digest(sha256, &[password]);
    let stage2 = digest(sha256, &[&stage1]);
    xor(&stage1, &digest(sha256, &[&stage2, nonce]))
}

/// MariaDB's client_ed25519: the Ed25519 signature of the 32-byte nonce, with the
/// password's SHA-512 as the expanded secret key (the password, of any length, takes
/// the place of the 32-byte seed of standard Ed25519).
pub(super) fn ed25519_signature(password: &[u8], nonce: &[u8]) -> Result<Vec<u8>, ProbeError> {
    use ed25519_dalek::hazmat::{raw_sign, ExpandedSecretKey};
    let nonce = nonce
        .get(..32)
        .ok_or_else(|| garbage("a client_ed25519 request without a 32-byte nonce"))?;
    let mut az = [0u8; 64];
    az.copy_from_slice(&digest(&ring::digest::SHA512, &[password]));
    let secret = ExpandedSecretKey::from_bytes(&az);
    let public = ed25519_dalek::VerifyingKey::from(&secret);
    Ok(raw_sign::<sha2::Sha512>(&secret, nonce, &public)
        .to_bytes()
        .to_vec())
}

/// The server's nonce without the NUL that some servers append.
pub(super) fn nonce_of(data: &[u8]) -> &[u8] {
    data.strip_suffix(&[0]).unwrap_or(data)
}

/// Why the password is not sent to a server that asks for `plugin`, a method that
/// sends it as it is.
fn not_over(plugin: &str, link: Link) -> ProbeError {
    let here = match link {
        Link::Plain => "without TLS",
        _ => "over TLS whose certificate was not verified",
    };
    ProbeError::permanent(format!(
        "the server asks for {plugin}, which sends the password as it is, and whenready does not send it {here}: to allow it, verify the server with ssl-mode=VERIFY_IDENTITY and ssl-ca=FILE (the CA of its certificate)"
    ))
}

/// The first answer for `plugin`, or a permanent failure for a method we lack or
/// will not answer on this `link`: the password itself (`mysql_clear_password`,
/// `sha256_password`) goes only over TLS whose certificate was verified, so that
/// no one answering in the server's place can read it. (The mysql client sends the
/// first only with `--enable-cleartext-plugin`; the second is deprecated.)
pub(super) fn auth_response(
    plugin: &str,
    password: &[u8],
    nonce: &[u8],
    link: Link,
) -> Result<Vec<u8>, ProbeError> {
    match plugin {
        "mysql_native_password" => Ok(native_scramble(password, nonce_of(nonce))),
        "caching_sha2_password" => Ok(sha2_scramble(password, nonce_of(nonce))),
        "client_ed25519" => ed25519_signature(password, nonce),
        "mysql_clear_password" | "sha256_password" if link == Link::Verified => {
            let mut v = password.to_vec();
            v.push(0);
            Ok(v)
        }
        "mysql_clear_password" | "sha256_password" => Err(not_over(plugin, link)),
        other => Err(ProbeError::permanent(format!(
            "the server asks for the authentication method {:?}, which whenready does not support",
            other
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::mysql::fake::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    // Expected values computed independently (Python hashlib) from the published
    // algorithms.
    #[test]
    fn native_password_scramble_matches_the_published_algorithm() {
        assert_eq!(
            hex(&native_scramble(b"secret", &NONCE)),
            "b32bb3a583e1340c0a1108d58b1be49781ad8c2f"
        );
        assert!(native_scramble(b"", &NONCE).is_empty());
    }

    #[test]
    fn caching_sha2_scramble_matches_the_published_algorithm() {
        assert_eq!(
            hex(&sha2_scramble(b"secret", &NONCE)),
            "746ebe205d56a0707acb3e796e834e0dd7b1d61743b26bd5202c7a623230c7c9"
        );
        assert!(sha2_scramble(b"", &NONCE).is_empty());
    }

    #[test]
    fn the_password_itself_goes_only_where_the_certificate_was_verified() {
        for plugin in ["mysql_clear_password", "sha256_password"] {
            assert_eq!(
                auth_response(plugin, b"secret", &NONCE, Link::Verified).unwrap(),
                b"secret\0"
            );
            for (link, says) in [
                (Link::Plain, "without TLS"),
                (Link::Unverified, "certificate was not verified"),
            ] {
                let e = auth_response(plugin, b"secret", &NONCE, link).unwrap_err();
                assert!(e.is_permanent(), "{e:?}");
                for part in [plugin, says, "ssl-mode=VERIFY_IDENTITY", "ssl-ca="] {
                    assert!(e.reason.contains(part), "{part}: {e:?}");
                }
                assert!(!e.reason.contains("secret"));
            }
        }
        // The scrambles do not depend on the link.
        for link in [Link::Plain, Link::Unverified, Link::Verified] {
            assert_eq!(
                auth_response("mysql_native_password", b"secret", &NONCE, link).unwrap(),
                native_scramble(b"secret", &NONCE)
            );
        }
    }

    // With a 32-byte password, client_ed25519 is standard Ed25519 with the password as
    // the seed: expected value from Python's cryptography package.
    #[test]
    fn ed25519_signature_matches_standard_ed25519_for_a_32_byte_password() {
        let password: Vec<u8> = (100..132).collect();
        let nonce: Vec<u8> = (1..33).collect();
        assert_eq!(
            hex(&ed25519_signature(&password, &nonce).unwrap()),
            "1b71827e786169cd1d70866091af3a74d8d6808dc6e6a78b89bf97af6ab4169c\
             7111db3d577565461f6791836c6fd641925f92b0f8c295e386c7fa3910a47e08"
        );
        assert!(ed25519_signature(b"pw", &nonce[..31]).is_err());
    }
}
