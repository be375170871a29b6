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
    use verity_host_abi::abi;
    let code = host::call(&contract.0, entry.as_bytes(), input, fuel_cap.unwrap_or(0));
    match code {
        abi::CALL_SUCCESS => {}
        abi::CALL_REVERTED => return Err(CallFailure::Reverted),
        abi::CALL_TRAPPED => return Err(CallFailure::Trapped),
        abi::CALL_OUT_OF_FUEL => return Err(CallFailure::OutOfFuel),
        _ => return Err(CallFailure::Refused),
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
        Err(CallFailure::Reverted) => revert("call failed: the callee reverted"),
        Err(CallFailure::Trapped) => revert("call failed: the callee trapped"),
        Err(CallFailure::OutOfFuel) => revert("call failed: the callee ran out of its fuel cap"),
        Err(CallFailure::Refused) => revert("call refused"),
        Err(CallFailure::OutputTooLarge(_)) => revert("call output too large for its buffer"),
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
