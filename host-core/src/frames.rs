//! Call frames: which contract is running, who called it, and what a
//! callee's frame sets aside of its caller's while it runs.
//!
//! The transaction's own frame (depth 0) runs the contract the transaction
//! names, called by its sender. [`Host::enter_call`] opens a callee's frame
//! over it: a savepoint over writes and events, the callee's storage scope
//! and input, an empty output, and a record in the call tree;
//! [`Host::leave_call`] closes it, keeping or undoing what the callee did,
//! and hands the callee's output back. Nothing here is engine-specific: the
//! runtime instantiates the callee in its store, the SDK's `TestEnv` calls
//! a native contract, and both open and close the frame the same way.

use std::vec::Vec;

use sha2::{Digest, Sha256};
use verity_host_abi::contract::{ContractRecord, code_key, record_key, storage_prefix};
use verity_host_abi::{CallEntry, ContractId, Hash32, Status};

use verity_host_abi::abi::{
    CALL_OUT_OF_FUEL, CALL_REFUSED, CALL_REVERTED, CALL_SUCCESS, CALL_TRAPPED, UPDATE_REFUSED,
    UPDATE_SCHEDULED,
};
use verity_host_abi::{CostClass, TrapKind};

use crate::calls::{Res, copy_out, len_i32, limit};
use crate::exit::HostExit;
use crate::host::Host;
use crate::memory::GuestMemory;
use crate::state::StateView;

/// Who called the running frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    /// The transaction's sender: the frame is the transaction's own.
    Sender,
    /// A contract, through a call.
    Contract(ContractId),
}

/// Why a call cannot open a frame. Each is recoverable by the caller: no
/// frame was opened and nothing was charged beyond the call's base cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallRefusal {
    /// The callee is already on the call stack, and is not the direct
    /// caller calling itself: re-entry is refused (docs/calls.md).
    #[error("re-entry refused: contract {0} is already on the call stack")]
    Reentry(ContractId),
    /// The call would go deeper than the profile's `max_call_depth`.
    #[error("call depth limit of {max} reached")]
    TooDeep {
        /// The limit.
        max: u32,
    },
}

/// One call of the transaction's call tree, in pre-order (the order calls
/// began).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRecord {
    /// The callee's depth: 1 for a call made by the transaction's contract.
    pub depth: u32,
    /// The calling contract.
    pub caller: ContractId,
    /// The called contract.
    pub callee: ContractId,
    /// The entry called.
    pub entry: String,
    /// SHA-256 of the call's input.
    pub input_hash: Hash32,
    /// How the call ended; `None` while it runs.
    pub status: Option<Status>,
    /// The fuel the call used, its callee's frames included (set by the
    /// engine when the call ends).
    pub fuel_used: u64,
}

impl CallRecord {
    /// The receipt's entry for this call. Every call of a run that
    /// succeeded has ended; one that has not (which only a failed run,
    /// whose calls are not kept, can leave) reads as `out_of_fuel`.
    pub fn into_entry(self) -> CallEntry {
        CallEntry {
            depth: self.depth,
            caller: self.caller,
            callee: self.callee,
            entry: self.entry,
            input_hash: self.input_hash,
            status: self.status.unwrap_or(Status::OutOfFuel),
            fuel_used: self.fuel_used,
        }
    }
}

/// A call a guest asked for (`call`), checked and charged, for the engine
/// to perform: [`Host::take_call_request`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRequest {
    /// The contract to call.
    pub callee: ContractId,
    /// The entry to call.
    pub entry: String,
    /// The call's input.
    pub input: Vec<u8>,
    /// The most fuel the callee may use; `None` for what is left.
    pub fuel_cap: Option<u64>,
}

/// A callee's frame: what it set aside of its caller's.
#[derive(Debug)]
pub(crate) struct Frame {
    /// The caller, running below this frame.
    caller: ContractId,
    /// The caller's input, restored when the frame closes.
    caller_input: Vec<u8>,
    /// The caller's output so far, restored when the frame closes.
    caller_output: Vec<u8>,
    /// The code change the caller asked for, restored when the frame
    /// closes.
    caller_pending_code: Option<Hash32>,
    /// This call's index in the call tree.
    record: usize,
}

impl<B: StateView> Host<B> {
    /// The running contract.
    pub fn contract(&self) -> ContractId {
        self.contract
    }

    /// Who called the running frame.
    pub fn caller(&self) -> Caller {
        match self.frames.last() {
            Some(frame) => Caller::Contract(frame.caller),
            None => Caller::Sender,
        }
    }

    /// The depth of the running frame: 0 for the transaction's own.
    pub fn call_depth(&self) -> u32 {
        self.frames.len() as u32
    }

    /// The calls made so far, in pre-order.
    pub fn call_records(&self) -> &[CallRecord] {
        &self.calls
    }

    /// The call the guest just asked for, if any: the engine takes it after
    /// the `call` host function returns, performs it (or refuses it) and
    /// returns the call's code in place of the function's result. An
    /// engine that performs no calls leaves it, and the guest sees
    /// `CALL_REFUSED`.
    pub fn take_call_request(&mut self) -> Option<CallRequest> {
        self.call_request.take()
    }

    /// Sets what `call_output_len` and `call_output_read` return: the
    /// output of the call that just ended.
    pub fn set_call_output(&mut self, output: Vec<u8>) {
        self.call_output = output;
    }

    /// Whether `contract` runs in a frame on the stack.
    fn on_stack(&self, contract: &ContractId) -> bool {
        self.contract == *contract || self.frames.iter().any(|f| f.caller == *contract)
    }

    /// Opens a frame for a call of `entry` of `callee` with `input`, made
    /// by the running contract, at most `max_depth` frames above the
    /// transaction's. The callee's storage, input and output become the
    /// running ones, and its writes and events are covered by a savepoint.
    /// Refused, with nothing changed, when the callee is already on the
    /// stack (except a contract calling itself directly) or the depth
    /// would pass `max_depth`.
    ///
    /// ```
    /// use verity_host_abi::{ContractId, CostSchedule, Limits, Status};
    /// use verity_host_core::{CallRefusal, Caller, Host, MemoryState, TxBytes};
    ///
    /// let (state, limits, costs) = (MemoryState::default(), Limits::default(), CostSchedule::default());
    /// let (a, b) = (ContractId([1; 32]), ContractId([2; 32]));
    /// let mut host = Host::new(&state, &a, TxBytes::default(), &limits, &costs, 0);
    /// host.enter_call(b, "get", b"in".to_vec(), 8).unwrap();
    /// assert_eq!((host.contract(), host.caller()), (b, Caller::Contract(a)));
    /// assert_eq!(host.enter_call(a, "get", vec![], 8), Err(CallRefusal::Reentry(a)));
    /// assert_eq!(host.leave_call(&Status::Success, 100), b"");
    /// assert_eq!((host.contract(), host.caller()), (a, Caller::Sender));
    /// assert_eq!(host.call_records()[0].fuel_used, 100);
    /// ```
    pub fn enter_call(
        &mut self,
        callee: ContractId,
        entry: &str,
        input: Vec<u8>,
        max_depth: u32,
    ) -> Result<(), CallRefusal> {
        if callee != self.contract && self.on_stack(&callee) {
            return Err(CallRefusal::Reentry(callee));
        }
        if self.call_depth() >= max_depth {
            return Err(CallRefusal::TooDeep { max: max_depth });
        }
        self.savepoint();
        let record = self.calls.len();
        self.calls.push(CallRecord {
            depth: self.call_depth() + 1,
            caller: self.contract,
            callee,
            entry: entry.to_string(),
            input_hash: Hash32(Sha256::digest(&input).into()),
            status: None,
            fuel_used: 0,
        });
        self.frames.push(Frame {
            caller: self.contract,
            caller_input: std::mem::replace(&mut self.tx.input, input),
            caller_output: std::mem::take(&mut self.output),
            caller_pending_code: self.pending_code.take(),
            record,
        });
        self.set_contract(callee);
        self.call_output.clear();
        Ok(())
    }

    /// Closes the running callee's frame, which ended with `status` having
    /// used `fuel_used`: on success its writes and events become its
    /// caller's, otherwise they are undone (its reads stay recorded). The
    /// caller runs again, and gets the callee's output if it succeeded, its
    /// revert message if it reverted (so a typed error reaches the caller:
    /// `error <code>: <message>`), and nothing otherwise. With no callee
    /// frame open, changes nothing and returns nothing.
    pub fn leave_call(&mut self, status: &Status, fuel_used: u64) -> Vec<u8> {
        let Some(frame) = self.frames.pop() else {
            return Vec::new();
        };
        let ok = status.is_success();
        // The callee's code change takes effect as it returns, inside its
        // savepoint: an enclosing frame that fails undoes it too.
        if ok {
            self.apply_code_change();
        }
        self.pending_code = frame.caller_pending_code;
        self.close_savepoint(ok);
        let record = &mut self.calls[frame.record];
        record.status = Some(status.clone());
        record.fuel_used = fuel_used;
        self.tx.input = frame.caller_input;
        let output = std::mem::replace(&mut self.output, frame.caller_output);
        self.set_contract(frame.caller);
        match status {
            Status::Success => output,
            Status::Reverted { message } => message.as_bytes().to_vec(),
            _ => Vec::new(),
        }
    }

    /// Rewrites the running contract's record to name the code its frame
    /// asked for (`update_current_contract_code`), noting the change at
    /// the transaction's height, and returns the (old, new) code hashes;
    /// `None` if the frame asked for nothing. The engine calls it as the
    /// frame's entry returns successfully, before it runs the new code's
    /// `__migrate`; [`leave_call`](Self::leave_call) and
    /// [`finish`](Self::finish) call it for an engine that has not. The
    /// record was read (recorded) when the change was asked for, so the
    /// overlay holds it.
    ///
    /// ```
    /// use verity_host_abi::contract::{ContractRecord, code_key, record_key};
    /// use verity_host_abi::{ContractId, CostSchedule, Hash32, Limits};
    /// use verity_host_core::{GuestMemory, Host, MemoryState, TxBytes};
    ///
    /// let (me, old, new) = (ContractId([1; 32]), Hash32::of(b"old"), Hash32::of(b"new"));
    /// let mut state = MemoryState::default();
    /// state.insert(record_key(&me).to_vec(), ContractRecord::new(old, vec![]).encode());
    /// state.insert(code_key(&new).to_vec(), b"new".to_vec());
    /// let (limits, costs) = (Limits::default(), CostSchedule::default());
    /// let mut host = Host::new(&state, &me, TxBytes::default(), &limits, &costs, 1_000_000);
    /// assert_eq!(host.apply_code_change(), None);
    /// let mut hash = new.0;
    /// assert_eq!(host.update_current_contract_code(&mut GuestMemory::new(&mut hash), 0).unwrap(), 0);
    /// assert_eq!(host.apply_code_change(), Some((old, new)));
    /// assert_eq!(host.apply_code_change(), None, "once");
    /// ```
    pub fn apply_code_change(&mut self) -> Option<(Hash32, Hash32)> {
        let code_hash = self.pending_code.take()?;
        let key = record_key(&self.contract);
        let Some(mut record) = self
            .overlay
            .seen(&key)
            .flatten()
            .and_then(ContractRecord::decode)
        else {
            debug_assert!(false, "a code change without a record read");
            return None;
        };
        let old = record.code_hash;
        record.change_code(self.tx.chain.height, code_hash);
        self.system_write(key.to_vec(), record.encode());
        Some((old, code_hash))
    }

    /// Ends the running callee's call for an engine: the callee ended with
    /// `status`, given `budget` of the caller's `left` fuel, with
    /// `budget_left` of it unused. Closes its frame
    /// ([`leave_call`](Self::leave_call), with the fuel it used: all of
    /// `budget` if it ran out) and makes its output the call's. Returns the
    /// code the caller's `call` returns and the fuel the caller has left,
    /// or `Err(HostExit::OutOfFuel)` when the transaction's own fuel ran
    /// out in the callee (its budget was all that was left): that ends the
    /// transaction.
    ///
    /// ```
    /// use verity_host_abi::abi::{CALL_OUT_OF_FUEL, CALL_SUCCESS};
    /// use verity_host_abi::{ContractId, CostSchedule, Limits, Status};
    /// use verity_host_core::{Host, HostExit, MemoryState, TxBytes};
    ///
    /// let (state, limits, costs) = (MemoryState::default(), Limits::default(), CostSchedule::default());
    /// let mut host = Host::new(&state, &ContractId([1; 32]), TxBytes::default(), &limits, &costs, 0);
    /// host.enter_call(ContractId([2; 32]), "f", vec![], 8).unwrap();
    /// assert_eq!(host.end_call(&Status::Success, 100, 100, 60).ok(), Some((CALL_SUCCESS, 60)));
    /// host.enter_call(ContractId([2; 32]), "f", vec![], 8).unwrap();
    /// assert_eq!(host.end_call(&Status::OutOfFuel, 100, 30, 0).ok(), Some((CALL_OUT_OF_FUEL, 70)));
    /// host.enter_call(ContractId([2; 32]), "f", vec![], 8).unwrap();
    /// assert!(matches!(host.end_call(&Status::OutOfFuel, 100, 100, 0), Err(HostExit::OutOfFuel)));
    /// assert_eq!(host.call_records()[1].fuel_used, 30);
    /// ```
    pub fn end_call(
        &mut self,
        status: &Status,
        left: u64,
        budget: u64,
        budget_left: u64,
    ) -> Result<(i32, u64), HostExit> {
        let used = match status {
            Status::OutOfFuel => budget,
            _ => budget.saturating_sub(budget_left),
        };
        let output = self.leave_call(status, used);
        self.set_call_output(output);
        let code = match status {
            Status::Success => CALL_SUCCESS,
            Status::Reverted { .. } => CALL_REVERTED,
            Status::Trapped { .. } => CALL_TRAPPED,
            Status::OutOfFuel if budget >= left => return Err(HostExit::OutOfFuel),
            Status::OutOfFuel => CALL_OUT_OF_FUEL,
            Status::Rejected { .. } => CALL_REFUSED,
        };
        Ok((code, left - used))
    }

    /// Makes `contract` the running one: its storage prefix heads the key
    /// buffer.
    fn set_contract(&mut self, contract: ContractId) {
        self.contract = contract;
        self.key_buf.clear();
        self.key_buf.extend_from_slice(&storage_prefix(&contract));
    }
}

pub(crate) fn current_contract<B: StateView>(
    h: &mut Host<B>,
    mem: &mut GuestMemory<'_>,
    dst: i32,
) -> Res {
    let r = mem.range(dst, 32)?;
    mem.bytes()?[r].copy_from_slice(&h.contract.0);
    Ok(())
}

/// The caller's bytes: the sender, or the calling contract's address.
fn caller_bytes<B>(h: &Host<B>) -> &[u8] {
    match h.frames.last() {
        Some(frame) => &frame.caller.0,
        None => &h.tx.sender,
    }
}

pub(crate) fn caller_len<B>(h: &mut Host<B>, _mem: &mut GuestMemory<'_>) -> Res<i32> {
    Ok(len_i32(caller_bytes(h).len()))
}

pub(crate) fn caller_read<B: StateView>(
    h: &mut Host<B>,
    mem: &mut GuestMemory<'_>,
    dst: i32,
) -> Res {
    copy_out(h, mem, dst, |h| caller_bytes(h))
}

pub(crate) fn call_output_len<B>(h: &mut Host<B>, _mem: &mut GuestMemory<'_>) -> Res<i32> {
    Ok(len_i32(h.call_output.len()))
}

pub(crate) fn call_output_read<B: StateView>(
    h: &mut Host<B>,
    mem: &mut GuestMemory<'_>,
    dst: i32,
) -> Res {
    copy_out(h, mem, dst, |h| &h.call_output)
}

/// Checks and charges a call, and leaves it for the engine
/// ([`Host::take_call_request`]). In order: the address, the entry's
/// length, the input's length, the pointers, the per-byte charge; then a
/// name the host reserves (`__`) or that is not UTF-8 is refused.
#[allow(clippy::too_many_arguments)]
pub(crate) fn call<B: StateView>(
    h: &mut Host<B>,
    mem: &mut GuestMemory<'_>,
    contract_ptr: i32,
    entry_ptr: i32,
    entry_len: i32,
    input_ptr: i32,
    input_len: i32,
    fuel_cap: i64,
) -> Res<i32> {
    let limits = h.limits;
    let address = mem.range(contract_ptr, 32)?;
    let entry_len = limit(entry_len, limits.max_entry_bytes, TrapKind::EntryTooLong)?;
    let input_len = limit(input_len, limits.max_input_bytes, TrapKind::InputTooLong)?;
    let entry = mem.range(entry_ptr, entry_len)?;
    let input = mem.range(input_ptr, input_len)?;
    h.charge_bytes(CostClass::call, entry_len + input_len)?;
    // Whatever this call returns, no earlier call's output is left readable.
    h.call_output.clear();
    let data = mem.bytes()?;
    let Ok(entry) = std::str::from_utf8(&data[entry]) else {
        return Ok(CALL_REFUSED);
    };
    if entry.starts_with("__") || entry.is_empty() {
        return Ok(CALL_REFUSED);
    }
    let mut callee = ContractId::default();
    callee.0.copy_from_slice(&data[address]);
    h.call_request = Some(CallRequest {
        callee,
        entry: entry.to_string(),
        input: data[input].to_vec(),
        fuel_cap: u64::try_from(fuel_cap).ok().filter(|c| *c > 0),
    });
    Ok(CALL_REFUSED)
}

/// Schedules a code change of the running contract (the ABI table's
/// `update_current_contract_code`). In order: the pointer, the record and
/// the code under the hash (both recorded reads, so the witness proves the
/// code's presence or absence; the code is charged per byte).
pub(crate) fn update_current_contract_code<B: StateView>(
    h: &mut Host<B>,
    mem: &mut GuestMemory<'_>,
    hash_ptr: i32,
) -> Res<i32> {
    let r = mem.range(hash_ptr, 32)?;
    let mut code_hash = Hash32::default();
    code_hash.0.copy_from_slice(&mem.bytes()?[r]);
    let contract = h.contract;
    let record = h
        .system_read(&record_key(&contract))
        .map_err(HostExit::State)?;
    if record.as_deref().and_then(ContractRecord::decode).is_none() {
        return Ok(UPDATE_REFUSED);
    }
    // A recorded read, unlike a callee's code: whether the code is there
    // decides the outcome, and only the witness can prove that it is not.
    let Some(code) = h
        .system_read(&code_key(&code_hash))
        .map_err(HostExit::State)?
    else {
        return Ok(UPDATE_REFUSED);
    };
    h.charge_bytes(CostClass::update_code, code.len())?;
    h.pending_code = Some(code_hash);
    Ok(UPDATE_SCHEDULED)
}

#[cfg(test)]
mod tests {
    use verity_host_abi::contract::storage_key;
    use verity_host_abi::{CostSchedule, Limits, TrapKind};

    use super::*;
    use crate::host::TxBytes;
    use crate::memory::GuestMemory;
    use crate::state::MemoryState;

    const A: ContractId = ContractId([1; 32]);
    const B: ContractId = ContractId([2; 32]);
    const C: ContractId = ContractId([3; 32]);
    const FAILED: Status = Status::Trapped {
        trap: TrapKind::Unreachable,
    };

    fn host(state: &MemoryState) -> Host<&MemoryState> {
        let tx = TxBytes {
            input: b"tx-input".to_vec(),
            ..TxBytes::default()
        };
        let (limits, costs) = (Limits::default(), CostSchedule::default());
        Host::new(state, &A, tx, &limits, &costs, u64::MAX / 2)
    }

    /// Guest memory holding `key` at 0 and `value` after it.
    fn write(h: &mut Host<&MemoryState>, key: &[u8], value: &[u8]) {
        let mut bytes = [key, value].concat();
        let mut mem = GuestMemory::new(&mut bytes);
        h.storage_write(
            &mut mem,
            0,
            key.len() as i32,
            key.len() as i32,
            value.len() as i32,
        )
        .unwrap();
    }

    fn emit(h: &mut Host<&MemoryState>, topic: &[u8]) {
        let mut bytes = topic.to_vec();
        let mut mem = GuestMemory::new(&mut bytes);
        h.event_emit(&mut mem, 0, topic.len() as i32, 0, 0).unwrap();
    }

    fn set_output(h: &mut Host<&MemoryState>, out: &[u8]) {
        let mut bytes = out.to_vec();
        let mut mem = GuestMemory::new(&mut bytes);
        h.output_set(&mut mem, 0, out.len() as i32).unwrap();
    }

    fn input(h: &mut Host<&MemoryState>) -> Vec<u8> {
        let mut mem = GuestMemory::absent();
        let n = h.input_len(&mut mem).unwrap() as usize;
        let mut bytes = vec![0; n];
        let mut mem = GuestMemory::new(&mut bytes);
        h.input_read(&mut mem, 0).unwrap();
        bytes
    }

    #[test]
    fn a_callee_writes_its_own_storage_reads_its_input_and_returns_its_output() {
        let state = MemoryState::default();
        let mut h = host(&state);
        set_output(&mut h, b"caller-out");
        h.enter_call(B, "f", b"call-input".to_vec(), 8).unwrap();
        assert_eq!(input(&mut h), b"call-input");
        write(&mut h, b"k", b"from-b");
        set_output(&mut h, b"b-out");
        assert_eq!(h.leave_call(&Status::Success, 7), b"b-out");
        assert_eq!(input(&mut h), b"tx-input");
        write(&mut h, b"k", b"from-a");
        let run = h.finish(&Status::Success);
        let keys: Vec<_> = run
            .effects
            .writes
            .iter()
            .map(|w| (w.key.clone(), w.value.clone()))
            .collect();
        let mut expected = vec![
            (storage_key(&A, b"k"), Some(b"from-a".to_vec())),
            (storage_key(&B, b"k"), Some(b"from-b".to_vec())),
        ];
        expected.sort();
        assert_eq!(keys, expected);
        assert_eq!(run.effects.output, b"caller-out");
        assert_eq!(run.effects.calls.len(), 1);
        let call = &run.effects.calls[0];
        assert_eq!(
            (call.depth, call.caller, call.callee, call.entry.as_str()),
            (1, A, B, "f")
        );
        assert_eq!(
            call.input_hash,
            Hash32(Sha256::digest(b"call-input").into())
        );
        assert_eq!((call.status.clone(), call.fuel_used), (Status::Success, 7));
    }

    #[test]
    fn a_failed_callee_leaves_no_writes_events_or_output_but_its_reads() {
        let mut state = MemoryState::default();
        state.insert(storage_key(&B, b"seen"), b"v".to_vec());
        let mut h = host(&state);
        write(&mut h, b"a", b"1");
        emit(&mut h, b"a-event");
        h.enter_call(B, "f", vec![], 8).unwrap();
        write(&mut h, b"b", b"2");
        emit(&mut h, b"b-event");
        let mut bytes = *b"seen....";
        let mut mem = GuestMemory::new(&mut bytes);
        h.storage_read(&mut mem, 0, 4, 4, 4).unwrap();
        set_output(&mut h, b"b-out");
        assert_eq!(h.leave_call(&FAILED, 3), b"");
        h.enter_call(B, "f", vec![], 8).unwrap();
        set_output(&mut h, b"b-out");
        let reverted = Status::Reverted {
            message: "error 5: no".into(),
        };
        assert_eq!(h.leave_call(&reverted, 1), b"error 5: no");
        let run = h.finish(&Status::Success);
        assert_eq!(run.effects.writes.len(), 1);
        assert_eq!(run.effects.writes[0].key, storage_key(&A, b"a"));
        let topics: Vec<_> = run.effects.events.iter().map(|e| e.topic.clone()).collect();
        assert_eq!(topics, vec![b"a-event".to_vec()]);
        assert!(
            run.effects
                .reads
                .iter()
                .any(|r| r.key == storage_key(&B, b"seen"))
        );
        assert_eq!(run.effects.calls[0].status, FAILED);
    }

    #[test]
    fn a_nested_failure_undoes_only_its_own_frame() {
        let state = MemoryState::default();
        let mut h = host(&state);
        h.enter_call(B, "f", vec![], 8).unwrap();
        write(&mut h, b"b", b"kept");
        h.enter_call(C, "g", vec![], 8).unwrap();
        assert_eq!(h.call_depth(), 2);
        assert_eq!(h.caller(), Caller::Contract(B));
        write(&mut h, b"c", b"undone");
        h.leave_call(&FAILED, 1);
        assert_eq!(h.contract(), B);
        h.leave_call(&Status::Success, 2);
        let run = h.finish(&Status::Success);
        let keys: Vec<_> = run.effects.writes.iter().map(|w| w.key.clone()).collect();
        assert_eq!(keys, vec![storage_key(&B, b"b")]);
        let depths: Vec<_> = run
            .effects
            .calls
            .iter()
            .map(|c| (c.depth, c.callee))
            .collect();
        assert_eq!(depths, vec![(1, B), (2, C)], "pre-order");
    }

    #[test]
    fn reentry_is_refused_but_a_direct_self_call_is_not() {
        let state = MemoryState::default();
        let mut h = host(&state);
        h.enter_call(A, "self", vec![], 8).unwrap(); // A -> A
        h.enter_call(B, "f", vec![], 8).unwrap(); // A -> A -> B
        assert_eq!(
            h.enter_call(A, "f", vec![], 8),
            Err(CallRefusal::Reentry(A))
        );
        h.enter_call(B, "again", vec![], 8).unwrap(); // B -> B, direct
        h.enter_call(C, "g", vec![], 8).unwrap();
        assert_eq!(
            h.enter_call(B, "f", vec![], 8),
            Err(CallRefusal::Reentry(B))
        );
        // A refusal opened nothing.
        assert_eq!((h.call_depth(), h.call_records().len()), (4, 4));
    }

    #[test]
    fn the_depth_limit_counts_callee_frames() {
        let state = MemoryState::default();
        let mut h = host(&state);
        for i in 0..3u8 {
            h.enter_call(ContractId([10 + i; 32]), "f", vec![], 3)
                .unwrap();
        }
        let refused = h.enter_call(ContractId([99; 32]), "f", vec![], 3);
        assert_eq!(refused, Err(CallRefusal::TooDeep { max: 3 }));
        for _ in 0..3 {
            h.leave_call(&Status::Success, 0);
        }
        assert_eq!((h.call_depth(), h.contract()), (0, A));
        // Leaving with no frame open changes nothing.
        assert_eq!(h.leave_call(&Status::Success, 0), b"");
        assert_eq!(h.contract(), A);
    }
}
