//! The fuel cost schedule: host calls and wasm operators.
//!
//! A host call costs `base + per_unit * bytes` fuel, where `bytes` is the
//! count named for that function in [`for_each_host_fn!`](crate::for_each_host_fn).
//! The base is charged before the call does anything; the per-byte part is
//! charged before any byte is copied, hashed or stored. When the remaining
//! fuel does not cover a charge the run ends with status `out_of_fuel`.
//!
//! The `wasm_*` classes price the module's own instructions (the runtime's
//! instrumentation charges them, docs/costs.md): `base` per instruction of
//! the class, and `per_unit` per unit the instruction touches: bytes for
//! bulk memory operations, elements for table operations, 64 KiB pages for
//! `memory.grow` and for a memory's initial pages. The values come from the
//! calibration in docs/costs.md (`verity-bench --only adversarial`).

/// The cost of one class of host call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cost {
    /// Charged once per call.
    pub base: u64,
    /// Charged per byte of the call's byte count.
    pub per_unit: u64,
}

impl Cost {
    /// Fuel for a call that touches `bytes` bytes, saturating at `u64::MAX`.
    ///
    /// ```
    /// use verity_host_abi::Cost;
    /// assert_eq!(Cost { base: 10, per_unit: 2 }.total(5), 20);
    /// ```
    pub const fn total(self, bytes: u64) -> u64 {
        self.base
            .saturating_add(self.per_unit.saturating_mul(bytes))
    }
}

macro_rules! cost_schedule {
    ($( $(#[$doc:meta])* $field:ident = ($base:expr, $per_unit:expr), )*) => {
        /// Names one entry of the [`CostSchedule`].
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum CostClass {
            $( $(#[$doc])* $field, )*
        }

        impl CostClass {
            /// Every cost class, in schedule order.
            pub const ALL: &'static [CostClass] = &[$(CostClass::$field),*];

            /// The class's name, as it appears in the profile and in docs/costs.md.
            pub const fn name(self) -> &'static str {
                match self { $(CostClass::$field => stringify!($field),)* }
            }
        }

        /// Fuel charged by host calls, one [`Cost`] per [`CostClass`].
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct CostSchedule {
            $( $(#[$doc])* pub $field: Cost, )*
            /// Loads and stores: a price per access that depends on the
            /// memory's current size (docs/costs.md, "Loads and stores").
            pub memory_access: AccessPrices,
        }

        impl CostSchedule {
            /// The cost of one class.
            pub const fn get(&self, class: CostClass) -> Cost {
                match class { $(CostClass::$field => self.$field,)* }
            }

            /// The cost of one class, to change it (a profile with another
            /// schedule).
            ///
            /// ```
            /// use verity_host_abi::{CostClass, CostSchedule};
            /// let mut s = CostSchedule::default();
            /// s.get_mut(CostClass::sha256).per_unit = 3;
            /// assert_eq!(s.sha256.per_unit, 3);
            /// ```
            pub fn get_mut(&mut self, class: CostClass) -> &mut Cost {
                match class { $(CostClass::$field => &mut self.$field,)* }
            }
        }

        impl Default for CostSchedule {
            fn default() -> Self {
                Self {
                    $( $field: Cost { base: $base, per_unit: $per_unit }, )*
                    memory_access: AccessPrices::default(),
                }
            }
        }
    };
}

cost_schedule! {
    /// Reading the input, sender or context, and their lengths.
    context = (20, 1),
    /// Setting the output.
    output = (50, 1),
    /// A storage read (key and value bytes).
    storage_read = (1_000, 2),
    /// A storage write (key and value bytes).
    storage_write = (2_000, 5),
    /// A storage removal (key bytes).
    storage_remove = (1_000, 2),
    /// Emitting an event (topic and data bytes).
    event = (500, 2),
    /// Aborting with a message.
    abort = (50, 1),
    /// SHA-256 of a guest buffer.
    sha256 = (200, 1),
    /// Keccak-256 of a guest buffer.
    keccak256 = (600, 4),
    /// An Ed25519 signature check (per message byte).
    ed25519_verify = (50_000, 3),
    /// A secp256k1 ECDSA signature check of a 32-byte digest.
    secp256k1_verify = (130_000, 0),
    /// Recovering a secp256k1 public key from a signature and digest.
    secp256k1_recover = (290_000, 0),
    /// A secp256r1 (P-256) ECDSA signature check of a 32-byte digest.
    p256_verify = (350_000, 0),
    /// A call of another contract (docs/calls.md): the frame, its
    /// savepoint and the callee's resolution, per call, and per byte of
    /// the entry name and the input copied. The callee's instance and
    /// pages are charged as `wasm_instance`, its own work as it runs.
    call = (5_000, 1),
    /// Scheduling a code change of the running contract: the record's
    /// read and rewrite, per request, and per byte of the stored code
    /// whose presence is checked.
    update_code = (10_000, 1),
    /// Every wasm instruction not in a class below (`block`, `loop`,
    /// `end`, `else` and `nop` are free; loads and stores are priced by
    /// [`CostSchedule::memory_access`]).
    wasm_op = (1, 0),
    /// `f32`/`f64` division and square root.
    wasm_float_slow = (4, 0),
    /// `memory.fill`, `memory.copy`, `memory.init`: per call and per byte.
    wasm_memory_bulk = (128, 1),
    /// `table.fill`, `table.copy`, `table.init`: per call and per element.
    wasm_table_bulk = (16, 1),
    /// `memory.grow`: per call, and per 64 KiB page asked for (granted or
    /// not): what touching every byte of a page and resetting it costs the
    /// host (docs/costs.md, "What a page costs").
    wasm_memory_grow = (32, 2_048),
    /// `table.grow`: per call and per element asked for.
    wasm_table_grow = (16, 1),
    /// `elem.drop` and `data.drop`.
    wasm_segment_drop = (8, 0),
    /// An instance, charged before the entry point runs: per instance
    /// (taking a pool slot, instantiating, resetting the slot) and per
    /// 64 KiB page of its memory's initial size, as for `memory.grow`.
    wasm_instance = (1_024, 2_048),
    /// Loading the module of a stored contract a frame runs (a call's
    /// target, a callee, a migration), charged before its instance: per
    /// frame, and per byte of the instrumented module. What reading its
    /// artifact from the node's cache and linking it cost, whether or not
    /// a cache in memory already held it: a node never compiles a stored
    /// module at a call (docs/calls.md, "Cold callees").
    wasm_load = (40_000, 3),
    /// Preparing (validating, instrumenting and compiling) the module a
    /// deploy or a one-shot run brings, charged before anything runs: per
    /// transaction, and per byte of the instrumented module. Calibrated on
    /// the compile bombs (docs/costs.md, "Preparing a module is charged").
    wasm_prepare = (400_000, 352),
}

/// One tier of [`AccessPrices`]: the price of a load or store while the
/// memory has at most `up_to_pages` 64 KiB pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AccessTier {
    /// The largest memory size, in 64 KiB pages, this tier covers.
    pub up_to_pages: u32,
    /// Fuel per load or store.
    pub price: u64,
}

/// The price of a load or store by the memory's current size: a small
/// memory's working set stays in the caches, a large one's need not, so
/// the price rises with the size (docs/costs.md, "Loads and stores"). The
/// size is a deterministic property of the run: the initial size, then
/// whatever `memory.grow` made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AccessPrices {
    /// Tiers by increasing `up_to_pages`; a memory larger than the last
    /// tier pays the last tier's price.
    pub tiers: [AccessTier; 6],
}

impl AccessPrices {
    /// The largest price a tier charges: a larger one counts as this, so
    /// that a basic block's accesses (fewer than 2^32) times the price fit
    /// the fuel counter's i64.
    pub const MAX_PRICE: u64 = 1 << 31;

    /// The price of one access in a memory of `pages` pages (at most
    /// [`MAX_PRICE`](Self::MAX_PRICE)).
    ///
    /// ```
    /// use verity_host_abi::AccessPrices;
    /// let prices = AccessPrices::default();
    /// assert_eq!(prices.price(3), 1);
    /// assert_eq!(prices.price(256), prices.tiers[5].price);
    /// assert!(prices.price(17) > prices.price(16));
    /// ```
    pub fn price(&self, pages: u64) -> u64 {
        self.tiers
            .iter()
            .find(|t| pages <= u64::from(t.up_to_pages))
            .unwrap_or(&self.tiers[self.tiers.len() - 1])
            .price
            .min(Self::MAX_PRICE)
    }
}

impl Default for AccessPrices {
    fn default() -> Self {
        let tier = |up_to_pages, price| AccessTier { up_to_pages, price };
        AccessPrices {
            tiers: [
                tier(4, 1),
                tier(16, 2),
                tier(32, 8),
                tier(64, 20),
                tier(128, 40),
                tier(256, 48),
            ],
        }
    }
}
