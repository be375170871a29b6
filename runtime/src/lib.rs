//! The embeddable Verity host.
//!
//! A transaction is a wasm module, an entry point, input bytes and a fuel
//! limit. [`Runtime::execute`] validates the module against a determinism
//! [`Profile`], runs the entry point on wasmtime with fuel metering, a
//! page-capped memory and only the host ABI's imports, against a
//! [`StateBackend`] the embedder provides, and returns a [`Receipt`]: the
//! canonical, hashed record of the run. [`Runtime::verify`] re-executes a
//! receipt against its own read set and checks it byte for byte.
//!
//! ```
//! use verity_runtime::{MemoryState, Profile, Runtime, Transaction};
//!
//! let runtime = Runtime::new(Profile::default())?;
//! let wasm = verity_runtime::module_bytes(br#"(module (func (export "run")))"#)?;
//! let state = MemoryState::default();
//! let receipt = runtime.execute(&wasm, &Transaction::new("run"), &state)?;
//! assert!(receipt.status.is_success());
//! println!("receipt {}", receipt.hash());
//! runtime.verify(&wasm, &receipt)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

mod artifact;
mod auth;
mod builder;
mod contract_spec;
mod envelope;
mod error;
mod execution;
mod frames;
mod host;
pub mod instrument;
mod module_desc;
mod module_store;
mod pool;
mod prepared;
pub mod profile;
mod recent_code;
mod resolve;
mod runtime;
/// Contract values as JSON by a contract spec: in verity-host-abi (feature
/// `spec-json`), so tools that decode receipts need no engine.
pub use verity_host_abi::spec_json;
pub mod state;
mod transaction;
pub mod validate;
pub mod verify;

pub use artifact::{CacheStats, WarmReport};
pub use builder::RuntimeBuilder;
pub use contract_spec::{SpecReadError, contract_spec};
pub use envelope::{ENVELOPE_MAGIC, Envelope, EnvelopeError};
pub use error::RuntimeError;
pub use execution::{Executed, Execution, FuelEntry, FuelProfile};
pub use module_store::CRANELIFT_MAX_INSTRUMENTED_BYTES;
pub use pool::{Allocation, PoolOptions};
pub use prepared::PreparedModule;
pub use profile::{Compiler, Profile};
pub use runtime::Runtime;
pub use state::{
    MemoryState, StaleReceipt, StateBackend, StateError, StateRoots, StateView, Transition,
    TransitionCheckError, WitnessState, check_receipt_transition,
};
pub use transaction::{ChainContext, Target, Transaction};
pub use validate::{ModuleInfo, Rejection};
pub use verify::{FieldMismatch, Verified, VerifyError};
pub use verity_host_abi::auth::{Auth, Scheme, Signed};
pub use verity_host_core::{AccountKey, verify_tx_signature};

/// The README's Rust examples, compiled and run as doctests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
pub use verity_host_abi::{
    self as abi, Action, ContractId, Event, Hash32, ReadEntry, Receipt, Status, TrapKind,
    WriteEntry,
};

/// A module's bytes: `source` itself if it is a wasm binary, or the binary
/// compiled from it if it is WebAssembly text.
///
/// ```
/// let wasm = verity_runtime::module_bytes(b"(module)")?;
/// assert_eq!(&wasm[..4], b"\0asm");
/// assert_eq!(verity_runtime::module_bytes(&wasm)?, wasm);
/// # Ok::<(), wat::Error>(())
/// ```
pub fn module_bytes(source: &[u8]) -> Result<Vec<u8>, wat::Error> {
    wat::parse_bytes(source).map(|b| b.into_owned())
}
