//! Support code for the `#[contract]` macro's expansion. Not a stable API.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::env::{self, revert, revert_with};
use crate::scratch::{Guard, TOO_LARGE};
use crate::{ContractError, codec};

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
