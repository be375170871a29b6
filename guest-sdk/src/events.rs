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

/// A declared event type: `#[contractevent]` implements it and describes
/// the event in the contract spec, so tools print its data decoded.
///
/// ```
/// use verity_sdk::{contractevent, events, Address};
///
/// /// Tokens moved.
/// #[contractevent]
/// pub struct Transfer {
///     pub from: Address,
///     pub to: Address,
///     pub amount: u64,
/// }
///
/// assert_eq!(<Transfer as events::Event>::TOPIC, "transfer");
/// # fn emit() {
/// events::publish(&Transfer { from: Address([1; 32]), to: Address([2; 32]), amount: 5 });
/// # }
/// ```
pub trait Event: Serialize {
    /// The topic its events carry.
    const TOPIC: &'static str;
}

/// Emits `event` under its declared topic, its data the encoding of the
/// event (the same bytes as [`emit`] with the tuple of its fields).
pub fn publish<E: Event>(event: &E) {
    emit(E::TOPIC.as_bytes(), event)
}
