//! The server's RSA public key, for `caching_sha2_password`'s full authentication
//! without TLS (`get-server-public-key=true`): the password, XORed with the nonce, is
//! encrypted with RSA-OAEP (SHA-1, MGF1-SHA-1, empty label), MySQL's
//! `RSA_PKCS1_OAEP_PADDING`, as the mysql client does. The key is the PEM
//! SubjectPublicKeyInfo (`BEGIN PUBLIC KEY`) that MySQL sends, the only form its
//! server reads from its key file. Crates do the work: rustls-pki-types reads the
//! PEM, spki and pkcs1 the DER, and rsa bounds the key and encrypts.
//!
//! The key comes from the peer, unauthenticated, so it is bounded before it is used:
//! a modulus of 1,024 to 8,192 bits and an odd public exponent from 3 to 2^33 − 1
//! (the rsa crate's bounds, also ring's for the exponent). MySQL servers make
//! 2,048-bit keys with the exponent 65537; clients accept small exponents such as 3.
//! A key outside the bounds is the peer's failure and, like any other garbage from a
//! peer, transient: the reason names the bound, and the wait goes on to the deadline.
//! Within the bounds one encryption takes at most a few milliseconds (the cost grows
//! with the exponent's length and the square of the modulus's), so it runs where the
//! session runs.

use crate::probe::error::ProbeError;
use pkcs1::der::Decode;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::SubjectPublicKeyInfoDer;

/// The largest modulus accepted, in bits (the rsa crate's default bound): twice the
/// 4,096 bits that are the usual upper size of a hand-made key, four times the
/// 2,048 that MySQL makes. A larger one only costs time.
pub(super) const MAX_MODULUS_BITS: usize = rsa::PublicKey::MAX_SIZE;
/// The smallest modulus accepted, in bits.
pub(super) const MIN_MODULUS_BITS: usize = rsa::PublicKey::MIN_SIZE;
/// The largest public exponent accepted, 2^33 − 1 (65537 has 17 bits).
pub(super) const MAX_EXPONENT: u64 = rsa::PublicKey::MAX_PUB_EXPONENT;

/// rsaEncryption (PKCS#1): the algorithm of a SubjectPublicKeyInfo holding an RSA key.
const RSA_ENCRYPTION: spki::ObjectIdentifier =
    spki::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

fn unreadable(why: impl std::fmt::Display) -> ProbeError {
    ProbeError::transient(format!("the server's RSA public key cannot be read: {why}"))
}

/// The length in bits of a big-endian unsigned integer.
fn bit_length(bytes: &[u8]) -> usize {
    match bytes.iter().position(|&b| b != 0) {
        Some(i) => (bytes.len() - i) * 8 - bytes[i].leading_zeros() as usize,
        None => 0,
    }
}

/// A big-endian unsigned integer as the rsa crate's number, at its own length.
fn uint(bytes: &[u8]) -> Result<rsa::BoxedUint, ProbeError> {
    let bits = u32::try_from(bytes.len() * 8).map_err(|_| unreadable("an integer too long"))?;
    rsa::BoxedUint::from_be_slice(bytes, bits).map_err(|_| unreadable("an integer too long"))
}

/// The server's key from its PEM text, checked against the bounds.
pub(super) fn public_key(pem: &[u8]) -> Result<rsa::PublicKey, ProbeError> {
    let der = SubjectPublicKeyInfoDer::from_pem_slice(pem).map_err(unreadable)?;
    let info = spki::SubjectPublicKeyInfoRef::from_der(&der).map_err(unreadable)?;
    if info.algorithm.oid != RSA_ENCRYPTION {
        return Err(unreadable(format!(
            "its algorithm is {}, not RSA",
            info.algorithm.oid
        )));
    }
    let bits = info
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| unreadable("a bit string of partial bytes"))?;
    let key = pkcs1::RsaPublicKey::from_der(bits).map_err(unreadable)?;
    let (n, e) = (key.modulus.as_bytes(), key.public_exponent.as_bytes());
    let n_bits = bit_length(n);
    if !(MIN_MODULUS_BITS..=MAX_MODULUS_BITS).contains(&n_bits) {
        return Err(ProbeError::transient(format!(
            "the server's RSA public key has a {n_bits}-bit modulus; whenready uses keys of {MIN_MODULUS_BITS} to {MAX_MODULUS_BITS} bits"
        )));
    }
    let small = e.iter().try_fold(0u64, |acc, &b| {
        acc.checked_mul(256).map(|a| a | u64::from(b))
    });
    if !matches!(small, Some(v) if (3..=MAX_EXPONENT).contains(&v) && v % 2 == 1) {
        return Err(ProbeError::transient(format!(
            "the server's RSA public key has a {}-bit exponent; whenready uses keys with an odd exponent from 3 to 2^33-1 (servers use 65537)",
            bit_length(e)
        )));
    }
    rsa::PublicKey::new(uint(n)?, uint(e)?).map_err(unreadable)
}

/// RSA-OAEP encryption (SHA-1, MGF1-SHA-1) of `message` with the server's PEM key.
pub(super) fn encrypt(pem: &[u8], message: &[u8]) -> Result<Vec<u8>, ProbeError> {
    let key = public_key(pem)?;
    key.oaep_encrypt::<sha1::Sha1>(message)
        .map_err(|e| match e {
            rsa::Error::MessageTooLong => {
                ProbeError::permanent("the password is too long for the server's RSA key")
            }
            other => ProbeError::transient(format!("RSA encryption failed: {other}")),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::mysql::fake::*;

    #[test]
    fn rsa_oaep_is_what_openssl_decrypts() {
        let dir = std::env::temp_dir().join(format!("whenready-rsa-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (bits, exponent) in [(2048, "65537"), (1024, "3"), (4096, "17")] {
            let (key, public) = openssl_key(&dir, bits, exponent);
            let message = b"secret\0 xor nonce".to_vec();
            let cipher = encrypt(&public, &message).unwrap();
            assert_eq!(cipher.len(), bits / 8);
            // Encryption is randomised: the same message twice gives two ciphertexts.
            assert_ne!(cipher, encrypt(&public, &message).unwrap());
            let plain = openssl_decrypt(&key, &cipher);
            assert_eq!(plain, message, "{bits} bits, e = {exponent}");
            // With text around it (a key file may have some; the server sends it all).
            let mut wrapped = b"key follows\n".to_vec();
            wrapped.extend_from_slice(&public);
            wrapped.extend_from_slice(b"\n");
            let cipher = encrypt(&wrapped, &message).unwrap();
            assert_eq!(openssl_decrypt(&key, &cipher), message);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_rsa_keys_are_errors_not_panics() {
        for pem in [
            &b""[..],
            b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
            b"-----BEGIN PUBLIC KEY-----\nMAMCAQE=\n-----END PUBLIC KEY-----\n",
            b"-----BEGIN PUBLIC KEY-----\nMAMCAQE=\n",
            b"-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n",
            // A P-256 key, not RSA.
            b"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEx8Gm0dD0rG3i6Jm3YtR7wq1r9qgX\nNfT5s6b5x7Q0WQyQeQxk0n6g1m1GQeJ9W4b4n3C6w5X1y0Yb9m8c7d6e5A==\n-----END PUBLIC KEY-----\n",
            b"\xff\xfe",
            b"MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA",
        ] {
            let e = encrypt(pem, b"x").unwrap_err();
            assert!(!e.is_permanent(), "{e:?}");
            assert!(e.reason.contains("RSA public key"), "{e:?}");
        }
    }

    /// A SubjectPublicKeyInfo PEM with the given modulus and exponent lengths.
    fn pem(modulus_bits: usize, exponent: &[u8]) -> Vec<u8> {
        use base64::Engine;
        fn der(tag: u8, body: &[u8]) -> Vec<u8> {
            let mut out = vec![tag];
            match body.len() {
                n @ 0..=127 => out.push(n as u8),
                n @ 128..=255 => out.extend_from_slice(&[0x81, n as u8]),
                n => out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]),
            }
            out.extend_from_slice(body);
            out
        }
        let mut n = vec![0u8, 0xC3];
        n.resize(modulus_bits / 8 + 1, 0xFF);
        // DER: a leading zero only where the high bit is set.
        let mut e = Vec::new();
        if exponent[0] >= 0x80 {
            e.push(0);
        }
        e.extend_from_slice(exponent);
        let key = der(0x30, &[der(0x02, &n), der(0x02, &e)].concat());
        let oid = der(
            0x06,
            &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01],
        );
        let algorithm = der(0x30, &[oid, vec![5, 0]].concat());
        let bits = der(0x03, &[&[0u8][..], &key].concat());
        let spki = der(0x30, &[algorithm, bits].concat());
        let b64 = base64::engine::general_purpose::STANDARD.encode(spki);
        let mut out = b"-----BEGIN PUBLIC KEY-----\n".to_vec();
        for line in b64.as_bytes().chunks(64) {
            out.extend_from_slice(line);
            out.push(b'\n');
        }
        out.extend_from_slice(b"-----END PUBLIC KEY-----\n");
        out
    }

    #[test]
    fn keys_outside_the_bounds_are_refused_with_the_bound() {
        // Within the bounds (not real keys, but usable for encryption).
        for (bits, e) in [
            (2048, &[1u8, 0, 1][..]),
            (1024, &[3]),
            (8192, &[1, 0xFF, 0xFF, 0xFF, 0xFF]),
        ] {
            let out = encrypt(&pem(bits, e), b"secret").unwrap();
            assert_eq!(out.len(), bits / 8);
        }
        let huge = vec![0xFFu8; 46_000];
        for (bits, e, says) in [
            (2048, &huge[..], "368000-bit exponent"),
            (2048, &[2, 0, 0, 0, 1], "34-bit exponent"),
            (2048, &[1], "1-bit exponent"),
            (2048, &[1, 0, 0], "17-bit exponent"),
            (8200, &[1, 0, 1], "8200-bit modulus"),
            (16384, &[3], "16384-bit modulus"),
            (1016, &[3], "1016-bit modulus"),
        ] {
            let err = encrypt(&pem(bits, e), b"secret").unwrap_err();
            assert!(!err.is_permanent(), "{err:?}");
            assert!(err.reason.contains(says), "{says}: {err:?}");
        }
    }

    #[test]
    fn a_password_too_long_for_the_key_is_permanent() {
        let err = encrypt(&pem(1024, &[3]), &[b'x'; 100]).unwrap_err();
        assert!(err.is_permanent(), "{err:?}");
        assert!(err.reason.contains("too long"), "{err:?}");
    }
}
