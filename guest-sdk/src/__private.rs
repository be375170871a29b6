//! Support code for the `#[contract]` macro's expansion. Not a stable API.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::env::{self, revert, revert_with};
use crate::scratch::{Guard, TOO_LARGE};
use crate::{ContractError, codec};

/// The line buffer of [`log!`](crate::log!): 256 bytes, cut at a character
/// boundary.
pub struct LogLine {
    buf: [u8; 256],
    len: usize,
}

impl LogLine {
    /// An empty line.
    pub const fn new() -> Self {
        LogLine {
            buf: [0; 256],
            len: 0,
        }
    }

    /// The text written so far.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.buf.get(..self.len).unwrap_or_default()).unwrap_or_default()
    }
}

impl Default for LogLine {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Write for LogLine {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let mut take = s.len().min(self.buf.len() - self.len);
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        if let (Some(dst), Some(src)) = (
            self.buf.get_mut(self.len..self.len + take),
            s.as_bytes().get(..take),
        ) {
            dst.copy_from_slice(src);
            self.len += take;
        }
        Ok(())
    }
}

/// Decodes the entry's argument tuple from the input, or reverts with
/// `message`.
pub fn decode_input<T: DeserializeOwned>(message: &str) -> T {
    let mut g = Guard::take();
    match codec::decode(env::read_input(g.buf())) {
        Some(v) => v,
        None => revert(message),
    }
}

/// Sets the encoding of `value` as output (nothing for encodings of zero
/// bytes such as `()`, so an output set by hand stays).
pub fn finish_value<T: Serialize>(value: T) {
    let mut g = Guard::take();
    match codec::encode(&value, g.buf()) {
        Some([]) => {}
        Some(bytes) => env::set_output(bytes),
        None => revert(TOO_LARGE),
    }
}

/// `finish_value` for `Ok`, revert with the error's code and message for
/// `Err`.
pub fn finish_result<T: Serialize, E: ContractError>(result: Result<T, E>) {
    match result {
        Ok(v) => finish_value(v),
        Err(e) => revert_with(&e),
    }
}

/// The allocating types a [`contractclient!`](crate::contractclient)
/// client names (only with an allocator).
#[cfg(any(feature = "alloc", not(target_arch = "wasm32")))]
pub use alloc::{string::String, vec::Vec};
