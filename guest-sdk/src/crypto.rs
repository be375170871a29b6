//! Hashes and signature checks by the host (cheaper in fuel than in wasm,
//! and on audited crates): docs/abi.md, "Signatures and hashes".

/// SHA-256 of `data`, computed by the host.
///
/// ```no_run
/// let digest = verity_sdk::crypto::sha256(b"abc");
/// assert_eq!(digest[0], 0xba);
/// ```
pub fn sha256(data: &[u8]) -> [u8; 32] {
    crate::host::sha256(data)
}

/// Keccak-256 of `data` (Ethereum's hash), computed by the host.
pub fn keccak256(data: &[u8]) -> [u8; 32] {
    crate::host::keccak256(data)
}

/// Why a signature check could not be made: the input is not a key or a
/// signature at all (as opposed to a signature that does not verify).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureError {
    /// The public key is not a valid encoding of a curve point (or, for
    /// Ed25519, a small-order point).
    BadKey,
    /// The signature is malformed: out-of-range or non-canonical scalars,
    /// a high `s` for secp256k1, a recovery id other than 0 or 1.
    BadSignature,
}

fn outcome(code: i32) -> Result<bool, SignatureError> {
    match code {
        1 => Ok(true),
        0 => Ok(false),
        -1 => Err(SignatureError::BadKey),
        _ => Err(SignatureError::BadSignature),
    }
}

/// Whether `sig` is `key`'s Ed25519 signature of `msg`, checked strictly
/// (RFC 8032 with canonical encodings and no small-order key).
pub fn ed25519_verify(key: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> Result<bool, SignatureError> {
    outcome(crate::host::ed25519_verify(key, sig, msg))
}

/// Whether `sig` (`r ‖ s`, low-S) is the secp256k1 ECDSA signature of the
/// 32-byte `digest` by `key` (SEC1, 33 or 65 bytes).
pub fn secp256k1_verify(
    key: &[u8],
    digest: &[u8; 32],
    sig: &[u8; 64],
) -> Result<bool, SignatureError> {
    outcome(crate::host::secp256k1_verify(key, digest, sig))
}

/// The compressed (33-byte) secp256k1 key that signed `digest` with `sig`
/// (`r ‖ s`, low-S) and `recovery_id` (0 or 1); `Ok(None)` if there is none.
pub fn secp256k1_recover(
    digest: &[u8; 32],
    sig: &[u8; 64],
    recovery_id: u8,
) -> Result<Option<[u8; 33]>, SignatureError> {
    let (code, key) = crate::host::secp256k1_recover(digest, sig, recovery_id);
    Ok(outcome(code)?.then_some(key))
}

/// Whether `sig` (`r ‖ s`, either half of `s`, as passkeys sign) is the
/// P-256 ECDSA signature of the 32-byte `digest` by `key` (SEC1, 33 or 65
/// bytes).
pub fn p256_verify(key: &[u8], digest: &[u8; 32], sig: &[u8; 64]) -> Result<bool, SignatureError> {
    outcome(crate::host::p256_verify(key, digest, sig))
}
