//! What the Verity host, its guests and third-party verifiers share.
//!
//! This crate is `no_std` and knows nothing about wasmtime. With the default
//! feature `alloc` it holds everything below; without it (as the guest SDK
//! uses it, so contracts that do not allocate need no allocator) only the ABI
//! table, costs and limits remain. It holds:
//!
//! - [`abi`]: the one definition of the host ABI (import module, function
//!   names, exact signatures and cost classes). Both the host linker and the
//!   guest bindings are generated from [`for_each_host_fn!`], so they cannot
//!   drift apart.
//! - [`costs`] and [`limits`]: the cost schedule and the limits that, with the
//!   engine settings, make up a determinism profile.
//! - [`status`]: how a run ended.
//! - [`receipt`], [`encoding`] and [`hash`]: execution receipts, their
//!   canonical byte encoding and their SHA-256 hash.
//! - `json` (feature `serde`): the JSON form of a receipt for humans and tools.
//! - [`spec`]: the interface description a contract embeds in its
//!   `verity.spec` custom section, read by `verity inspect` and `--arg`.
//!
//! A verifier written against this crate alone can check that a receipt's
//! hash matches its contents:
//!
//! ```
//! use verity_host_abi::receipt::Receipt;
//!
//! # use verity_host_abi::{Action, ContractId, Hash32, Status};
//! let receipt = Receipt {
//!     format_version: 4,
//!     profile_hash: Hash32::of(b"profile"),
//!     action: Action::Run,
//!     contract: ContractId([1; 32]),
//!     code_hash: Hash32::of(b"code"),
//!     entry: "run".into(),
//!     sender: vec![],
//!     auth: Default::default(),
//!     context: vec![],
//!     height: 7,
//!     time: 1_700_000_000,
//!     chain_id: "verity-test".into(),
//!     input: vec![],
//!     fuel_limit: 1_000,
//!     fuel_used: 10,
//!     status: Status::Success,
//!     pre_state_root: Hash32::default(),
//!     post_state_root: Hash32::default(),
//!     reads: vec![],
//!     writes: vec![],
//!     calls: vec![],
//!     events: vec![],
//!     output: b"ok".to_vec(),
//! };
//! let bytes = receipt.encode();
//! let decoded = Receipt::decode(&bytes).expect("canonical bytes decode");
//! assert_eq!(decoded, receipt);
//! assert_eq!(decoded.hash(), receipt.hash());
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;
// Contract values as JSON need std (serde_json).
#[cfg(feature = "spec-json")]
extern crate std;

pub mod abi;
#[cfg(feature = "alloc")]
pub mod auth;
pub mod contract;
pub mod costs;
#[cfg(feature = "alloc")]
pub mod encoding;
pub mod hash;
#[cfg(feature = "serde")]
pub mod json;
pub mod limits;
#[cfg(feature = "alloc")]
pub mod receipt;
#[cfg(feature = "alloc")]
pub mod spec;
#[cfg(feature = "spec-json")]
pub mod spec_json;
#[cfg(feature = "alloc")]
pub mod status;

pub use abi::{HOST_FUNCTIONS, HostFnSpec, IMPORT_MODULE, ValType};
pub use contract::ContractId;
pub use costs::{AccessPrices, AccessTier, Cost, CostClass, CostSchedule};
pub use hash::Hash32;
pub use limits::Limits;
#[cfg(feature = "alloc")]
pub use receipt::{Action, CallEntry, Event, ReadEntry, Receipt, WriteEntry};
#[cfg(feature = "alloc")]
pub use status::{Status, TrapKind};
