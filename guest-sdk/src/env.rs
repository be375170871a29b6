//! The transaction: input, sender, context, output, and ending a run early.

use crate::msg::MsgBuf;
use crate::scratch::{Guard, TOO_LARGE};
use crate::{Address, host};

use verity_host_abi::Limits;

/// Largest sender the default profile accepts (`max_sender_bytes`).
const SENDER_CAP: usize = Limits::DEFAULT.max_sender_bytes as usize;
/// Largest context blob the default profile accepts (`max_context_bytes`).
const CONTEXT_CAP: usize = Limits::DEFAULT.max_context_bytes as usize;
// The revert messages below name these numbers (the SDK formats nothing):
// a change of the defaults must change them too.
const _: () = assert!(SENDER_CAP == 256 && CONTEXT_CAP == 4096);

/// Calls `f` with the raw transaction input.
///
/// Entry points made with `#[contract]` decode their arguments from it
/// already; this is for contracts that parse input themselves. The input sits
/// in the SDK's scratch buffer, so `f` must not call the typed storage or
/// event API (the run would revert); copy out what it needs first.
pub fn with_input<R>(f: impl FnOnce(&[u8]) -> R) -> R {
    let mut g = Guard::take();
    f(read_input(g.buf()))
}

/// Reads the input into the front of `buf`.
pub(crate) fn read_input(buf: &mut [u8]) -> &[u8] {
    let n = host::input_len();
    let Some(buf) = buf.get_mut(..n) else {
        revert(TOO_LARGE);
    };
    host::input_read(buf);
    buf
}

/// Calls `f` with the sender: opaque bytes the embedder authenticated.
pub fn with_sender<R>(f: impl FnOnce(&[u8]) -> R) -> R {
    let n = host::sender_len();
    let mut buf = [0u8; SENDER_CAP];
    let Some(buf) = buf.get_mut(..n) else {
        revert("sender is longer than 256 bytes");
    };
    host::sender_read(buf);
    f(buf)
}

/// The sender as an [`Address`], or `None` when it is not exactly 32 bytes.
pub fn sender_address() -> Option<Address> {
    with_sender(|s| Address::try_from(s).ok())
}

/// The running contract's own address.
pub fn current_contract() -> Address {
    Address(host::current_contract())
}

/// Calls `f` with the caller: the transaction's sender in the
/// transaction's own frame, the calling contract's 32-byte address in a
/// callee's (docs/calls.md).
pub fn with_caller<R>(f: impl FnOnce(&[u8]) -> R) -> R {
    let n = host::caller_len();
    let mut buf = [0u8; SENDER_CAP];
    let Some(buf) = buf.get_mut(..n) else {
        revert("caller is longer than 256 bytes");
    };
    host::caller_read(buf);
    f(buf)
}

/// The caller as an [`Address`] (a calling contract, or a 32-byte
/// sender), or `None` when it is not exactly 32 bytes.
pub fn caller_address() -> Option<Address> {
    with_caller(|c| Address::try_from(c).ok())
}

/// Why [`check_auth`] refused: `address` did not authorize this
/// invocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unauthorized;

impl Unauthorized {
    /// The revert message of [`require_auth`], the same for every
    /// contract: a caller tells it apart from the callee's own errors.
    pub const MESSAGE: &'static str = "unauthorized";
}

/// Whether `address` authorized the running invocation (docs/auth.md):
/// it is the caller, that is the transaction's sender in the transaction's
/// own frame (the host admitted the transaction only with the sender's
/// signature, or with the embedder vouching for it where the profile
/// allows that), or the contract that called this one directly. A contract
/// further up the call stack, or the sender seen from a callee, did not:
/// when A calls B calls the token, the token sees B, never A or A's user
/// (no `tx.origin`).
///
/// ```no_run
/// use verity_sdk::{Address, env};
/// # let owner = Address([0; 32]);
/// if env::check_auth(&owner).is_err() {
///     env::revert("only the owner may do this");
/// }
/// ```
pub fn check_auth(address: &Address) -> Result<(), Unauthorized> {
    match with_caller(|c| c == address.0.as_slice()) {
        true => Ok(()),
        false => Err(Unauthorized),
    }
}

/// Reverts with [`Unauthorized::MESSAGE`] unless `address` authorized the
/// running invocation ([`check_auth`]).
pub fn require_auth(address: &Address) {
    if check_auth(address).is_err() {
        revert(Unauthorized::MESSAGE);
    }
}

/// How a call of another contract failed ([`try_call_raw`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallFailure {
    /// The callee reverted.
    Reverted,
    /// The callee trapped.
    Trapped,
    /// The callee used its whole fuel cap.
    OutOfFuel,
    /// Nothing ran: no contract there, no such entry, re-entry, or the
    /// depth limit.
    Refused,
    /// The callee succeeded, but its output (of this length) does not fit
    /// the buffer given.
    OutputTooLarge(usize),
    /// The callee succeeded, but its output is not an encoding of the type
    /// the caller expects ([`try_call`]).
    BadOutput,
}

/// How a typed call of another contract failed ([`try_call`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallError<E> {
    /// The callee reverted with one of its typed errors: the revert
    /// message is exactly `error <code>: <message>` of an error of `E`.
    Contract(E),
    /// Every other failure: a revert that is not one of `E`'s errors, a
    /// trap, the fuel cap, a refusal, an output of the wrong type. The
    /// status comes from the host, never from the callee's bytes, so a
    /// callee cannot make its revert look like a refusal or a trap.
    Failed(CallFailure),
}

/// Calls `entry` of `contract` with the arguments `args` (a tuple, as the
/// callee's `#[contract]` entry decodes them), with at most `fuel_cap`
/// fuel when given, and decodes its output as `R`. A failed callee's
/// writes and events are undone and this contract goes on: a revert with
/// one of the callee's typed errors `E` is [`CallError::Contract`], every
/// other failure [`CallError::Failed`]. If the transaction's own fuel runs
/// out in the callee, the transaction ends.
///
/// A typed client made with [`contractclient!`](crate::contractclient)
/// writes these calls for you.
pub fn try_call<R: serde::de::DeserializeOwned, E: crate::ContractError>(
    contract: &Address,
    entry: &str,
    args: &impl serde::Serialize,
    fuel_cap: Option<u64>,
) -> Result<R, CallError<E>> {
    let code = {
        let mut g = Guard::take();
        let Some(input) = crate::codec::encode(args, g.buf()) else {
            revert(TOO_LARGE);
        };
        host::call(&contract.0, entry.as_bytes(), input, fuel_cap.unwrap_or(0))
    };
    let reverted = match failure_of(code) {
        None => false,
        Some(CallFailure::Reverted) => true,
        Some(other) => return Err(CallError::Failed(other)),
    };
    let mut g = Guard::take();
    let n = host::call_output_len();
    let Some(out) = g.buf().get_mut(..n) else {
        revert(TOO_LARGE);
    };
    host::call_output_read(out);
    if reverted {
        return Err(E::from_revert_message(out).map_or(
            CallError::Failed(CallFailure::Reverted),
            CallError::Contract,
        ));
    }
    crate::codec::decode(out).ok_or(CallError::Failed(CallFailure::BadOutput))
}

/// The failure a `call` code stands for; `None` for success. An unknown
/// code (none is) would be a refusal.
fn failure_of(code: i32) -> Option<CallFailure> {
    use verity_host_abi::abi;
    match code {
        abi::CALL_SUCCESS => None,
        abi::CALL_REVERTED => Some(CallFailure::Reverted),
        abi::CALL_TRAPPED => Some(CallFailure::Trapped),
        abi::CALL_OUT_OF_FUEL => Some(CallFailure::OutOfFuel),
        _ => Some(CallFailure::Refused),
    }
}

/// [`try_call`] where any failure of the callee reverts this contract too
/// (and with it the whole call chain up to a caller that tried).
pub fn call<R: serde::de::DeserializeOwned>(
    contract: &Address,
    entry: &str,
    args: &impl serde::Serialize,
) -> R {
    match try_call::<R, NoError>(contract, entry, args, None) {
        Ok(value) => value,
        Err(CallError::Contract(never)) => match never {},
        Err(CallError::Failed(failure)) => revert(failure.message()),
    }
}

/// The error type of a call whose callee has no typed errors (or whose
/// errors do not matter to the caller): it has no values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoError {}

impl crate::ContractError for NoError {
    fn code(&self) -> u32 {
        match *self {}
    }
    fn message(&self) -> &str {
        match *self {}
    }
}

/// Reverts this contract because a call failed: with the callee's typed
/// error when it returned one (its code and message pass up unchanged),
/// otherwise with the failure's [`message`](CallFailure::message).
pub fn revert_call<E: crate::ContractError>(error: CallError<E>) -> ! {
    match error {
        CallError::Contract(e) => revert_with(&e),
        CallError::Failed(failure) => revert(failure.message()),
    }
}

impl CallFailure {
    /// The revert message of a caller that does not handle this failure.
    pub fn message(self) -> &'static str {
        match self {
            CallFailure::Reverted => "call failed: the callee reverted",
            CallFailure::Trapped => "call failed: the callee trapped",
            CallFailure::OutOfFuel => "call failed: the callee ran out of its fuel cap",
            CallFailure::Refused => "call refused",
            CallFailure::OutputTooLarge(_) => "call output too large for its buffer",
            CallFailure::BadOutput => "call failed: the callee's output does not decode",
        }
    }
}

/// Calls `entry` of `contract` with `input` (at most `fuel_cap` fuel when
/// given) and copies its output to the front of `out`, returning its
/// length. A failed callee's writes and events are undone and this
/// contract goes on: the error says how it failed. If the transaction's
/// own fuel runs out in the callee, the transaction ends.
pub fn try_call_raw(
    contract: &Address,
    entry: &str,
    input: &[u8],
    fuel_cap: Option<u64>,
    out: &mut [u8],
) -> Result<usize, CallFailure> {
    let code = host::call(&contract.0, entry.as_bytes(), input, fuel_cap.unwrap_or(0));
    if let Some(failure) = failure_of(code) {
        return Err(failure);
    }
    let n = host::call_output_len();
    let Some(dst) = out.get_mut(..n) else {
        return Err(CallFailure::OutputTooLarge(n));
    };
    host::call_output_read(dst);
    Ok(n)
}

/// [`try_call_raw`] where any failure of the callee reverts this contract
/// too (and with it the whole call chain up to a caller that tried).
pub fn call_raw(
    contract: &Address,
    entry: &str,
    input: &[u8],
    fuel_cap: Option<u64>,
    out: &mut [u8],
) -> usize {
    match try_call_raw(contract, entry, input, fuel_cap, out) {
        Ok(n) => n,
        Err(failure) => revert(failure.message()),
    }
}

/// Why [`update_current_contract_code`] was refused: no code is stored
/// under the hash (store it first with a deploy, or `verity upload`), or
/// the running contract has no record (a one-shot run).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodeNotStored;

/// Makes this contract run the code whose SHA-256 is `code_hash` once the
/// current invocation of it returns successfully (docs/calls.md,
/// "Upgrade"). This invocation keeps running the code it started with;
/// every later call of the contract, in this transaction and after, runs
/// the new code, against the same storage. Who may do it is this
/// contract's own rule: check the caller before calling this. If the
/// invocation fails, nothing changes; a later request in the same
/// invocation replaces an earlier one.
pub fn update_current_contract_code(code_hash: &[u8; 32]) -> Result<(), CodeNotStored> {
    match host::update_current_contract_code(code_hash) {
        verity_host_abi::abi::UPDATE_SCHEDULED => Ok(()),
        _ => Err(CodeNotStored),
    }
}

/// The block height the transaction runs at (its chain context): one host
/// call, no buffer.
pub fn block_height() -> u64 {
    host::block_height()
}

/// The block time the transaction runs at (seconds since the Unix epoch, by
/// convention): one host call, no buffer.
pub fn block_time() -> u64 {
    host::block_time()
}

/// Largest chain id the default profile accepts (`max_chain_id_bytes`).
const CHAIN_ID_CAP: usize = Limits::DEFAULT.max_chain_id_bytes as usize;

/// Calls `f` with the chain id the transaction runs on.
pub fn with_chain_id<R>(f: impl FnOnce(&str) -> R) -> R {
    let n = host::chain_id_len();
    let mut buf = [0u8; CHAIN_ID_CAP];
    let Some(buf) = buf.get_mut(..n) else {
        revert("chain id is longer than 64 bytes");
    };
    host::chain_id_read(buf);
    match core::str::from_utf8(buf) {
        Ok(id) => f(id),
        Err(_) => revert("chain id is not UTF-8"),
    }
}

/// Calls `f` with the embedder's opaque context blob.
pub fn with_context<R>(f: impl FnOnce(&[u8]) -> R) -> R {
    let n = host::context_len();
    let mut buf = [0u8; CONTEXT_CAP];
    let Some(buf) = buf.get_mut(..n) else {
        revert("context is longer than 4096 bytes");
    };
    host::context_read(buf);
    f(buf)
}

/// Writes a debug log line: not part of the receipt (it changes no hash),
/// charged as an event of the same length; `verity run --debug` prints it,
/// `TestEnv::logs` and `Outcome::logs` return it. With formatting:
/// [`log!`](crate::log!).
pub fn log(line: &str) {
    host::log(line.as_bytes())
}

/// Sets (replaces) the output. An entry point that returns a non-`()` value
/// overwrites it with that value's encoding.
pub fn set_output(bytes: &[u8]) {
    host::output_set(bytes)
}

/// Ends the run with status `reverted` and `message`. Nothing the run wrote
/// or emitted is kept.
pub fn revert(message: &str) -> ! {
    host::abort(message.as_bytes())
}

/// Ends the run with status `reverted` and the message
/// `error <code>: <message>` of a contract error.
pub fn revert_with<E: crate::ContractError + ?Sized>(error: &E) -> ! {
    let mut m = MsgBuf::<1024>::new();
    m.push_str("error ")
        .push_u32(error.code())
        .push_str(": ")
        .push_str(error.message());
    host::abort(m.as_bytes())
}
