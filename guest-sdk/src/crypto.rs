//! Hashing by the host (cheaper in fuel than hashing in wasm).

/// SHA-256 of `data`, computed by the host.
///
/// ```no_run
/// let digest = verity_sdk::crypto::sha256(b"abc");
/// assert_eq!(digest[0], 0xba);
/// ```
pub fn sha256(data: &[u8]) -> [u8; 32] {
    crate::host::sha256(data)
}
