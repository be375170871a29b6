//! A bump allocator for wasm32 (feature `alloc`).
//!
//! Deterministic by construction: addresses depend only on the sequence of
//! allocations, and memory comes from `memory.grow`, which the host's page
//! cap makes fail (return -1) at the same point on every machine. `dealloc`
//! frees only the most recent allocation; everything else is reclaimed when
//! the instance is dropped after the run, which suits short transactions.
//! When memory runs out, allocation fails and the run reverts with Rust's
//! "memory allocation of N bytes failed" panic.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;

const PAGE: usize = verity_host_abi::limits::WASM_PAGE_BYTES as usize;

/// The allocator. Installed as `#[global_allocator]` on wasm32.
pub struct BumpAllocator {
    next: Cell<usize>,
    end: Cell<usize>,
}

// SAFETY: wasm32-unknown-unknown without the `atomics` target feature (which
// the Verity profile refuses) has one thread; the cells are never shared.
#[cfg(not(target_feature = "atomics"))]
unsafe impl Sync for BumpAllocator {}

unsafe extern "C" {
    /// Set by the linker: the first byte after static data and the stack.
    static __heap_base: u8;
}

impl BumpAllocator {
    const fn new() -> Self {
        BumpAllocator {
            next: Cell::new(0),
            end: Cell::new(0),
        }
    }

    fn alloc_inner(&self, layout: Layout) -> *mut u8 {
        if self.end.get() == 0 {
            // Only the address of the linker symbol is taken (safe).
            let base = core::ptr::addr_of!(__heap_base) as usize;
            self.next.set(base);
            self.end.set(core::arch::wasm32::memory_size(0) * PAGE);
        }
        let Some(start) = self.next.get().checked_next_multiple_of(layout.align()) else {
            return core::ptr::null_mut();
        };
        let Some(new_next) = start.checked_add(layout.size()) else {
            return core::ptr::null_mut();
        };
        if new_next > self.end.get() {
            let pages = (new_next - self.end.get()).div_ceil(PAGE);
            if core::arch::wasm32::memory_grow(0, pages) == usize::MAX {
                return core::ptr::null_mut();
            }
            self.end.set(self.end.get() + pages * PAGE);
        }
        self.next.set(new_next);
        start as *mut u8
    }
}

// SAFETY: `alloc` returns either null or a block of `layout.size()` bytes at
// `layout.align()` inside linear memory that no other live allocation
// overlaps (the bump pointer only moves forward, except that `dealloc` of the
// latest block moves it back to that block's start).
unsafe impl GlobalAlloc for BumpAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.alloc_inner(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ptr as usize + layout.size() == self.next.get() {
            self.next.set(ptr as usize);
        }
    }
}

/// The contract's global allocator.
#[global_allocator]
pub static ALLOCATOR: BumpAllocator = BumpAllocator::new();
