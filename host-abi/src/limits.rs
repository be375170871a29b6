//! Size and count limits: part of every determinism profile.

/// Bytes in a WebAssembly page, the unit of `memory.grow` and of
/// `max_memory_pages`.
pub const WASM_PAGE_BYTES: u32 = 64 * 1024;

macro_rules! limits {
    ($( $(#[$doc:meta])* $field:ident: $ty:ty = $default:expr, )*) => {
        /// Every limit a module or a run is held to.
        ///
        /// Module limits are checked before compilation (a module over one is
        /// `rejected`); run limits are checked by the host functions (a guest
        /// over one is `trapped` with a named [`TrapKind`](crate::TrapKind));
        /// transaction limits are checked before the run (a transaction over
        /// one is `rejected`).
        ///
        /// Generated, with [`Limits::DEFAULT`], [`Limits::entries`] and
        /// [`Limits::set`], from one table in `host-abi/src/limits.rs`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct Limits {
            $( $(#[$doc])* pub $field: $ty, )*
        }

        impl Limits {
            /// The default profile's limits.
            pub const DEFAULT: Limits = Limits { $( $field: $default, )* };

            /// How many limits there are.
            pub const COUNT: usize = [$(stringify!($field)),*].len();

            /// Every limit as `(name, value)`, in declaration order: the
            /// form the profile hashes and the docs list.
            pub fn entries(&self) -> [(&'static str, u64); Self::COUNT] {
                [$( (stringify!($field), u64::from(self.$field)), )*]
            }

            /// Sets the limit called `name`; `false` if there is no such
            /// limit or `value` does not fit its type.
            ///
            /// ```
            /// use verity_host_abi::Limits;
            /// let mut l = Limits::DEFAULT;
            /// assert!(l.set("max_events", 3));
            /// assert_eq!(l.max_events, 3);
            /// assert!(!l.set("max_colours", 3));
            /// ```
            pub fn set(&mut self, name: &str, value: u64) -> bool {
                match name {
                    $( stringify!($field) => match <$ty>::try_from(value) {
                        Ok(v) => {
                            self.$field = v;
                            true
                        }
                        Err(_) => false,
                    }, )*
                    _ => false,
                }
            }
        }

        impl Default for Limits {
            fn default() -> Self {
                Self::DEFAULT
            }
        }
    };
}

limits! {
    /// Module: size of the module binary in bytes.
    max_module_bytes: u32 = 2 << 20,
    /// Module and run: linear memory pages (64 KiB each), initial and grown.
    max_memory_pages: u32 = 256,
    /// Module: number of tables.
    max_tables: u32 = 1,
    /// Module and run: elements per table, initial and grown.
    max_table_elements: u32 = 10_000,
    /// Module: defined plus imported functions.
    max_functions: u32 = 10_000,
    /// Module: locals (including parameters) of one function.
    max_locals_per_function: u32 = 4_096,
    /// Module: body size in bytes of one function.
    max_function_body_bytes: u32 = 512 << 10,
    /// Module: globals.
    max_globals: u32 = 1_024,
    /// Module: exports.
    max_exports: u32 = 1_024,
    /// Module: total bytes of all data segments.
    max_data_bytes: u32 = 1 << 20,
    /// Module: element segment entries, summed over all segments.
    max_element_entries: u32 = 10_000,
    /// Transaction: entry point name in bytes.
    max_entry_bytes: u32 = 256,
    /// Transaction: input bytes.
    max_input_bytes: u32 = 64 << 10,
    /// Transaction: sender bytes.
    max_sender_bytes: u32 = 256,
    /// Transaction: context blob bytes.
    max_context_bytes: u32 = 4 << 10,
    /// Transaction: chain id bytes (UTF-8).
    max_chain_id_bytes: u32 = 64,
    /// Transaction: the largest fuel limit a transaction may ask for.
    max_fuel: u64 = 400_000_000,
    /// Run: output bytes.
    max_output_bytes: u32 = 64 << 10,
    /// Run: storage key bytes.
    max_key_bytes: u32 = 256,
    /// Run: storage value bytes.
    max_value_bytes: u32 = 64 << 10,
    /// Run: event topic bytes.
    max_topic_bytes: u32 = 256,
    /// Run: event data bytes.
    max_event_data_bytes: u32 = 8 << 10,
    /// Run: events per run.
    max_events: u32 = 256,
    /// Run: total key and value bytes of the write set.
    max_write_set_bytes: u32 = 1 << 20,
    /// Run: bytes of an abort message kept in the receipt (longer ones are cut).
    max_abort_message_bytes: u32 = 1 << 10,
    /// Run: bytes of debug log lines the host keeps (later lines are
    /// dropped, still charged; logs are not in the receipt).
    max_log_bytes: u32 = 64 << 10,
    /// Run: logical call stack, in slots (docs/costs.md): every active call
    /// of a wasm function holds its parameters, locals, maximum operand stack
    /// height and a fixed overhead. A call past it traps `stack_overflow`.
    max_stack_slots: u32 = 32 << 10,
    /// Module: bytes of the instrumented module (what the compiler gets).
    max_instrumented_bytes: u32 = 8 << 20,
    /// Module: bytes of one instrumented function body.
    max_instrumented_function_bytes: u32 = 2 << 20,
    /// Run: distinct keys the read set may hold.
    max_read_keys: u32 = 4_096,
    /// Run: key and value bytes the read set may hold (the read that
    /// crosses it is recorded, then the run traps).
    max_read_bytes: u32 = 4 << 20,
    /// Run: frames of contracts called by contracts above the
    /// transaction's own (docs/calls.md). A call past it is refused.
    max_call_depth: u32 = 8,
    /// Transaction: how many blocks past the current height a signed
    /// transaction may stay valid (docs/auth.md): its nonce is kept that
    /// long, so this bounds how long replay protection must remember it.
    max_validity_blocks: u64 = 100_000,
    /// Transaction: 1 if a sender the embedder asserts (a non-empty
    /// sender, not signed) is admitted, for an embedder that authenticates
    /// senders itself; 0 if only signed senders and anonymous transactions
    /// (an empty sender, which claims nobody) are (docs/auth.md).
    admit_asserted: u32 = 0,
}
