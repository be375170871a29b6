//! Instance allocation: how each run gets its instance, memory and table,
//! and how many runs may hold one at a time.
//!
//! Allocation is a performance choice, never a semantic one: it is not part
//! of the profile, and a test runs the hostile corpus under both strategies
//! and requires byte-identical receipts. Three rules make that true:
//!
//! - a pooled memory or table may grow as far as the profile allows and no
//!   further, so the profile's [`PageLimiter`](crate::host) refuses growth
//!   first under either strategy;
//! - a pooled instance slot fits the largest instance any module the profile
//!   accepts can need (`INSTANCE_BYTES`, checked by a test that builds that
//!   module), so the pool never refuses a module validation accepted;
//! - pool exhaustion is never an outcome: a [`Gate`] admits at most as many
//!   runs as there are slots, and further callers wait for a slot.
//!
//! docs/performance.md has the measurements behind the defaults.

use std::sync::{Condvar, Mutex};
use verity_host_abi::limits::WASM_PAGE_BYTES;

use verity_host_abi::Limits;
use wasmtime::{Enabled, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Bytes reserved for one instance's runtime metadata (wasmtime's
/// `VMContext`) in a pool slot. The largest module the default profile
/// accepts needs under 2 MiB: 10,000 functions at most (imports included)
/// with 56 bytes each when imported and referenced, 1,027 globals at 16
/// bytes, and at most 100,000 data segments at 12 bytes.
const INSTANCE_BYTES: usize = 4 << 20;

/// How each run's instance is allocated.
///
/// ```
/// use verity_runtime::{Allocation, PoolOptions};
///
/// // The default: a pool sized for this machine.
/// assert!(matches!(Allocation::default(), Allocation::Pooling(_)));
/// // A pool of 8 slots, keeping up to 256 KiB of each memory resident.
/// let pool = Allocation::Pooling(PoolOptions { slots: 8, keep_resident_bytes: 256 << 10 });
/// // No pool: for a process that runs one transaction and exits.
/// let once = Allocation::OnDemand;
/// # let _ = (pool, once);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Allocation {
    /// Instances, memories and tables come from slots reserved when the
    /// runtime is built, and a slot's memory is reset in place when a run
    /// ends. Instantiation costs no system call in the steady state.
    Pooling(PoolOptions),
    /// Each instance maps fresh memory and unmaps it afterwards: nothing is
    /// reserved up front, every run pays a few system calls and page faults.
    OnDemand,
}

impl Default for Allocation {
    fn default() -> Self {
        Allocation::Pooling(PoolOptions::default())
    }
}

/// Sizing of the instance pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolOptions {
    /// Transactions that may run at the same time; more callers wait. Each
    /// is given an instance slot for every frame it may open (its own and
    /// the profile's `max_call_depth` callees'), and each instance slot
    /// reserves (but does not commit) about 4 GiB of address space for its
    /// memory, so that compiled code needs no bounds checks.
    pub slots: u32,
    /// Per slot, how many bytes of the pages a run wrote are reset in place
    /// (kept resident) rather than returned to the OS. Resetting in place
    /// saves the page faults of the next run; it is used only where the OS
    /// can report which pages were written (Linux 6.7+, `PAGEMAP_SCAN`),
    /// and is 0 elsewhere.
    pub keep_resident_bytes: usize,
}

impl PoolOptions {
    /// Default bytes kept resident per slot: 16 MiB, the default profile's
    /// whole memory. A page a run wrote is then reset in place (about
    /// 0.14-0.27 µs per 4 KiB) instead of being returned to the OS and
    /// faulted in again by the next run (1.2-2.8 µs per 4 KiB): the page
    /// prices in docs/costs.md ("What a page costs") assume it, measured by
    /// `examples/page_cost`. A slot's memory stays resident once written,
    /// so the pool holds at most `slots` x 16 MiB; a smaller value trades
    /// that for page faults.
    pub const DEFAULT_KEEP_RESIDENT_BYTES: usize = 16 << 20;

    /// Default slots: four per available core, between 8 and 256.
    pub fn default_slots() -> u32 {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        (cores.saturating_mul(4)).clamp(8, 256) as u32
    }
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            slots: PoolOptions::default_slots(),
            keep_resident_bytes: PoolOptions::DEFAULT_KEEP_RESIDENT_BYTES,
        }
    }
}

/// Applies `allocation` to `config`, sized for `limits`. Returns the gate
/// that admits runs (none for on-demand allocation, which has no bound).
pub(crate) fn configure(
    config: &mut wasmtime::Config,
    allocation: &Allocation,
    limits: &Limits,
) -> Option<Gate> {
    let Allocation::Pooling(options) = allocation else {
        return None;
    };
    // A transaction is admitted with a slot for every frame it may open
    // (its own and `max_call_depth` callees'), so a call never waits for
    // a slot and two transactions can never wait for each other's
    // (docs/calls.md, "Pool admission").
    let slots = options.slots.max(1);
    let frames = limits.max_call_depth.saturating_add(1);
    let instances = slots.saturating_mul(frames);
    let pagemap = PoolingAllocationConfig::is_pagemap_scan_available();
    let mut pool = PoolingAllocationConfig::new();
    pool.total_core_instances(instances)
        .total_memories(instances)
        .total_tables(instances.saturating_mul(limits.max_tables.max(1)))
        .total_component_instances(0)
        .max_core_instance_size(INSTANCE_BYTES)
        .max_memories_per_module(1)
        .max_tables_per_module(limits.max_tables.max(1))
        .max_memory_size(limits.max_memory_pages as usize * WASM_PAGE_BYTES as usize)
        .table_elements(limits.max_table_elements as usize)
        .pagemap_scan(if pagemap { Enabled::Yes } else { Enabled::No });
    // Without PAGEMAP_SCAN "keep resident" means memset the lowest bytes of
    // every memory, written or not: for Rust contracts, whose shadow stack
    // fills the first MiB from the top down, that is all cost and no gain.
    let keep = if pagemap {
        options.keep_resident_bytes
    } else {
        0
    };
    pool.linear_memory_keep_resident(keep)
        .table_keep_resident(keep);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Some(Gate::new(slots))
}

/// A counting semaphore over the pool's slots: a run holds a [`Permit`]
/// from before it instantiates until its store is dropped.
pub(crate) struct Gate {
    slots: Mutex<Slots>,
    freed: Condvar,
}

struct Slots {
    free: u32,
    /// Callers blocked in `acquire`: a release wakes one only if there is
    /// one, so the uncontended path makes no system call.
    waiting: u32,
}

impl Gate {
    fn new(slots: u32) -> Self {
        Gate {
            slots: Mutex::new(Slots {
                free: slots,
                waiting: 0,
            }),
            freed: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slots> {
        // The counters are updated in single steps, so a panic elsewhere
        // cannot leave them inconsistent: a poisoned lock is usable.
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for a free slot and takes it.
    pub(crate) fn acquire(&self) -> Permit<'_> {
        let mut slots = self.lock();
        if slots.free == 0 {
            slots.waiting += 1;
            while slots.free == 0 {
                slots = self.freed.wait(slots).unwrap_or_else(|p| p.into_inner());
            }
            slots.waiting -= 1;
        }
        slots.free -= 1;
        Permit { gate: self }
    }
}

/// A slot taken from a [`Gate`], given back on drop.
pub(crate) struct Permit<'a> {
    gate: &'a Gate,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut slots = self.gate.lock();
        slots.free += 1;
        let wake = slots.waiting > 0;
        drop(slots);
        if wake {
            self.gate.freed.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// As many runs as slots are admitted at once, without waiting, and
    /// the next one waits until a slot is freed (no timing involved: the
    /// waiter is seen queued before a permit is dropped).
    #[test]
    fn gate_admits_its_slots_at_once_and_queues_the_next() {
        let gate = Arc::new(Gate::new(3));
        let held: Vec<_> = (0..3).map(|_| gate.acquire()).collect();
        assert_eq!(gate.lock().free, 0);
        let queued = gate.clone();
        let waiter = std::thread::spawn(move || drop(queued.acquire()));
        while gate.lock().waiting == 0 {
            std::thread::yield_now();
        }
        assert!(!waiter.is_finished(), "admitted past its slots");
        drop(held);
        waiter.join().unwrap();
        let slots = gate.lock();
        assert_eq!((slots.free, slots.waiting), (3, 0));
    }

    #[test]
    fn gate_never_admits_more_than_its_slots() {
        let gate = Arc::new(Gate::new(3));
        let inside = Arc::new(AtomicU32::new(0));
        let most = Arc::new(AtomicU32::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (gate, inside, most) = (gate.clone(), inside.clone(), most.clone());
                std::thread::spawn(move || {
                    for _ in 0..25 {
                        let _permit = gate.acquire();
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        // Sleeping while holding the slot: without the gate
                        // all eight threads would be inside at once.
                        std::thread::sleep(std::time::Duration::from_millis(1));
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let most = most.load(Ordering::SeqCst);
        assert!(most <= 3, "{most} runs held a slot at once");
        let slots = gate.lock();
        assert_eq!(
            (slots.free, slots.waiting),
            (3, 0),
            "every permit was returned"
        );
    }
}
