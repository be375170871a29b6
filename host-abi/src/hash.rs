//! SHA-256 digests and the domain tags that separate what is hashed.

use core::fmt;
use sha2::{Digest, Sha256};

/// Domain tag prefixed to the canonical receipt encoding before hashing.
pub const RECEIPT_DOMAIN: &[u8] = b"verity.receipt.v4\0";

/// A SHA-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash32(pub [u8; 32]);

impl Hash32 {
    /// SHA-256 of `data`.
    ///
    /// ```
    /// use verity_host_abi::Hash32;
    /// assert_eq!(
    ///     Hash32::of(b"").to_hex(),
    ///     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    /// );
    /// ```
    pub fn of(data: &[u8]) -> Hash32 {
        Hash32(Sha256::digest(data).into())
    }

    /// SHA-256 of `domain || data`.
    pub fn of_tagged(domain: &[u8], data: &[u8]) -> Hash32 {
        let mut h = Sha256::new();
        h.update(domain);
        h.update(data);
        Hash32(h.finalize().into())
    }

    #[cfg(feature = "alloc")]
    /// Lowercase hex.
    pub fn to_hex(&self) -> alloc::string::String {
        use core::fmt::Write;
        let mut s = alloc::string::String::with_capacity(64);
        for b in self.0 {
            let _ = write!(s, "{b:02x}");
        }
        s
    }

    /// Parses exactly 64 hex digits (either case).
    ///
    /// ```
    /// use verity_host_abi::Hash32;
    /// let h = Hash32::of(b"x");
    /// assert_eq!(Hash32::from_hex(&h.to_hex()), Some(h));
    /// assert_eq!(Hash32::from_hex("abc"), None);
    /// ```
    pub fn from_hex(s: &str) -> Option<Hash32> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            out[i] = (hi * 16 + lo) as u8;
        }
        Some(Hash32(out))
    }
}

impl fmt::Debug for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash32({self})")
    }
}

impl fmt::Display for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}
