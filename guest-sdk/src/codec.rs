//! The one value encoding of Verity contracts: [postcard] (a compact,
//! deterministic serde format with a frozen wire specification).
//!
//! Entry point arguments are the postcard encoding of the tuple of
//! arguments; return values, typed storage values and typed event data are
//! the postcard encoding of the value. Decoding is strict: trailing bytes are
//! an error, so one value has one accepted encoding length.
//!
//! ```
//! use verity_sdk::codec;
//! let mut buf = [0u8; 16];
//! let bytes = codec::encode(&(7u64, true), &mut buf).unwrap();
//! assert_eq!(bytes, [7, 1]);
//! assert_eq!(codec::decode::<(u64, bool)>(bytes), Some((7, true)));
//! assert_eq!(codec::decode::<(u64, bool)>(&[7, 1, 0]), None); // trailing byte
//! ```
//!
//! [postcard]: https://postcard.jamesmunns.com/wire-format

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Encodes `value` into `buf`, returning the used prefix, or `None` if it
/// does not fit.
#[inline(always)]
pub fn encode<'b, T: Serialize + ?Sized>(value: &T, buf: &'b mut [u8]) -> Option<&'b [u8]> {
    postcard::to_slice(value, buf).ok().map(|s| &*s)
}

/// Decodes exactly one `T` from `bytes`; `None` if they are not a complete
/// encoding of a `T` or have bytes left over.
#[inline(always)]
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    match postcard::take_from_bytes(bytes) {
        Ok((v, [])) => Some(v),
        _ => None,
    }
}

/// Encodes `value` into a new vector (with the `alloc` feature, and natively).
#[cfg(any(feature = "alloc", not(target_arch = "wasm32")))]
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> alloc::vec::Vec<u8> {
    // Serialising into a growable vector fails only if a `Serialize` impl
    // reports an error itself.
    postcard::to_allocvec(value).unwrap_or_default()
}
