//! The signature and hash host functions (docs/abi.md, "Signatures and
//! hashes"): Keccak-256, Ed25519 (strict), secp256k1 ECDSA verification and
//! key recovery (low-S), P-256 ECDSA verification. Each checks its guest
//! ranges, takes its per-byte fuel, then decodes: malformed input is a
//! result code, never a trap of the host's making and never a panic.

use sha3::Keccak256;

use crate::calls::{Res, hash_call};
use crate::host::Host;
use crate::memory::GuestMemory;
use crate::state::StateView;
use verity_host_abi::CostClass;

/// The signature is valid (a key was recovered).
const VALID: i32 = 1;
/// Well-formed, but it does not verify (no key recovered).
const INVALID: i32 = 0;
/// The public key is not a valid point encoding.
const BAD_KEY: i32 = -1;
/// The signature (or recovery id) is malformed, or ECDSA's `s` is high.
const BAD_SIGNATURE: i32 = -2;

/// Copies `N` bytes of guest memory at `ptr`.
fn fixed<const N: usize>(mem: &mut GuestMemory<'_>, ptr: i32) -> Res<[u8; N]> {
    let r = mem.range(ptr, N)?;
    let mut out = [0u8; N];
    out.copy_from_slice(&mem.bytes()?[r]);
    Ok(out)
}

pub(crate) fn keccak256<B: StateView>(
    h: &mut Host<B>,
    mem: &mut GuestMemory<'_>,
    src_ptr: i32,
    src_len: i32,
    dst: i32,
) -> Res {
    hash_call::<Keccak256, B>(h, mem, src_ptr, src_len, dst, CostClass::keccak256)
}

/// The order of the Ed25519 group, little-endian: a canonical `S` is below it.
const ED25519_L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// Whether the little-endian scalar `s` is below the group order.
fn canonical_scalar(s: &[u8]) -> bool {
    for (a, b) in s.iter().rev().zip(ED25519_L.iter().rev()) {
        if a != b {
            return a < b;
        }
    }
    false
}

pub(crate) fn ed25519_verify<B: StateView>(
    h: &mut Host<B>,
    mem: &mut GuestMemory<'_>,
    key_ptr: i32,
    sig_ptr: i32,
    msg_ptr: i32,
    msg_len: i32,
) -> Res<i32> {
    let key: [u8; 32] = fixed(mem, key_ptr)?;
    let sig: [u8; 64] = fixed(mem, sig_ptr)?;
    let msg = mem.range(msg_ptr, msg_len as u32 as usize)?;
    h.charge_bytes(CostClass::ed25519_verify, msg.len())?;
    let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&key) else {
        return Ok(BAD_KEY);
    };
    if key.is_weak() {
        return Ok(BAD_KEY);
    }
    if !canonical_scalar(&sig[32..]) {
        return Ok(BAD_SIGNATURE);
    }
    let sig = ed25519_dalek::Signature::from_bytes(&sig);
    let data = mem.bytes()?;
    Ok(match key.verify_strict(&data[msg], &sig) {
        Ok(()) => VALID,
        Err(_) => INVALID,
    })
}

/// The SEC1 key `[key_ptr, key_ptr + key_len)`, if its length is one a key
/// can have (33 or 65 bytes); `Ok(None)` otherwise.
fn sec1_key(mem: &mut GuestMemory<'_>, key_ptr: i32, key_len: i32) -> Res<Option<Vec<u8>>> {
    let len = key_len as u32 as usize;
    let r = mem.range(key_ptr, len)?;
    if len != 33 && len != 65 {
        return Ok(None);
    }
    Ok(Some(mem.bytes()?[r].to_vec()))
}

/// An ECDSA check of a 32-byte digest by a SEC1 key with the curve crate
/// `$curve`; `$low_s` refuses a high `s` as malformed.
macro_rules! ecdsa_verify {
    ($(#[$doc:meta])* $name:ident, $curve:ident, low_s = $low_s:expr) => {
        $(#[$doc])*
        pub(crate) fn $name<B: StateView>(
            _h: &mut Host<B>,
            mem: &mut GuestMemory<'_>,
            key_ptr: i32,
            key_len: i32,
            digest_ptr: i32,
            sig_ptr: i32,
        ) -> Res<i32> {
            use $curve::ecdsa::signature::hazmat::PrehashVerifier;
            let key = sec1_key(mem, key_ptr, key_len)?;
            let digest: [u8; 32] = fixed(mem, digest_ptr)?;
            let sig: [u8; 64] = fixed(mem, sig_ptr)?;
            let Some(Ok(key)) = key.map(|k| $curve::ecdsa::VerifyingKey::from_sec1_bytes(&k)) else {
                return Ok(BAD_KEY);
            };
            let Ok(sig) = $curve::ecdsa::Signature::from_slice(&sig) else {
                return Ok(BAD_SIGNATURE);
            };
            if $low_s && sig.normalize_s().is_some() {
                return Ok(BAD_SIGNATURE);
            }
            Ok(match key.verify_prehash(&digest, &sig) {
                Ok(()) => VALID,
                Err(_) => INVALID,
            })
        }
    };
}

/// Checks a transaction signature (docs/auth.md): `signature` by
/// `public_key` under `scheme` over the 32-byte `tx_hash`. Ed25519 signs
/// the hash as its message, strictly (canonical `S`, no small-order key);
/// P-256 ECDSA signs it with SHA-256 (so the digest is SHA-256 of the
/// hash, what `openssl dgst -sha256 -sign` computes), low `S` only, so
/// that no signature has a second form.
///
/// ```
/// use verity_host_abi::auth::{AuthRejection, Scheme};
/// use verity_host_core::verify_tx_signature;
///
/// let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
/// let hash = [1u8; 32];
/// use ed25519_dalek::Signer;
/// let sig = key.sign(&hash).to_bytes();
/// let public = key.verifying_key().to_bytes();
/// assert_eq!(verify_tx_signature(Scheme::Ed25519, &public, &hash, &sig), Ok(()));
/// assert_eq!(
///     verify_tx_signature(Scheme::Ed25519, &public, &[2; 32], &sig),
///     Err(AuthRejection::BadSignature)
/// );
/// ```
pub fn verify_tx_signature(
    scheme: verity_host_abi::auth::Scheme,
    public_key: &[u8],
    tx_hash: &[u8; 32],
    signature: &[u8],
) -> Result<(), verity_host_abi::auth::AuthRejection> {
    use verity_host_abi::auth::{AuthRejection, Scheme};
    let Ok(sig) = <[u8; 64]>::try_from(signature) else {
        return Err(AuthRejection::BadSignature);
    };
    match scheme {
        Scheme::Ed25519 => {
            let Ok(key) = <[u8; 32]>::try_from(public_key) else {
                return Err(AuthRejection::BadKey);
            };
            let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&key) else {
                return Err(AuthRejection::BadKey);
            };
            if key.is_weak() {
                return Err(AuthRejection::BadKey);
            }
            if !canonical_scalar(&sig[32..]) {
                return Err(AuthRejection::BadSignature);
            }
            let sig = ed25519_dalek::Signature::from_bytes(&sig);
            key.verify_strict(tx_hash, &sig)
                .map_err(|_| AuthRejection::BadSignature)
        }
        Scheme::P256 => {
            use p256::ecdsa::signature::Verifier;
            if public_key.len() != scheme.key_bytes() {
                return Err(AuthRejection::BadKey);
            }
            let Ok(key) = p256::ecdsa::VerifyingKey::from_sec1_bytes(public_key) else {
                return Err(AuthRejection::BadKey);
            };
            let Ok(sig) = p256::ecdsa::Signature::from_slice(&sig) else {
                return Err(AuthRejection::BadSignature);
            };
            if sig.normalize_s().is_some() {
                return Err(AuthRejection::BadSignature);
            }
            key.verify(tx_hash, &sig)
                .map_err(|_| AuthRejection::BadSignature)
        }
    }
}

ecdsa_verify!(
    /// secp256k1, low-S only (Bitcoin's and Ethereum's rule).
    secp256k1_verify, k256, low_s = true
);

pub(crate) fn secp256k1_recover<B: StateView>(
    _h: &mut Host<B>,
    mem: &mut GuestMemory<'_>,
    digest_ptr: i32,
    sig_ptr: i32,
    recovery_id: i32,
    dst: i32,
) -> Res<i32> {
    let digest: [u8; 32] = fixed(mem, digest_ptr)?;
    let sig: [u8; 64] = fixed(mem, sig_ptr)?;
    let out = mem.range(dst, 33)?;
    let Ok(sig) = k256::ecdsa::Signature::from_slice(&sig) else {
        return Ok(BAD_SIGNATURE);
    };
    let id = match recovery_id {
        0 | 1 => k256::ecdsa::RecoveryId::from_byte(recovery_id as u8),
        _ => None,
    };
    let Some(id) = id.filter(|_| sig.normalize_s().is_none()) else {
        return Ok(BAD_SIGNATURE);
    };
    match k256::ecdsa::VerifyingKey::recover_from_prehash(&digest, &sig, id) {
        Ok(key) => {
            let point = key.to_encoded_point(true);
            mem.bytes()?[out].copy_from_slice(point.as_bytes());
            Ok(VALID)
        }
        Err(_) => Ok(INVALID),
    }
}

ecdsa_verify!(
    /// P-256 with either half of `s`: passkey authenticators do not
    /// normalise it (docs/abi.md).
    p256_verify, p256, low_s = false
);

#[cfg(test)]
mod tests {
    use super::canonical_scalar;

    #[test]
    fn the_group_order_itself_is_not_canonical() {
        let l = super::ED25519_L;
        assert!(!canonical_scalar(&l));
        let mut below = l;
        below[0] -= 1;
        assert!(canonical_scalar(&below));
        assert!(canonical_scalar(&[0; 32]));
        assert!(!canonical_scalar(&[0xff; 32]));
    }
}
