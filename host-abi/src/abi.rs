//! The host ABI, defined once.
//!
//! [`for_each_host_fn!`] is the single source of truth: it hands the whole
//! table of host functions to a callback macro. This crate expands it into
//! [`HOST_FUNCTIONS`] (used by module validation); the runtime expands it into
//! its linker, so a host implementation whose Rust signature differs from the
//! table does not compile; the guest SDK expands it into its `extern` block.
//!
//! Every function lives in the import module [`IMPORT_MODULE`] and takes and
//! returns only `i32`/`i64`. Pointers are offsets into the guest's exported
//! memory `memory`; every `(ptr, len)` pair is bounds-checked by the host and a
//! bad one traps the guest with [`TrapKind::BadPointer`](crate::TrapKind::BadPointer).

use crate::costs::CostClass;

/// The wasm import module every host function lives in.
pub const IMPORT_MODULE: &str = "verity";

/// The name of the memory a module must export to call host functions that
/// take pointers.
pub const MEMORY_EXPORT: &str = "memory";

/// Export names starting with this are reserved for the runtime: its
/// instrumentation exports its fuel, depth and exit globals under them, and
/// validation rejects a module that exports such a name itself.
pub const RESERVED_EXPORT_PREFIX: &str = "__verity";

/// Version of this ABI. A change to [`for_each_host_fn!`] that is not purely
/// additive bumps it.
pub const ABI_VERSION: u32 = 1;

/// `call` returned: the callee succeeded.
pub const CALL_SUCCESS: i32 = 0;
/// `call` returned: the callee aborted (`reverted`).
pub const CALL_REVERTED: i32 = 1;
/// `call` returned: the callee trapped.
pub const CALL_TRAPPED: i32 = 2;
/// `call` returned: the callee used its whole fuel cap.
pub const CALL_OUT_OF_FUEL: i32 = 3;
/// `call` returned: the call was refused before the callee ran.
pub const CALL_REFUSED: i32 = 4;

/// `update_current_contract_code` returned: the change is scheduled.
pub const UPDATE_SCHEDULED: i32 = 0;
/// `update_current_contract_code` returned: refused (no code stored under
/// the hash, or no record for the running contract).
pub const UPDATE_REFUSED: i32 = 1;

/// A wasm value type that may appear in a host function signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValType {
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
}

impl ValType {
    /// The wasm text name of the type (`i32` or `i64`).
    pub const fn name(self) -> &'static str {
        match self {
            ValType::I32 => "i32",
            ValType::I64 => "i64",
        }
    }
}

/// One host function: name, exact signature and cost class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostFnSpec {
    /// Import field name inside [`IMPORT_MODULE`].
    pub name: &'static str,
    /// Parameter types, in order.
    pub params: &'static [ValType],
    /// Parameter names, in order (for docs and messages).
    pub param_names: &'static [&'static str],
    /// Result types (zero or one).
    pub results: &'static [ValType],
    /// Which entry of the cost schedule the call is charged from.
    pub cost: CostClass,
}

/// Calls `$callback!` with the whole host ABI table.
///
/// Each entry has the form
/// `#[doc] fn name(param: type, ...) [-> type], cost = class, bytes = "what";`
/// where `class` names a field of [`CostSchedule`](crate::CostSchedule) and
/// `bytes` says which byte count the per-byte part of the cost is charged on.
///
/// ```
/// macro_rules! count {
///     ($( $(#[$m:meta])* fn $name:ident ( $($p:ident : $t:ident),* ) $(-> $r:ident)?,
///        cost = $c:ident, bytes = $b:literal; )*) => { [$(stringify!($name)),*].len() };
/// }
/// let n = verity_host_abi::for_each_host_fn!(count);
/// assert_eq!(n, verity_host_abi::HOST_FUNCTIONS.len());
/// ```
#[macro_export]
macro_rules! for_each_host_fn {
    ($callback:ident) => {
        $callback! {
            /// Returns the length in bytes of the transaction input.
            fn input_len() -> i32, cost = context, bytes = "none";
            /// Copies the whole transaction input to `dst` (`input_len()` bytes).
            fn input_read(dst: i32), cost = context, bytes = "input length";
            /// Returns the length in bytes of the sender.
            fn sender_len() -> i32, cost = context, bytes = "none";
            /// Copies the sender (opaque bytes authenticated by the embedder) to `dst`.
            fn sender_read(dst: i32), cost = context, bytes = "sender length";
            /// Returns the length in bytes of the embedder's context blob.
            fn context_len() -> i32, cost = context, bytes = "none";
            /// Copies the embedder's opaque context blob to `dst`.
            fn context_read(dst: i32), cost = context, bytes = "context length";
            /// Returns the block height of the transaction's chain context
            /// (a `u64`, as `i64` bits).
            fn block_height() -> i64, cost = context, bytes = "none";
            /// Returns the block time of the transaction's chain context
            /// (a `u64`, as `i64` bits; seconds since the Unix epoch by
            /// convention).
            fn block_time() -> i64, cost = context, bytes = "none";
            /// Returns the length in bytes of the chain id.
            fn chain_id_len() -> i32, cost = context, bytes = "none";
            /// Copies the chain id (UTF-8) to `dst`.
            fn chain_id_read(dst: i32), cost = context, bytes = "chain id length";
            /// Sets (replaces) the transaction output to `len` bytes at `ptr`.
            fn output_set(ptr: i32, len: i32), cost = output, bytes = "len";
            /// Reads the value stored under the key at `key_ptr`.
            ///
            /// Returns -1 when the key is absent. Otherwise returns the value's
            /// length and, when it fits in `dst_cap`, copies the value to `dst`;
            /// when it does not fit nothing is copied and the caller may retry
            /// with a larger buffer.
            fn storage_read(key_ptr: i32, key_len: i32, dst: i32, dst_cap: i32) -> i32,
                cost = storage_read, bytes = "key length + value length";
            /// Stores the value at `val_ptr` under the key at `key_ptr`.
            fn storage_write(key_ptr: i32, key_len: i32, val_ptr: i32, val_len: i32),
                cost = storage_write, bytes = "key length + value length";
            /// Removes the key at `key_ptr` (a no-op on the state if it is absent).
            fn storage_remove(key_ptr: i32, key_len: i32), cost = storage_remove, bytes = "key length";
            /// Emits an event with a topic and data.
            fn event_emit(topic_ptr: i32, topic_len: i32, data_ptr: i32, data_len: i32),
                cost = event, bytes = "topic length + data length";
            /// Ends the run with status `reverted` and the UTF-8 message at `msg_ptr`.
            ///
            /// Never returns. The message is cut to the profile's
            /// `max_abort_message_bytes` and decoded lossily as UTF-8.
            fn abort(msg_ptr: i32, msg_len: i32), cost = abort, bytes = "message length";
            /// Appends a debug log line (decoded lossily as UTF-8). Logs are
            /// not part of the receipt and change no hash; they cost fuel as
            /// an event does. The host keeps the first `max_log_bytes` bytes
            /// of a run's lines and drops the rest.
            fn log(msg_ptr: i32, msg_len: i32), cost = event, bytes = "message length";
            /// Writes the SHA-256 digest (32 bytes) of `src_len` bytes at `src_ptr` to `dst`.
            fn sha256(src_ptr: i32, src_len: i32, dst: i32), cost = sha256, bytes = "src_len";
            /// Writes the Keccak-256 digest (Ethereum's) of
            /// `[src_ptr, src_ptr + src_len)` to the 32 bytes at `dst`.
            fn keccak256(src_ptr: i32, src_len: i32, dst: i32), cost = keccak256, bytes = "src_len";
            /// Checks an Ed25519 signature (64 bytes at `sig_ptr`) of the
            /// message `[msg_ptr, msg_ptr + msg_len)` by the public key (32
            /// bytes at `key_ptr`), strictly (`verify_strict`: canonical
            /// encodings, no small-order key). Returns 1 valid, 0 not, -1 a
            /// key that is not a valid point, -2 a malformed signature.
            fn ed25519_verify(key_ptr: i32, sig_ptr: i32, msg_ptr: i32, msg_len: i32) -> i32,
                cost = ed25519_verify, bytes = "msg_len";
            /// Checks a secp256k1 ECDSA signature (64 bytes `r ‖ s` at
            /// `sig_ptr`, low-S only) of the 32-byte digest at `digest_ptr`
            /// by the SEC1 public key `[key_ptr, key_ptr + key_len)` (33 or
            /// 65 bytes). Returns 1 valid, 0 not, -1 a bad key, -2 a
            /// malformed or high-S signature.
            fn secp256k1_verify(key_ptr: i32, key_len: i32, digest_ptr: i32, sig_ptr: i32) -> i32,
                cost = secp256k1_verify, bytes = "none";
            /// Recovers the public key that signed the 32-byte digest at
            /// `digest_ptr` with the signature (64 bytes `r ‖ s`, low-S) and
            /// `recovery_id` (0 or 1), writing it compressed (33 bytes) to
            /// `dst`. Returns 1 recovered, 0 no key, -2 a malformed or
            /// high-S signature or recovery id.
            fn secp256k1_recover(digest_ptr: i32, sig_ptr: i32, recovery_id: i32, dst: i32) -> i32,
                cost = secp256k1_recover, bytes = "none";
            /// As `secp256k1_verify`, on the curve secp256r1 (NIST P-256:
            /// passkeys, WebAuthn).
            fn p256_verify(key_ptr: i32, key_len: i32, digest_ptr: i32, sig_ptr: i32) -> i32,
                cost = p256_verify, bytes = "none";
            /// Copies the running contract's address (32 bytes) to `dst`.
            fn current_contract(dst: i32), cost = context, bytes = "none";
            /// Returns the length in bytes of the caller: the transaction's
            /// sender in the transaction's own frame, the calling
            /// contract's 32-byte address in a callee's.
            fn caller_len() -> i32, cost = context, bytes = "none";
            /// Copies the caller (see `caller_len`) to `dst`.
            fn caller_read(dst: i32), cost = context, bytes = "caller length";
            /// Calls the entry `[entry_ptr, entry_ptr + entry_len)` (UTF-8)
            /// of the contract whose 32-byte address is at `contract_ptr`
            /// with the input `[input_ptr, input_ptr + input_len)`, in this
            /// transaction (docs/calls.md). `fuel_cap` > 0 caps the fuel the
            /// callee may use; 0 or less lets it use what is left. Returns
            /// `CALL_SUCCESS` (0), `CALL_REVERTED` (1), `CALL_TRAPPED` (2),
            /// `CALL_OUT_OF_FUEL` (3: its cap ran out) or `CALL_REFUSED`
            /// (4: no contract there, no such entry, a name starting `__`,
            /// re-entry, or the depth limit). A failed callee's writes and
            /// events are undone. The transaction's own fuel running out in
            /// the callee ends the transaction. The callee's output is then
            /// read with `call_output_len` and `call_output_read`.
            fn call(contract_ptr: i32, entry_ptr: i32, entry_len: i32, input_ptr: i32,
                input_len: i32, fuel_cap: i64) -> i32,
                cost = call, bytes = "entry length + input length";
            /// Returns the length in bytes of the last call's output (empty
            /// unless it succeeded).
            fn call_output_len() -> i32, cost = context, bytes = "none";
            /// Copies the last call's output to `dst`.
            fn call_output_read(dst: i32), cost = context, bytes = "output length";
            /// Makes the running contract run the code stored under the
            /// 32-byte hash at `hash_ptr` once this invocation of it returns
            /// successfully (docs/calls.md, "Upgrade"): this invocation
            /// keeps running its code; later calls of the contract, in this
            /// transaction and after, run the new one. A later request in
            /// the same invocation replaces an earlier one; a failed
            /// invocation changes nothing. Returns 0 scheduled, 1 refused:
            /// no code is stored under the hash, or the running contract
            /// has no record (a one-shot run).
            fn update_current_contract_code(hash_ptr: i32) -> i32,
                cost = update_code, bytes = "stored code length";
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __verity_val_type {
    (i32) => {
        $crate::abi::ValType::I32
    };
    (i64) => {
        $crate::abi::ValType::I64
    };
}

macro_rules! spec_table {
    ($( $(#[$meta:meta])* fn $name:ident ( $($p:ident : $t:ident),* ) $(-> $r:ident)?,
        cost = $cost:ident, bytes = $bytes:literal; )*) => {
        /// Every host function, in ABI table order.
        pub const HOST_FUNCTIONS: &[HostFnSpec] = &[
            $(HostFnSpec {
                name: stringify!($name),
                params: &[$($crate::__verity_val_type!($t)),*],
                param_names: &[$(stringify!($p)),*],
                results: &[$($crate::__verity_val_type!($r))?],
                cost: CostClass::$cost,
            }),*
        ];
    };
}

for_each_host_fn!(spec_table);

impl HostFnSpec {
    #[cfg(feature = "alloc")]
    /// The signature as docs/abi.md writes it, e.g. `sha256(src_ptr: i32, src_len: i32, dst: i32)`
    /// or `input_len() -> i32`.
    pub fn signature(&self) -> alloc::string::String {
        use core::fmt::Write;
        let mut s = alloc::string::String::new();
        let _ = write!(s, "{}(", self.name);
        for (i, (n, t)) in self.param_names.iter().zip(self.params).enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            let _ = write!(s, "{sep}{n}: {}", t.name());
        }
        s.push(')');
        if let [r] = self.results {
            let _ = write!(s, " -> {}", r.name());
        }
        s
    }
}

/// Looks up a host function by its import field name.
///
/// ```
/// let f = verity_host_abi::abi::host_fn("sha256").unwrap();
/// assert_eq!(f.params.len(), 3);
/// assert!(verity_host_abi::abi::host_fn("clock_time").is_none());
/// ```
pub fn host_fn(name: &str) -> Option<&'static HostFnSpec> {
    HOST_FUNCTIONS.iter().find(|f| f.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_signatures_use_only_integers() {
        for (i, a) in HOST_FUNCTIONS.iter().enumerate() {
            for b in &HOST_FUNCTIONS[i + 1..] {
                assert_ne!(a.name, b.name);
            }
            assert!(
                a.results.len() <= 1,
                "{} returns more than one value",
                a.name
            );
        }
        assert!(host_fn("storage_read").is_some());
        assert_eq!(host_fn("input_len").unwrap().results, &[ValType::I32]);
    }
}
