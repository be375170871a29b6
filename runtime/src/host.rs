//! Host functions: the implementation of host ABI v1 and the store data they
//! work on. The linker is generated from the ABI table in verity-host-abi, so
//! an implementation whose signature differs from the table does not compile.

use std::ops::Range;
use verity_host_abi::limits::WASM_PAGE_BYTES;

use sha2::{Digest, Sha256};
use verity_host_abi::abi::IMPORT_MODULE;
use verity_host_abi::{CostClass, CostSchedule, Event, Limits, TrapKind, for_each_host_fn};
use wasmtime::{Caller, Global, Linker, Memory, ResourceLimiter, Val};

use crate::state::{Overlay, ReadError, StateBackend, StateError};

/// Why a host call ended the run. Carried through wasmtime as the error of
/// the host function and classified into a status afterwards.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HostExit {
    /// The guest broke a rule of the ABI or a run limit.
    #[error("trap: {0}")]
    Trap(TrapKind),
    /// A host call's cost exceeded the remaining fuel.
    #[error("out of fuel in a host call")]
    OutOfFuel,
    /// The guest called `abort`.
    #[error("abort: {0}")]
    Abort(String),
    /// The state backend failed: not a guest outcome.
    #[error(transparent)]
    State(#[from] StateError),
}

fn exit(e: HostExit) -> wasmtime::Error {
    wasmtime::Error::new(e)
}

fn trap(kind: TrapKind) -> wasmtime::Error {
    exit(HostExit::Trap(kind))
}

/// The data of every store: the transaction, the run's overlay and outputs,
/// and the profile's limits and costs.
pub(crate) struct HostState {
    /// The pre-state. `'static` only in type: see the SAFETY comment where
    /// the store is created in `Runtime::run`; the store never outlives the
    /// borrow this reference was made from.
    pub(crate) backend: &'static dyn StateBackend,
    pub(crate) input: Vec<u8>,
    pub(crate) sender: Vec<u8>,
    pub(crate) context: Vec<u8>,
    pub(crate) limits: Limits,
    pub(crate) costs: CostSchedule,
    pub(crate) memory: Option<Memory>,
    /// The instrumented module's fuel global (fuel left).
    pub(crate) fuel: Option<Global>,
    /// During a host call: the fuel left, read from the global once when
    /// the call starts and written back once when it ends.
    pub(crate) fuel_left: u64,
    pub(crate) limiter: PageLimiter,
    pub(crate) overlay: Overlay,
    pub(crate) events: Vec<Event>,
    pub(crate) output: Vec<u8>,
}

/// Caps memory and table growth at the profile's limits, so `memory.grow`
/// past the cap returns -1 whatever the OS would allow.
pub(crate) struct PageLimiter {
    pub(crate) max_memory_bytes: u64,
    pub(crate) max_table_elements: u64,
    pub(crate) max_tables: usize,
}

impl PageLimiter {
    pub(crate) fn new(limits: &Limits) -> Self {
        PageLimiter {
            max_memory_bytes: u64::from(limits.max_memory_pages) * u64::from(WASM_PAGE_BYTES),
            max_table_elements: u64::from(limits.max_table_elements),
            max_tables: limits.max_tables as usize,
        }
    }
}

impl ResourceLimiter for PageLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired as u64 <= self.max_memory_bytes)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired as u64 <= self.max_table_elements)
    }

    fn instances(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        self.max_tables
    }

    fn memories(&self) -> usize {
        1
    }
}

type Ctx<'a> = Caller<'a, HostState>;

/// Takes `fuel` from what the current host call has left, or ends the run
/// with `out_of_fuel` (after which the fuel left does not matter: the run's
/// `fuel_used` is its whole limit).
fn take_fuel(left: &mut u64, fuel: u64) -> wasmtime::Result<()> {
    if fuel > *left {
        return Err(exit(HostExit::OutOfFuel));
    }
    *left -= fuel;
    Ok(())
}

fn charge(caller: &mut Ctx<'_>, fuel: u64) -> wasmtime::Result<()> {
    take_fuel(&mut caller.data_mut().fuel_left, fuel)
}

/// Runs one host call with fuel accounting: the fuel global is read once,
/// the call's base cost and everything `body` charges are taken from that
/// value, and what is left is written back whether `body` succeeded or not
/// (a trap after a charge still counts the charge, as docs/costs.md says).
fn metered<R>(
    caller: &mut Ctx<'_>,
    base: u64,
    body: impl FnOnce(&mut Ctx<'_>) -> wasmtime::Result<R>,
) -> wasmtime::Result<R> {
    let global = caller
        .data()
        .fuel
        .ok_or_else(|| wasmtime::Error::msg("fuel global not set"))?;
    caller.data_mut().fuel_left = global.get(&mut *caller).unwrap_i64() as u64;
    let result = charge(caller, base).and_then(|()| body(caller));
    let left = caller.data().fuel_left;
    global.set(&mut *caller, Val::I64(left as i64))?;
    result
}

/// Charges the per-byte part of a class for `bytes` bytes.
fn charge_bytes(caller: &mut Ctx<'_>, class: CostClass, bytes: usize) -> wasmtime::Result<()> {
    let per_byte = caller.data().costs.get(class).per_byte;
    charge(caller, per_byte.saturating_mul(bytes as u64))
}

fn memory(caller: &Ctx<'_>) -> wasmtime::Result<Memory> {
    caller.data().memory.ok_or_else(|| trap(TrapKind::NoMemory))
}

/// The byte range `[ptr, ptr + len)` of guest memory, or a `bad_pointer`
/// trap. Pointers and lengths are unsigned 32-bit values.
fn range(caller: &Ctx<'_>, mem: Memory, ptr: i32, len: usize) -> wasmtime::Result<Range<usize>> {
    let start = ptr as u32 as usize;
    let end = start
        .checked_add(len)
        .filter(|end| *end <= mem.data_size(caller))
        .ok_or_else(|| trap(TrapKind::BadPointer))?;
    Ok(start..end)
}

fn limit(len: i32, max: u32, kind: TrapKind) -> wasmtime::Result<usize> {
    let len = len as u32;
    if len > max {
        return Err(trap(kind));
    }
    Ok(len as usize)
}

/// Copies `len` bytes of guest memory at `ptr`.
fn read_guest(caller: &Ctx<'_>, mem: Memory, ptr: i32, len: usize) -> wasmtime::Result<Vec<u8>> {
    let r = range(caller, mem, ptr, len)?;
    Ok(mem.data(caller)[r].to_vec())
}

/// Copies one of the transaction's byte fields to guest memory at `dst`.
fn copy_tx_field(
    caller: &mut Ctx<'_>,
    dst: i32,
    field: fn(&HostState) -> &[u8],
) -> wasmtime::Result<()> {
    let mem = memory(caller)?;
    let len = field(caller.data()).len();
    let r = range(caller, mem, dst, len)?;
    charge_bytes(caller, CostClass::context, len)?;
    let (data, state) = mem.data_and_store_mut(caller);
    data[r].copy_from_slice(field(state));
    Ok(())
}

fn len_i32(len: usize) -> i32 {
    // Every length handed to the guest is bounded by a profile limit far
    // below 2^31.
    i32::try_from(len).expect("length bounded by the profile")
}

fn input_len(caller: &mut Ctx<'_>) -> wasmtime::Result<i32> {
    Ok(len_i32(caller.data().input.len()))
}

fn input_read(caller: &mut Ctx<'_>, dst: i32) -> wasmtime::Result<()> {
    copy_tx_field(caller, dst, |s| &s.input)
}

fn sender_len(caller: &mut Ctx<'_>) -> wasmtime::Result<i32> {
    Ok(len_i32(caller.data().sender.len()))
}

fn sender_read(caller: &mut Ctx<'_>, dst: i32) -> wasmtime::Result<()> {
    copy_tx_field(caller, dst, |s| &s.sender)
}

fn context_len(caller: &mut Ctx<'_>) -> wasmtime::Result<i32> {
    Ok(len_i32(caller.data().context.len()))
}

fn context_read(caller: &mut Ctx<'_>, dst: i32) -> wasmtime::Result<()> {
    copy_tx_field(caller, dst, |s| &s.context)
}

fn output_set(caller: &mut Ctx<'_>, ptr: i32, len: i32) -> wasmtime::Result<()> {
    let len = limit(
        len,
        caller.data().limits.max_output_bytes,
        TrapKind::OutputTooLong,
    )?;
    let mem = memory(caller)?;
    let r = range(caller, mem, ptr, len)?;
    charge_bytes(caller, CostClass::output, len)?;
    let (data, state) = mem.data_and_store_mut(caller);
    state.output.clear();
    state.output.extend_from_slice(&data[r]);
    Ok(())
}

/// Bounds-checks and copies a storage key.
/// Where a key lies in guest memory, within the profile's key size limit.
fn key_range(caller: &Ctx<'_>, mem: Memory, ptr: i32, len: i32) -> wasmtime::Result<Range<usize>> {
    let len = limit(
        len,
        caller.data().limits.max_key_bytes,
        TrapKind::KeyTooLong,
    )?;
    range(caller, mem, ptr, len)
}

/// Copies a key out of guest memory.
fn read_key(caller: &Ctx<'_>, mem: Memory, ptr: i32, len: i32) -> wasmtime::Result<Vec<u8>> {
    let r = key_range(caller, mem, ptr, len)?;
    Ok(mem.data(caller)[r].to_vec())
}

fn storage_read(
    caller: &mut Ctx<'_>,
    key_ptr: i32,
    key_len: i32,
    dst: i32,
    dst_cap: i32,
) -> wasmtime::Result<i32> {
    let mem = memory(caller)?;
    let key = key_range(caller, mem, key_ptr, key_len)?;
    let key_len = key.len();
    // The key is read in place: nothing is copied unless the overlay must
    // remember it.
    let (data, state) = mem.data_and_store_mut(&mut *caller);
    let per_byte = state.costs.get(CostClass::storage_read).per_byte;
    take_fuel(
        &mut state.fuel_left,
        per_byte.saturating_mul(key_len as u64),
    )?;
    let value = match state.overlay.get(state.backend, &data[key]) {
        Ok(value) => value,
        Err(ReadError::State(e)) => return Err(exit(e.into())),
        Err(ReadError::ReadSetTooLarge) => return Err(trap(TrapKind::ReadSetTooLarge)),
    };
    let Some(value) = value else {
        return Ok(-1);
    };
    take_fuel(
        &mut state.fuel_left,
        per_byte.saturating_mul(value.len() as u64),
    )?;
    if value.len() <= dst_cap as u32 as usize {
        let start = dst as u32 as usize;
        let out = data
            .get_mut(start..start + value.len())
            .ok_or_else(|| trap(TrapKind::BadPointer))?;
        out.copy_from_slice(value);
    }
    Ok(len_i32(value.len()))
}

/// Records a write or removal, enforcing the write set budget.
fn put(caller: &mut Ctx<'_>, key: Vec<u8>, value: Option<Vec<u8>>) -> wasmtime::Result<()> {
    let state = caller.data_mut();
    let total = state
        .overlay
        .write_bytes_after(&key, value.as_ref().map(Vec::len));
    if total > u64::from(state.limits.max_write_set_bytes) {
        return Err(trap(TrapKind::WriteSetTooLarge));
    }
    state.overlay.put(key, value, total);
    Ok(())
}

fn storage_write(
    caller: &mut Ctx<'_>,
    key_ptr: i32,
    key_len: i32,
    val_ptr: i32,
    val_len: i32,
) -> wasmtime::Result<()> {
    let mem = memory(caller)?;
    let val_len = limit(
        val_len,
        caller.data().limits.max_value_bytes,
        TrapKind::ValueTooLong,
    )?;
    let key = read_key(caller, mem, key_ptr, key_len)?;
    let value = read_guest(caller, mem, val_ptr, val_len)?;
    charge_bytes(caller, CostClass::storage_write, key.len() + value.len())?;
    put(caller, key, Some(value))
}

fn storage_remove(caller: &mut Ctx<'_>, key_ptr: i32, key_len: i32) -> wasmtime::Result<()> {
    let mem = memory(caller)?;
    let key = read_key(caller, mem, key_ptr, key_len)?;
    charge_bytes(caller, CostClass::storage_remove, key.len())?;
    put(caller, key, None)
}

fn event_emit(
    caller: &mut Ctx<'_>,
    topic_ptr: i32,
    topic_len: i32,
    data_ptr: i32,
    data_len: i32,
) -> wasmtime::Result<()> {
    let limits = caller.data().limits;
    if caller.data().events.len() >= limits.max_events as usize {
        return Err(trap(TrapKind::TooManyEvents));
    }
    let topic_len = limit(topic_len, limits.max_topic_bytes, TrapKind::TopicTooLong)?;
    let data_len = limit(
        data_len,
        limits.max_event_data_bytes,
        TrapKind::EventDataTooLong,
    )?;
    let mem = memory(caller)?;
    let topic = read_guest(caller, mem, topic_ptr, topic_len)?;
    let data = read_guest(caller, mem, data_ptr, data_len)?;
    charge_bytes(caller, CostClass::event, topic_len + data_len)?;
    caller.data_mut().events.push(Event { topic, data });
    Ok(())
}

fn abort(caller: &mut Ctx<'_>, msg_ptr: i32, msg_len: i32) -> wasmtime::Result<()> {
    let mem = memory(caller)?;
    let len = msg_len as u32 as usize;
    let r = range(caller, mem, msg_ptr, len)?;
    charge_bytes(caller, CostClass::abort, len)?;
    let keep = len.min(caller.data().limits.max_abort_message_bytes as usize);
    let bytes = &mem.data(&*caller)[r.start..r.start + keep];
    let message = String::from_utf8_lossy(bytes).into_owned();
    Err(exit(HostExit::Abort(message)))
}

fn sha256(caller: &mut Ctx<'_>, src_ptr: i32, src_len: i32, dst: i32) -> wasmtime::Result<()> {
    let mem = memory(caller)?;
    let src = range(caller, mem, src_ptr, src_len as u32 as usize)?;
    let out = range(caller, mem, dst, 32)?;
    charge_bytes(caller, CostClass::sha256, src.len())?;
    let data = mem.data_mut(&mut *caller);
    let digest: [u8; 32] = Sha256::digest(&data[src]).into();
    data[out].copy_from_slice(&digest);
    Ok(())
}

macro_rules! ret {
    () => {
        ()
    };
    ($r:ident) => {
        $r
    };
}

macro_rules! link_host_fns {
    ($( $(#[$meta:meta])* fn $name:ident ( $($p:ident : $t:ident),* ) $(-> $r:ident)?,
        cost = $cost:ident, bytes = $bytes:literal; )*) => {
        /// Defines every host function of the ABI table in `linker`. Each
        /// wrapper charges the function's base cost, then runs it, with the
        /// fuel global read and written once per call.
        pub(crate) fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
            $(
                linker.func_wrap(
                    IMPORT_MODULE,
                    stringify!($name),
                    |mut caller: Ctx<'_>, $($p: $t),*| -> wasmtime::Result<ret!($($r)?)> {
                        let base = caller.data().costs.get(CostClass::$cost).base;
                        metered(&mut caller, base, |caller| $name(caller, $($p),*))
                    },
                )?;
            )*
            Ok(())
        }
    };
}

for_each_host_fn!(link_host_fns);
