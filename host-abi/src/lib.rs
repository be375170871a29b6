//! What the Verity host, its guests and third-party verifiers share.
//!
//! This crate is `no_std` (with `alloc`) and knows nothing about wasmtime. It
//! holds:
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
//!
//! A verifier written against this crate alone can check that a receipt's
//! hash matches its contents:
//!
//! ```
//! use verity_host_abi::receipt::Receipt;
//!
//! # use verity_host_abi::{Hash32, Status};
//! let receipt = Receipt {
//!     format_version: 1,
//!     profile_hash: Hash32::of(b"profile"),
//!     code_hash: Hash32::of(b"code"),
//!     entry: "run".into(),
//!     sender: vec![],
//!     context: vec![],
//!     input: vec![],
//!     fuel_limit: 1_000,
//!     fuel_used: 10,
//!     status: Status::Success,
//!     reads: vec![],
//!     writes: vec![],
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

extern crate alloc;

pub mod abi;
pub mod costs;
pub mod encoding;
pub mod hash;
#[cfg(feature = "serde")]
pub mod json;
pub mod limits;
pub mod receipt;
pub mod status;

pub use abi::{HOST_FUNCTIONS, HostFnSpec, IMPORT_MODULE, ValType};
pub use costs::{Cost, CostClass, CostSchedule};
pub use hash::Hash32;
pub use limits::Limits;
pub use receipt::{Event, ReadEntry, Receipt, WriteEntry};
pub use status::{Status, TrapKind};
