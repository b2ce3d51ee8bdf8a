//! The server's RSA public key, for `caching_sha2_password`'s full authentication
//! without TLS (`get-server-public-key=true`): the password, XORed with the nonce, is
//! encrypted with RSA-OAEP (SHA-1, MGF1-SHA-1) as the mysql client does.

use super::auth::{digest, xor};
use super::packet::{garbage, Reader};
use crate::probe::error::ProbeError;

/// A DER element: tag and contents, advancing `input`.
pub(super) fn der<'a>(input: &mut &'a [u8]) -> Option<(u8, &'a [u8])> {
    let mut r = Reader(input);
    let tag = r.u8()?;
    let first = r.u8()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        r.take(n)?
            .iter()
            .fold(0usize, |acc, &b| acc << 8 | usize::from(b))
    };
    let body = r.take(len)?;
    *input = r.0;
    Some((tag, body))
}

/// The modulus and exponent of an RSA public key in PEM: SubjectPublicKeyInfo
/// (`BEGIN PUBLIC KEY`, what MySQL sends) or PKCS#1 (`BEGIN RSA PUBLIC KEY`).
pub(super) fn rsa_public_key(pem: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    use base64::Engine;
    let text = std::str::from_utf8(pem).ok()?;
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .flat_map(|l| l.trim().chars())
        .collect();
    let der_bytes = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()?;
    let mut input = der_bytes.as_slice();
    let (tag, mut seq) = der(&mut input)?;
    if tag != 0x30 {
        return None;
    }
    let mut key = seq;
    let (tag, first) = der(&mut seq)?;
    if tag == 0x30 {
        // SubjectPublicKeyInfo: algorithm, then a BIT STRING holding RSAPublicKey.
        let (tag, bits) = der(&mut seq)?;
        if tag != 0x03 || bits.first() != Some(&0) {
            return None;
        }
        let mut inner = &bits[1..];
        let (tag, rsa) = der(&mut inner)?;
        if tag != 0x30 {
            return None;
        }
        key = rsa;
    } else if tag != 0x02 || first.is_empty() {
        return None;
    }
    let (tag_n, n) = der(&mut key)?;
    let (tag_e, e) = der(&mut key)?;
    (tag_n == 0x02 && tag_e == 0x02 && !n.is_empty() && !e.is_empty())
        .then(|| (n.to_vec(), e.to_vec()))
}

/// MGF1 with SHA-1 (RFC 8017, B.2.1).
pub(super) fn mgf1_sha1(seed: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 20);
    let mut counter: u32 = 0;
    while out.len() < len {
        out.extend(digest(
            &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            &[seed, &counter.to_be_bytes()],
        ));
        counter += 1;
    }
    out.truncate(len);
    out
}

/// RSAES-OAEP encryption with SHA-1 and MGF1-SHA-1, empty label (RFC 8017, 7.1.1),
/// as caching_sha2_password expects, with the server's PEM public key.
pub(super) fn rsa_oaep_sha1(pem: &[u8], message: &[u8]) -> Result<Vec<u8>, ProbeError> {
    use num_bigint::BigUint;
    let bad_key = || garbage("the server's RSA public key cannot be read");
    let (n, e) = rsa_public_key(pem).ok_or_else(bad_key)?;
    let n = BigUint::from_bytes_be(&n);
    let e = BigUint::from_bytes_be(&e);
    let k = usize::try_from(n.bits().div_ceil(8)).map_err(|_| bad_key())?;
    const H: usize = 20;
    if !(128..=2048).contains(&k) || e.bits() < 2 {
        return Err(bad_key());
    }
    if message.len() + 2 * H + 2 > k {
        return Err(ProbeError::permanent(
            "the password is too long for the server's RSA key",
        ));
    }
    let mut db = digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &[b""]);
    db.resize(k - message.len() - H - 2, 0);
    db.push(1);
    db.extend_from_slice(message);
    let mut seed = [0u8; H];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut seed)
        .map_err(|_| ProbeError::transient("no randomness for RSA encryption"))?;
    let masked_db = xor(&db, &mgf1_sha1(&seed, k - H - 1));
    let masked_seed = xor(&seed, &mgf1_sha1(&masked_db, H));
    let mut em = vec![0u8];
    em.extend_from_slice(&masked_seed);
    em.extend_from_slice(&masked_db);
    let c = BigUint::from_bytes_be(&em).modpow(&e, &n).to_bytes_be();
    let mut out = vec![0u8; k - c.len()];
    out.extend_from_slice(&c);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::mysql::fake::*;

    #[test]
    fn rsa_oaep_is_what_openssl_decrypts() {
        let dir = std::env::temp_dir().join(format!("whenready-rsa-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (key, public) = openssl_key(&dir);
        let message = b"secret\0 xor nonce".to_vec();
        let cipher = rsa_oaep_sha1(&public, &message).unwrap();
        assert_eq!(cipher.len(), 256);
        // Encryption is randomised: the same message twice gives two ciphertexts.
        assert_ne!(cipher, rsa_oaep_sha1(&public, &message).unwrap());
        let plain = openssl_decrypt(&key, &cipher);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(plain, message);
    }

    #[test]
    fn bad_rsa_keys_are_errors_not_panics() {
        for pem in [
            &b""[..],
            b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
            b"-----BEGIN PUBLIC KEY-----\nMAMCAQE=\n-----END PUBLIC KEY-----\n",
            b"\xff\xfe",
            b"MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA",
        ] {
            assert!(rsa_oaep_sha1(pem, b"x").is_err());
        }
        let mut input = &[0x30u8, 0x84, 0xff, 0xff, 0xff, 0xff][..];
        assert!(der(&mut input).is_none());
    }
}
