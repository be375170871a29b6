//! Verity's authenticated state: a binary sparse Merkle tree over SHA-256.
//!
//! Every key of the state lives at the 256-bit path `SHA-256(key)`. A leaf
//! commits to its path and `SHA-256(value)`, an internal node to its two
//! children, each with one SHA-256 compression from its own initial state;
//! an empty subtree is 32 zero bytes; a subtree holding exactly
//! one leaf *is* that leaf (it is not pushed down to depth 256), so a tree
//! of n keys is about log2(n) levels deep and its root depends only on the
//! set of keys and values. docs/state-tree.md specifies it byte for byte.
//!
//! - [`Tree`]: the whole tree in memory, for an executor: reads, batched
//!   writes (each changed node rehashed once), and [`Tree::prove`].
//! - [`stored`]: the same tree in a store of nodes (a database table),
//!   for a state on disk: nothing is loaded to open it, and a read, a
//!   batch of writes or a proof touches the nodes on its paths.
//! - [`Proof`]: one proof for all the keys a transaction touched, and what a
//!   verifier does with it, with no state database: check it against the
//!   pre-state root, answer reads (present with its value hash, or proven
//!   absent), apply the writes, and compute the post-state root;
//!   [`check_transition`] does all of it for a transaction's read and write
//!   sets.
//!
//! `no_std` (with `alloc`): a third-party verifier needs this crate and
//! sha2, nothing else.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

mod hash;
mod proof;
pub mod stored;
mod transition;
mod tree;

pub use hash::{EMPTY, Hash, LEAF_IV, NODE_IV, bit, key_path, leaf_hash, node_hash, value_hash};
pub use proof::{CanonicalRule, Proof, ProofError};
pub use transition::{TransitionError, check_transition};
pub use tree::Tree;
