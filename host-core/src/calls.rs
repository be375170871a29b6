//! The rules of each host function, after its base cost is taken: checks in
//! the documented order, per-byte charges, effects. One function per entry
//! of the ABI table, named as it is there.
//!
//! The order of the checks is part of the receipt (a call that breaks two
//! rules reports the first), so it is the same in every host: this file.

use std::ops::Range;
use std::string::String;

use sha2::{Digest, Sha256};
use verity_host_abi::contract::STORAGE_PREFIX_BYTES;
use verity_host_abi::{CostClass, Event, TrapKind};

use crate::exit::HostExit;
use crate::host::{Host, TxBytes, take_fuel};
use crate::memory::{GuestMemory, range_in};
use crate::overlay::ReadError;
use crate::state::StateView;

pub(crate) type Res<T = ()> = Result<T, HostExit>;

pub(crate) use crate::frames::{
    call, call_output_len, call_output_read, caller_len, caller_read, current_contract,
    update_current_contract_code,
};

pub(crate) use crate::crypto::{
    ed25519_verify, keccak256, p256_verify, secp256k1_recover, secp256k1_verify,
};

/// A guest-supplied length, read unsigned, or `kind` if over `max`.
pub(crate) fn limit(len: i32, max: u32, kind: TrapKind) -> Res<usize> {
    let len = len as u32;
    if len > max {
        return Err(HostExit::Trap(kind));
    }
    Ok(len as usize)
}

pub(crate) fn len_i32(len: usize) -> i32 {
    // Every length handed to the guest is bounded by a profile limit far
    // below 2^31.
    i32::try_from(len).expect("length bounded by the profile")
}

/// Where a key lies in guest memory, within the profile's key size limit.
fn key_range<B>(h: &Host<B>, mem: &GuestMemory<'_>, ptr: i32, len: i32) -> Res<Range<usize>> {
    let len = limit(len, h.limits.max_key_bytes, TrapKind::KeyTooLong)?;
    mem.range(ptr, len)
}

/// Copies a key (the guest's, without the contract's prefix) out of guest
/// memory.
fn read_key<B>(h: &Host<B>, mem: &mut GuestMemory<'_>, ptr: i32, len: i32) -> Res<Vec<u8>> {
    let r = key_range(h, mem, ptr, len)?;
    Ok(mem.bytes()?[r].to_vec())
}

/// Copies `len` bytes of guest memory at `ptr`.
pub(crate) fn read_guest(mem: &mut GuestMemory<'_>, ptr: i32, len: usize) -> Res<Vec<u8>> {
    let r = mem.range(ptr, len)?;
    Ok(mem.bytes()?[r].to_vec())
}

/// Copies bytes the host holds (`bytes` picks them) to guest memory at
/// `dst`, charging them as `context`.
pub(crate) fn copy_out<B: StateView>(
    h: &mut Host<B>,
    mem: &mut GuestMemory<'_>,
    dst: i32,
    bytes: impl Fn(&Host<B>) -> &[u8],
) -> Res {
    let data = mem.bytes()?;
    let len = bytes(h).len();
    let r = range_in(data.len(), dst, len)?;
    h.charge_bytes(CostClass::context, len)?;
    data[r].copy_from_slice(bytes(h));
    Ok(())
}

/// Copies one of the transaction's byte fields to guest memory at `dst`.
fn copy_tx_field<B: StateView>(
    h: &mut Host<B>,
    mem: &mut GuestMemory<'_>,
    dst: i32,
    field: fn(&TxBytes) -> &[u8],
) -> Res {
    copy_out(h, mem, dst, |h| field(&h.tx))
}

pub(crate) fn input_len<B>(h: &mut Host<B>, _mem: &mut GuestMemory<'_>) -> Res<i32> {
    Ok(len_i32(h.tx.input.len()))
}

pub(crate) fn input_read<B: StateView>(
    h: &mut Host<B>,
    mem: &mut GuestMemory<'_>,
    dst: i32,
) -> Res {
    copy_tx_field(h, mem, dst, |t| &t.input)
}

pub(crate) fn sender_len<B>(h: &mut Host<B>, _mem: &mut GuestMemory<'_>) -> Res<i32> {
    Ok(len_i32(h.tx.sender.len()))
}

pub(crate) fn sender_read<B: StateView>(
    h: &mut Host<B>,
    mem: &mut GuestMemory<'_>,
    dst: i32,
) -> Res {
    copy_tx_field(h, mem, dst, |t| &t.sender)
}

pub(crate) fn context_len<B>(h: &mut Host<B>, _mem: &mut GuestMemory<'_>) -> Res<i32> {
    Ok(len_i32(h.tx.context.len()))
}

pub(crate) fn context_read<B: StateView>(
    h: &mut Host<B>,
    mem: &mut GuestMemory<'_>,
    dst: i32,
) -> Res {
    copy_tx_field(h, mem, dst, |t| &t.context)
}

pub(crate) fn block_height<B>(h: &mut Host<B>, _mem: &mut GuestMemory<'_>) -> Res<i64> {
    Ok(h.tx.chain.height as i64)
}

pub(crate) fn block_time<B>(h: &mut Host<B>, _mem: &mut GuestMemory<'_>) -> Res<i64> {
    Ok(h.tx.chain.time as i64)
}

pub(crate) fn chain_id_len<B>(h: &mut Host<B>, _mem: &mut GuestMemory<'_>) -> Res<i32> {
    Ok(len_i32(h.tx.chain.chain_id.len()))
}

pub(crate) fn chain_id_read<B: StateView>(
    h: &mut Host<B>,
    mem: &mut GuestMemory<'_>,
    dst: i32,
) -> Res {
    copy_tx_field(h, mem, dst, |t| t.chain.chain_id.as_bytes())
}

pub(crate) fn output_set<B: StateView>(
    h: &mut Host<B>,
    mem: &mut GuestMemory<'_>,
    ptr: i32,
    len: i32,
) -> Res {
    let len = limit(len, h.limits.max_output_bytes, TrapKind::OutputTooLong)?;
    let r = mem.range(ptr, len)?;
    h.charge_bytes(CostClass::output, len)?;
    h.output.clear();
    h.output.extend_from_slice(&mem.bytes()?[r]);
    Ok(())
}

pub(crate) fn storage_read<B: StateView>(
    h: &mut Host<B>,
    mem: &mut GuestMemory<'_>,
    key_ptr: i32,
    key_len: i32,
    dst: i32,
    dst_cap: i32,
) -> Res<i32> {
    mem.bytes()?;
    let key = key_range(h, mem, key_ptr, key_len)?;
    let data = mem.bytes()?;
    // The key is read in place: nothing is copied unless the overlay must
    // remember it.
    let (backend, overlay, fuel_left, costs, key_buf) = h.state_parts();
    let per_unit = costs.get(CostClass::storage_read).per_unit;
    take_fuel(fuel_left, per_unit.saturating_mul(key.len() as u64))?;
    // The contract's prefix stays in the buffer; the guest's key follows.
    key_buf.truncate(STORAGE_PREFIX_BYTES);
    key_buf.extend_from_slice(&data[key]);
    let value = match overlay.get(backend, key_buf) {
        Ok(value) => value,
        Err(ReadError::State(e)) => return Err(HostExit::State(e)),
        Err(ReadError::ReadSetTooLarge) => return Err(HostExit::Trap(TrapKind::ReadSetTooLarge)),
    };
    let Some(value) = value else {
        return Ok(-1);
    };
    take_fuel(fuel_left, per_unit.saturating_mul(value.len() as u64))?;
    if value.len() <= dst_cap as u32 as usize {
        let out = range_in(data.len(), dst, value.len())?;
        data[out].copy_from_slice(value);
    }
    Ok(len_i32(value.len()))
}

/// Records a write or removal within the write set budget.
fn put<B>(h: &mut Host<B>, key: Vec<u8>, value: Option<Vec<u8>>) -> Res {
    h.overlay.put(key, value).map_err(HostExit::Trap)
}

pub(crate) fn storage_write<B: StateView>(
    h: &mut Host<B>,
    mem: &mut GuestMemory<'_>,
    key_ptr: i32,
    key_len: i32,
    val_ptr: i32,
    val_len: i32,
) -> Res {
    mem.bytes()?;
    let val_len = limit(val_len, h.limits.max_value_bytes, TrapKind::ValueTooLong)?;
    let key = read_key(h, mem, key_ptr, key_len)?;
    let value = read_guest(mem, val_ptr, val_len)?;
    h.charge_bytes(CostClass::storage_write, key.len() + value.len())?;
    let key = h.scoped(&key);
    put(h, key, Some(value))
}

pub(crate) fn storage_remove<B: StateView>(
    h: &mut Host<B>,
    mem: &mut GuestMemory<'_>,
    key_ptr: i32,
    key_len: i32,
) -> Res {
    mem.bytes()?;
    let key = read_key(h, mem, key_ptr, key_len)?;
    h.charge_bytes(CostClass::storage_remove, key.len())?;
    let key = h.scoped(&key);
    put(h, key, None)
}

pub(crate) fn event_emit<B: StateView>(
    h: &mut Host<B>,
    mem: &mut GuestMemory<'_>,
    topic_ptr: i32,
    topic_len: i32,
    data_ptr: i32,
    data_len: i32,
) -> Res {
    let limits = h.limits;
    if h.events.len() >= limits.max_events as usize {
        return Err(HostExit::Trap(TrapKind::TooManyEvents));
    }
    let topic_len = limit(topic_len, limits.max_topic_bytes, TrapKind::TopicTooLong)?;
    let data_len = limit(
        data_len,
        limits.max_event_data_bytes,
        TrapKind::EventDataTooLong,
    )?;
    let topic = read_guest(mem, topic_ptr, topic_len)?;
    let data = read_guest(mem, data_ptr, data_len)?;
    h.charge_bytes(CostClass::event, topic_len + data_len)?;
    h.events.push(Event {
        contract: h.contract,
        topic,
        data,
    });
    Ok(())
}

/// Where a message (`abort`, `log`) lies in guest memory, its bytes charged
/// in `class`.
fn charged_message<B: StateView>(
    h: &mut Host<B>,
    mem: &GuestMemory<'_>,
    msg_ptr: i32,
    msg_len: i32,
    class: CostClass,
) -> Res<Range<usize>> {
    let len = msg_len as u32 as usize;
    let r = mem.range(msg_ptr, len)?;
    h.charge_bytes(class, len)?;
    Ok(r)
}

pub(crate) fn abort<B: StateView>(
    h: &mut Host<B>,
    mem: &mut GuestMemory<'_>,
    msg_ptr: i32,
    msg_len: i32,
) -> Res {
    let r = charged_message(h, mem, msg_ptr, msg_len, CostClass::abort)?;
    let len = r.len();
    let keep = len.min(h.limits.max_abort_message_bytes as usize);
    let bytes = &mem.bytes()?[r.start..r.start + keep];
    let message = String::from_utf8_lossy(bytes).into_owned();
    Err(HostExit::Abort(message))
}

pub(crate) fn log<B: StateView>(
    h: &mut Host<B>,
    mem: &mut GuestMemory<'_>,
    msg_ptr: i32,
    msg_len: i32,
) -> Res {
    let r = charged_message(h, mem, msg_ptr, msg_len, CostClass::event)?;
    let len = r.len();
    // Kept up to the budget, whole lines only; charged either way.
    if h.log_bytes + len <= h.limits.max_log_bytes as usize {
        let line = String::from_utf8_lossy(&mem.bytes()?[r]).into_owned();
        h.log_bytes += len;
        h.logs.push(line);
    }
    Ok(())
}

pub(crate) fn sha256<B: StateView>(
    h: &mut Host<B>,
    mem: &mut GuestMemory<'_>,
    src_ptr: i32,
    src_len: i32,
    dst: i32,
) -> Res {
    hash_call::<Sha256, B>(h, mem, src_ptr, src_len, dst, CostClass::sha256)
}

/// A hash host function: the 32-byte digest `D` of
/// `[src_ptr, src_ptr + src_len)` to `dst`, its bytes charged in `class`.
pub(crate) fn hash_call<D: Digest, B: StateView>(
    h: &mut Host<B>,
    mem: &mut GuestMemory<'_>,
    src_ptr: i32,
    src_len: i32,
    dst: i32,
    class: CostClass,
) -> Res {
    let src = mem.range(src_ptr, src_len as u32 as usize)?;
    let out = mem.range(dst, 32)?;
    h.charge_bytes(class, src.len())?;
    let data = mem.bytes()?;
    let digest = D::digest(&data[src]);
    data[out].copy_from_slice(&digest[..32]);
    Ok(())
}
