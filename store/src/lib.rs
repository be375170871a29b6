//! Verity's state directory: the store behind `verity ... --state DIR`.
//!
//! [`DirState`] keeps a state (values and the state tree's records) in one
//! [redb](https://docs.rs/redb) database in a directory, commits a
//! transaction's writes durably, and gives the proofs and witnesses a
//! receipt is checked with. It implements the runtime's
//! [`StateView`](verity_runtime::StateView),
//! [`StateBackend`](verity_runtime::StateBackend) and
//! [`StateRoots`](verity_runtime::StateRoots), like any store an embedder
//! plugs in: the runtime (the engine) depends on no database, and an
//! embedder with its own store pulls in neither redb nor this crate.
//!
//! ```
//! use verity_runtime::{Profile, Runtime, Transaction};
//! use verity_store::DirState;
//!
//! let dir = tempfile::tempdir()?;
//! let mut state = DirState::create(dir.path())?;
//! let runtime = Runtime::new(Profile::default())?;
//! let wasm = verity_runtime::module_bytes(br#"(module
//!   (import "verity" "storage_write" (func $w (param i32 i32 i32 i32)))
//!   (memory (export "memory") 1)
//!   (data (i32.const 0) "kv")
//!   (func (export "run") (call $w (i32.const 0) (i32.const 1) (i32.const 1) (i32.const 1))))"#)?;
//! let receipt = runtime.execute(&wasm, &Transaction::new("run"), &state)?;
//! assert!(receipt.status.is_success());
//! state.commit(receipt.pre_state_root, &receipt.writes)?;
//! assert_eq!(state.root(), receipt.post_state_root);
//! drop(state);
//! // Opening reads the root, not the state.
//! assert_eq!(DirState::open(dir.path())?.root(), receipt.post_state_root);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

mod dir_state;
mod overlay_file;

pub use dir_state::{CheckReport, DirState, DirStateError};
