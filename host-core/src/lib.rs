//! The Verity host's rules, without an engine.
//!
//! Everything a host function decides lives here once: the transaction
//! overlay and its read and write budgets, every limit check with its trap
//! kind, host-call fuel (each function's base cost plus its per-byte part,
//! from the profile's [`CostSchedule`](verity_host_abi::CostSchedule)), and
//! what output, events and `abort` do. Two hosts drive it:
//!
//! - the runtime (`verity-runtime`), whose wasmtime glue only translates the
//!   guest's linear memory into a [`GuestMemory`] and keeps the fuel global in
//!   step with [`Host::fuel_left`];
//! - the guest SDK's native `TestEnv`, which runs contract source under
//!   `cargo test` and hands each host call the same [`Host`], so a native test
//!   sees the messages, traps and host-call fuel of a real run.
//!
//! A run in a few lines, with guest memory as a plain byte array:
//!
//! ```
//! use verity_host_abi::{CostSchedule, Limits, Status};
//! use verity_host_core::{GuestMemory, Host, MemoryState, TxBytes};
//!
//! let mut state = MemoryState::default();
//! state.insert(b"k".to_vec(), b"old".to_vec());
//! let limits = Limits::default();
//! let costs = CostSchedule::default();
//! let me = verity_host_abi::ContractId([7; 32]);
//! let mut host = Host::new(&state, &me, TxBytes::default(), &limits, &costs, 1_000_000);
//!
//! // The guest's memory holds a key at 0 and a value at 1.
//! let mut bytes = *b"knew";
//! let mut mem = GuestMemory::new(&mut bytes);
//! host.storage_write(&mut mem, 0, 1, 1, 3)?;
//! let charged = 1_000_000 - host.fuel_left();
//! assert_eq!(charged, costs.storage_write.total(4));
//!
//! let run = host.finish(&Status::Success);
//! // The write lands in the contract's own storage.
//! let key = verity_host_abi::contract::storage_key(&me, b"k");
//! assert_eq!(run.effects.writes[0].key, key);
//! assert_eq!(run.effects.writes[0].value.as_deref(), Some(&b"new"[..]));
//! # Ok::<(), verity_host_core::HostExit>(())
//! ```
#![forbid(unsafe_code)]

mod calls;
mod crypto;
mod exit;
mod frames;
mod host;
mod memory;
mod overlay;
mod signing;
pub mod state;
pub mod transaction;

pub use crypto::verify_tx_signature;
pub use exit::HostExit;
pub use frames::{CallRecord, CallRefusal, CallRequest, Caller};
pub use host::{ChainContext, Effects, Finished, Host, HostFuel, TxBytes};
pub use memory::GuestMemory;
pub use signing::{AccountKey, admission_fuel};
pub use state::{
    MemoryState, StaleReceipt, StateBackend, StateError, StateRoots, StateView, Transition,
    TransitionCheckError, WitnessState, check_receipt_transition, tree_writes,
};
pub use transaction::{DEFAULT_FUEL, TxRejection, bounded_fields, check_transaction};
