//! Write Verity contracts in Rust.
//!
//! A contract is a `cdylib` crate built with
//! `cargo build --release --target wasm32-unknown-unknown`. Its public
//! associated functions in a `#[contract]` impl block are its entry points:
//! ordinary Rust functions whose arguments are decoded from the transaction
//! input and whose return value becomes the output (both in the
//! [`codec`] encoding, postcard). State lives in [`storage`]; [`events`] are
//! recorded in the receipt; [`env`] gives the sender, context and
//! [`env::revert`]; [`crypto::sha256`] hashes on the host.
//!
//! ```
//! #![cfg_attr(target_arch = "wasm32", no_std)]
//! use verity_sdk::{contract, env, storage::Map, Address, ContractError};
//!
//! const BALANCES: Map<Address, u64> = Map::new(b"bal");
//!
//! #[derive(ContractError)]
//! pub enum Error {
//!     #[error("insufficient balance")]
//!     InsufficientBalance = 1,
//!     #[error("sender is not a 32-byte address")]
//!     BadSender = 2,
//! }
//!
//! pub struct Bank;
//!
//! #[contract]
//! impl Bank {
//!     pub fn balance_of(owner: Address) -> u64 {
//!         BALANCES.get(&owner).unwrap_or(0)
//!     }
//!
//!     pub fn withdraw(amount: u64) -> Result<u64, Error> {
//!         let me = env::sender_address().ok_or(Error::BadSender)?;
//!         let left = Self::balance_of(me)
//!             .checked_sub(amount)
//!             .ok_or(Error::InsufficientBalance)?;
//!         BALANCES.set(&me, &left);
//!         Ok(left)
//!     }
//! }
//! # fn main() {}
//! ```
//!
//! Panics revert the run with `panicked at <file>:<line>:<col>: <message>`;
//! an `Err(e)` reverts with `error <code>: <message>` (see
//! [`ContractError`]). With `panic = "abort"` in the release profile the
//! contract carries no unwinding code.
//!
//! Features: `panic-handler` (default), `panic-fmt` (keep formatted panic
//! messages, costs code size), `alloc` (a bump allocator, for contracts that
//! use `Vec`, `String` or `Box`).
//!
//! Natively (under `cargo test`) the same source runs against the in-memory
//! host of [`testing`].
#![no_std]
#![warn(missing_docs)]

#[cfg(any(feature = "alloc", not(target_arch = "wasm32")))]
extern crate alloc;

/// Emitted by `#[contract]` and `#[contracttype]` for a type that needs an
/// allocator (`String`, `Vec`): without the `alloc` feature, a wasm build
/// fails here with a message that names the feature, instead of with
/// serde's `the trait bound String: Serialize is not satisfied`.
#[doc(hidden)]
#[macro_export]
#[cfg(all(target_arch = "wasm32", not(feature = "alloc")))]
macro_rules! __requires_alloc {
    ($what:literal) => {
        ::core::compile_error!(::core::concat!(
            $what,
            " needs verity-sdk's `alloc` feature: add `features = [\"alloc\"]` to the verity-sdk dependency in Cargo.toml"
        ));
    };
}

/// See the wasm build's definition: natively, and with `alloc`, nothing.
#[doc(hidden)]
#[macro_export]
#[cfg(not(all(target_arch = "wasm32", not(feature = "alloc"))))]
macro_rules! __requires_alloc {
    ($what:literal) => {};
}
#[cfg(not(target_arch = "wasm32"))]
extern crate std;

mod address;
#[cfg(all(target_arch = "wasm32", feature = "alloc"))]
pub mod allocator;
pub mod codec;
pub mod crypto;
pub mod env;
mod error;
pub mod events;
mod host;
mod msg;
#[cfg(all(target_arch = "wasm32", feature = "panic-handler"))]
mod panic;
mod scratch;
pub mod storage;
#[cfg(target_arch = "wasm32")]
mod sys;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

#[doc(hidden)]
pub mod __private;

pub use address::{Address, Signature};
pub use error::ContractError;
pub use scratch::SCRATCH_BYTES;
/// serde, as the SDK uses it. Deriving through the SDK needs no serde
/// dependency of your own, only the path to this re-export:
///
/// ```
/// use verity_sdk::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, PartialEq, Debug)]
/// #[serde(crate = "verity_sdk::serde")]
/// pub struct Order {
///     pub id: u64,
///     pub qty: u32,
/// }
///
/// let mut buf = [0u8; 16];
/// let bytes = verity_sdk::codec::encode(&Order { id: 7, qty: 2 }, &mut buf).unwrap();
/// assert_eq!(verity_sdk::codec::decode::<Order>(bytes), Some(Order { id: 7, qty: 2 }));
/// ```
pub use serde;
pub use serde::{Deserialize, Serialize};
pub use verity_sdk_macros::{ContractError, contract, contractevent, contracttype};

/// A typed client of another contract, made from its spec at build time:
/// `contractclient!(Name, "path")`, where the path (relative to the
/// crate's `Cargo.toml`) names a committed spec file (the raw `verity.spec`
/// section, which `verity inspect FILE.wasm --spec-out FILE` writes) or the
/// contract's `.wasm`. With a `.wasm`, `code_hash = "<hex>"` pins it: the
/// build fails if the file's SHA-256 is another. Committing the spec file
/// keeps clean builds working without the callee's build.
///
/// For each entry `e` the client has `e(&self, args...) -> R`, which
/// reverts this contract if the call fails (with the callee's own typed
/// error when it returned one), and `try_e(...) -> Result<R, CallError<E>>`
/// ([`env::try_call`]). The callee's error types are generated beside the
/// client with their codes and messages; a user-defined argument type must
/// be in scope under its spec name. `with_fuel_cap` caps each call.
///
/// ```
/// use verity_sdk::{Address, contractclient, env::CallError};
///
/// contractclient!(TokenClient, "../fixtures/wasm/token.wasm");
///
/// fn pay(token: Address, to: Address) -> Result<(), CallError<TokenError>> {
///     let token = TokenClient::new(token).with_fuel_cap(100_000);
///     token.try_transfer(&to, &5)
/// }
/// # let _ = pay;
/// ```
pub use verity_sdk_macros::contractclient;

/// Writes a formatted debug log line (up to 256 bytes) with
/// [`env::log`]: `log!("balance of {} is {}", who, n)`. Formatting links
/// `core::fmt` into the contract (a few kilobytes); `env::log("text")` does
/// not.
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => {{
        let mut line = $crate::__private::LogLine::new();
        let _ = ::core::fmt::Write::write_fmt(&mut line, ::core::format_args!($($arg)*));
        $crate::env::log(line.as_str());
    }};
}

/// Implemented by `#[contract]` for the contract type.
pub trait Contract {
    /// The contract's `verity.spec` records (see
    /// `verity_host_abi::spec`).
    const SPEC: &'static [u8];

    /// Runs the entry named `entry` as the wasm export would; `false` if
    /// there is none. Used by [`testing`].
    #[doc(hidden)]
    fn __dispatch(entry: &str) -> bool;
}
