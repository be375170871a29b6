//! The end-to-end tests of the `verity` CLI and of the whole system, in one
//! binary. Each module is one subject; its header says what it proves.

mod cli;
mod common;
mod contracts;
mod durability;
mod golden;
mod hostile;
mod multisig;
mod parity;
mod receipt_schema;
