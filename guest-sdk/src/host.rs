//! Slice-level host calls: the only place that turns Rust slices into the
//! pointers and lengths of host ABI v1. On wasm32 they call the imports in
//! [`crate::sys`]; natively they call the in-memory host of
//! [`crate::testing`], with the same semantics.

#[cfg(target_arch = "wasm32")]
mod imp {
    use crate::sys;

    // On wasm32 a pointer and a `usize` are 32 bits: `as i32` keeps every bit
    // and the host reads the value back as unsigned.
    fn p(ptr: *const u8) -> i32 {
        ptr as usize as i32
    }
    fn n(len: usize) -> i32 {
        len as i32
    }

    pub(crate) fn input_len() -> usize {
        // SAFETY: no arguments; the host returns a length.
        unsafe { sys::input_len() as u32 as usize }
    }
    pub(crate) fn input_read(dst: &mut [u8]) {
        debug_assert_eq!(dst.len(), input_len());
        // SAFETY: `dst` is writable for `input_len()` bytes (callers size it
        // so); the host bounds-checks the range anyway.
        unsafe { sys::input_read(p(dst.as_mut_ptr())) }
    }
    pub(crate) fn sender_len() -> usize {
        // SAFETY: no arguments.
        unsafe { sys::sender_len() as u32 as usize }
    }
    pub(crate) fn sender_read(dst: &mut [u8]) {
        debug_assert_eq!(dst.len(), sender_len());
        // SAFETY: `dst` is writable for `sender_len()` bytes.
        unsafe { sys::sender_read(p(dst.as_mut_ptr())) }
    }
    pub(crate) fn context_len() -> usize {
        // SAFETY: no arguments.
        unsafe { sys::context_len() as u32 as usize }
    }
    pub(crate) fn context_read(dst: &mut [u8]) {
        debug_assert_eq!(dst.len(), context_len());
        // SAFETY: `dst` is writable for `context_len()` bytes.
        unsafe { sys::context_read(p(dst.as_mut_ptr())) }
    }
    pub(crate) fn block_height() -> u64 {
        // SAFETY: no arguments; the host returns the height's bits.
        unsafe { sys::block_height() as u64 }
    }
    pub(crate) fn block_time() -> u64 {
        // SAFETY: no arguments; the host returns the time's bits.
        unsafe { sys::block_time() as u64 }
    }
    pub(crate) fn chain_id_len() -> usize {
        // SAFETY: no arguments.
        unsafe { sys::chain_id_len() as u32 as usize }
    }
    pub(crate) fn chain_id_read(dst: &mut [u8]) {
        debug_assert_eq!(dst.len(), chain_id_len());
        // SAFETY: `dst` is writable for `chain_id_len()` bytes.
        unsafe { sys::chain_id_read(p(dst.as_mut_ptr())) }
    }
    pub(crate) fn output_set(data: &[u8]) {
        // SAFETY: the host only reads `data.len()` bytes at `data`.
        unsafe { sys::output_set(p(data.as_ptr()), n(data.len())) }
    }
    pub(crate) fn storage_read(key: &[u8], dst: &mut [u8]) -> Option<usize> {
        // SAFETY: the host reads the key and writes at most `dst.len()` bytes
        // into `dst`, both ranges valid slices.
        let r = unsafe {
            sys::storage_read(
                p(key.as_ptr()),
                n(key.len()),
                p(dst.as_mut_ptr()),
                n(dst.len()),
            )
        };
        (r >= 0).then_some(r as usize)
    }
    pub(crate) fn storage_write(key: &[u8], value: &[u8]) {
        // SAFETY: the host only reads both slices.
        unsafe {
            sys::storage_write(
                p(key.as_ptr()),
                n(key.len()),
                p(value.as_ptr()),
                n(value.len()),
            )
        }
    }
    pub(crate) fn storage_remove(key: &[u8]) {
        // SAFETY: the host only reads the key.
        unsafe { sys::storage_remove(p(key.as_ptr()), n(key.len())) }
    }
    pub(crate) fn event_emit(topic: &[u8], data: &[u8]) {
        // SAFETY: the host only reads both slices.
        unsafe {
            sys::event_emit(
                p(topic.as_ptr()),
                n(topic.len()),
                p(data.as_ptr()),
                n(data.len()),
            )
        }
    }
    pub(crate) fn abort(msg: &[u8]) -> ! {
        // SAFETY: the host only reads the message, then ends the run.
        unsafe { sys::abort(p(msg.as_ptr()), n(msg.len())) };
        // The host never returns from `abort`; should one, trap.
        core::arch::wasm32::unreachable()
    }
    pub(crate) fn log(line: &[u8]) {
        // SAFETY: the host only reads `line.len()` bytes at `line`.
        unsafe { sys::log(p(line.as_ptr()), n(line.len())) }
    }
    pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        // SAFETY: the host reads `data` and writes exactly 32 bytes to `out`.
        unsafe { sys::sha256(p(data.as_ptr()), n(data.len()), p(out.as_mut_ptr())) };
        out
    }
    pub(crate) fn keccak256(data: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        // SAFETY: the host reads `data` and writes exactly 32 bytes to `out`.
        unsafe { sys::keccak256(p(data.as_ptr()), n(data.len()), p(out.as_mut_ptr())) };
        out
    }
    pub(crate) fn ed25519_verify(key: &[u8; 32], sig: &[u8; 64], msg: &[u8]) -> i32 {
        // SAFETY: the host only reads 32, 64 and `msg.len()` bytes at them.
        unsafe {
            sys::ed25519_verify(
                p(key.as_ptr()),
                p(sig.as_ptr()),
                p(msg.as_ptr()),
                n(msg.len()),
            )
        }
    }
    pub(crate) fn secp256k1_verify(key: &[u8], digest: &[u8; 32], sig: &[u8; 64]) -> i32 {
        // SAFETY: the host only reads `key.len()`, 32 and 64 bytes at them.
        unsafe {
            sys::secp256k1_verify(
                p(key.as_ptr()),
                n(key.len()),
                p(digest.as_ptr()),
                p(sig.as_ptr()),
            )
        }
    }
    pub(crate) fn secp256k1_recover(digest: &[u8; 32], sig: &[u8; 64], id: u8) -> (i32, [u8; 33]) {
        let mut out = [0u8; 33];
        // SAFETY: the host reads 32 and 64 bytes and writes at most 33 to `out`.
        let r = unsafe {
            sys::secp256k1_recover(
                p(digest.as_ptr()),
                p(sig.as_ptr()),
                i32::from(id),
                p(out.as_mut_ptr()),
            )
        };
        (r, out)
    }
    pub(crate) fn p256_verify(key: &[u8], digest: &[u8; 32], sig: &[u8; 64]) -> i32 {
        // SAFETY: the host only reads `key.len()`, 32 and 64 bytes at them.
        unsafe {
            sys::p256_verify(
                p(key.as_ptr()),
                n(key.len()),
                p(digest.as_ptr()),
                p(sig.as_ptr()),
            )
        }
    }
    pub(crate) fn current_contract() -> [u8; 32] {
        let mut out = [0u8; 32];
        // SAFETY: the host writes exactly 32 bytes to `out`.
        unsafe { sys::current_contract(p(out.as_mut_ptr())) };
        out
    }
    pub(crate) fn caller_len() -> usize {
        // SAFETY: no arguments.
        unsafe { sys::caller_len() as u32 as usize }
    }
    pub(crate) fn caller_read(dst: &mut [u8]) {
        debug_assert_eq!(dst.len(), caller_len());
        // SAFETY: `dst` is writable for `caller_len()` bytes.
        unsafe { sys::caller_read(p(dst.as_mut_ptr())) }
    }
    pub(crate) fn call(contract: &[u8; 32], entry: &[u8], input: &[u8], fuel_cap: u64) -> i32 {
        // SAFETY: the host only reads 32 bytes, `entry.len()` and
        // `input.len()` bytes at them.
        unsafe {
            sys::call(
                p(contract.as_ptr()),
                p(entry.as_ptr()),
                n(entry.len()),
                p(input.as_ptr()),
                n(input.len()),
                fuel_cap as i64,
            )
        }
    }
    pub(crate) fn call_output_len() -> usize {
        // SAFETY: no arguments.
        unsafe { sys::call_output_len() as u32 as usize }
    }
    pub(crate) fn call_output_read(dst: &mut [u8]) {
        debug_assert_eq!(dst.len(), call_output_len());
        // SAFETY: `dst` is writable for `call_output_len()` bytes.
        unsafe { sys::call_output_read(p(dst.as_mut_ptr())) }
    }
    pub(crate) fn update_current_contract_code(code_hash: &[u8; 32]) -> i32 {
        // SAFETY: the host only reads 32 bytes at `code_hash`.
        unsafe { sys::update_current_contract_code(p(code_hash.as_ptr())) }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    pub(crate) use crate::testing::host::*;
}

pub(crate) use imp::*;

#[cfg(test)]
mod tests {
    #[test]
    fn the_import_module_literal_is_the_abi_s() {
        // sys.rs cannot use the constant in `#[link(wasm_import_module)]`.
        let src = include_str!("sys.rs");
        let literal = std::format!(
            "wasm_import_module = \"{}\"",
            verity_host_abi::IMPORT_MODULE
        );
        assert!(src.contains(&literal), "sys.rs must use {literal}");
    }
}
