//! Events: a topic and data, recorded in the receipt in emission order and
//! kept only if the run succeeds.

use serde::Serialize;

use crate::env::revert;
use crate::scratch::{Guard, TOO_LARGE};
use crate::{codec, host};

/// Emits an event with raw data.
pub fn emit_bytes(topic: &[u8], data: &[u8]) {
    host::event_emit(topic, data)
}

/// Emits an event whose data is the encoding of `data`.
///
/// ```no_run
/// use verity_sdk::{events, Address};
/// events::emit(b"transfer", &(Address([1; 32]), Address([2; 32]), 5u64));
/// ```
pub fn emit<T: Serialize + ?Sized>(topic: &[u8], data: &T) {
    let mut g = Guard::take();
    match codec::encode(data, g.buf()) {
        Some(bytes) => emit_bytes(topic, bytes),
        None => revert(TOO_LARGE),
    }
}
