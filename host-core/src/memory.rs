//! Guest memory as the host rules see it: bytes addressed by the guest's
//! unsigned 32-bit pointers and lengths.

use std::ops::Range;

use verity_host_abi::TrapKind;

use crate::exit::HostExit;

/// The linear memory of the running guest, or its absence (a module that
/// exports no memory can still call the functions that touch none).
///
/// The runtime wraps wasmtime's memory in it for the length of a host call;
/// the SDK's test environment wraps a buffer holding the call's arguments.
/// Every pointer check of the host ABI is made here: `[ptr, ptr + len)` must
/// lie inside the memory, or the call traps with `bad_pointer`.
///
/// ```
/// use verity_host_abi::TrapKind;
/// use verity_host_core::{GuestMemory, HostExit};
///
/// let mut bytes = [0u8; 16];
/// let mem = GuestMemory::new(&mut bytes);
/// assert_eq!(mem.range(8, 8).unwrap(), 8..16);
/// assert!(matches!(mem.range(8, 9), Err(HostExit::Trap(TrapKind::BadPointer))));
/// // Pointers are unsigned: -1 is 4 GiB - 1, far outside.
/// assert!(matches!(mem.range(-1, 0), Err(HostExit::Trap(TrapKind::BadPointer))));
/// assert!(matches!(
///     GuestMemory::absent().range(0, 0),
///     Err(HostExit::Trap(TrapKind::NoMemory))
/// ));
/// ```
#[derive(Debug)]
pub struct GuestMemory<'a> {
    bytes: Option<&'a mut [u8]>,
}

impl<'a> GuestMemory<'a> {
    /// A guest memory holding `bytes`.
    pub fn new(bytes: &'a mut [u8]) -> Self {
        GuestMemory { bytes: Some(bytes) }
    }

    /// The memory of a module that exports none: any access traps with
    /// `no_memory`.
    pub fn absent() -> Self {
        GuestMemory { bytes: None }
    }

    /// All of the memory, or `no_memory`.
    pub(crate) fn bytes(&mut self) -> Result<&mut [u8], HostExit> {
        self.bytes
            .as_deref_mut()
            .ok_or(HostExit::Trap(TrapKind::NoMemory))
    }

    /// Where `[ptr, ptr + len)` lies in the memory, or `bad_pointer`
    /// (`no_memory` without one). `ptr` is the guest's `i32`, read unsigned.
    pub fn range(&self, ptr: i32, len: usize) -> Result<Range<usize>, HostExit> {
        let size = self
            .bytes
            .as_deref()
            .ok_or(HostExit::Trap(TrapKind::NoMemory))?
            .len();
        range_in(size, ptr, len)
    }
}

/// `[ptr, ptr + len)` as a range of a memory of `size` bytes, or
/// `bad_pointer`.
pub(crate) fn range_in(size: usize, ptr: i32, len: usize) -> Result<Range<usize>, HostExit> {
    let start = ptr as u32 as usize;
    start
        .checked_add(len)
        .filter(|end| *end <= size)
        .map(|end| start..end)
        .ok_or(HostExit::Trap(TrapKind::BadPointer))
}
