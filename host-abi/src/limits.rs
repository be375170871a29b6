//! Size and count limits: part of every determinism profile.

/// Every limit a module or a run is held to.
///
/// Module limits are checked before compilation (a module over one is
/// `rejected`); run limits are checked by the host functions (a guest over one
/// is `trapped` with a named [`TrapKind`](crate::TrapKind)); transaction
/// limits are checked before the run (a transaction over one is `rejected`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Module: size of the module binary in bytes.
    pub max_module_bytes: u32,
    /// Module and run: linear memory pages (64 KiB each), initial and grown.
    pub max_memory_pages: u32,
    /// Module: number of tables.
    pub max_tables: u32,
    /// Module and run: elements per table, initial and grown.
    pub max_table_elements: u32,
    /// Module: defined plus imported functions.
    pub max_functions: u32,
    /// Module: locals (including parameters) of one function.
    pub max_locals_per_function: u32,
    /// Module: body size in bytes of one function.
    pub max_function_body_bytes: u32,
    /// Module: globals.
    pub max_globals: u32,
    /// Module: exports.
    pub max_exports: u32,
    /// Module: total bytes of all data segments.
    pub max_data_bytes: u32,
    /// Module: element segment entries, summed over all segments.
    pub max_element_entries: u32,
    /// Transaction: entry point name in bytes.
    pub max_entry_bytes: u32,
    /// Transaction: input bytes.
    pub max_input_bytes: u32,
    /// Transaction: sender bytes.
    pub max_sender_bytes: u32,
    /// Transaction: context blob bytes.
    pub max_context_bytes: u32,
    /// Transaction: the largest fuel limit a transaction may ask for.
    pub max_fuel: u64,
    /// Run: output bytes.
    pub max_output_bytes: u32,
    /// Run: storage key bytes.
    pub max_key_bytes: u32,
    /// Run: storage value bytes.
    pub max_value_bytes: u32,
    /// Run: event topic bytes.
    pub max_topic_bytes: u32,
    /// Run: event data bytes.
    pub max_event_data_bytes: u32,
    /// Run: events per run.
    pub max_events: u32,
    /// Run: total key and value bytes of the write set.
    pub max_write_set_bytes: u32,
    /// Run: bytes of an abort message kept in the receipt (longer ones are cut).
    pub max_abort_message_bytes: u32,
    /// Module: bytes of the instrumented module (what the compiler gets).
    pub max_instrumented_bytes: u32,
    /// Module: bytes of one instrumented function body.
    pub max_instrumented_function_bytes: u32,
    /// Run: distinct keys the read set may hold.
    pub max_read_keys: u32,
    /// Run: key and value bytes the read set may hold (the read that
    /// crosses it is recorded, then the run traps).
    pub max_read_bytes: u32,
    /// Run: logical call stack, in slots (docs/costs.md): every active call
    /// of a wasm function holds its parameters, locals, maximum operand stack
    /// height and a fixed overhead. A call past it traps `stack_overflow`.
    pub max_stack_slots: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_module_bytes: 2 << 20,
            max_memory_pages: 256,
            max_tables: 1,
            max_table_elements: 10_000,
            max_functions: 10_000,
            max_locals_per_function: 4_096,
            max_function_body_bytes: 512 << 10,
            max_globals: 1_024,
            max_exports: 1_024,
            max_data_bytes: 1 << 20,
            max_element_entries: 10_000,
            max_entry_bytes: 256,
            max_input_bytes: 64 << 10,
            max_sender_bytes: 256,
            max_context_bytes: 4 << 10,
            max_fuel: 100_000_000,
            max_output_bytes: 64 << 10,
            max_key_bytes: 256,
            max_value_bytes: 64 << 10,
            max_topic_bytes: 256,
            max_event_data_bytes: 8 << 10,
            max_events: 256,
            max_write_set_bytes: 1 << 20,
            max_abort_message_bytes: 1 << 10,
            max_stack_slots: 32 << 10,
            max_instrumented_bytes: 8 << 20,
            max_instrumented_function_bytes: 2 << 20,
            max_read_keys: 4_096,
            max_read_bytes: 4 << 20,
        }
    }
}

impl Limits {
    /// Every limit as `(name, value)`, in declaration order: the form the
    /// profile hashes and the docs list.
    pub fn entries(&self) -> [(&'static str, u64); 29] {
        [
            ("max_module_bytes", self.max_module_bytes.into()),
            ("max_memory_pages", self.max_memory_pages.into()),
            ("max_tables", self.max_tables.into()),
            ("max_table_elements", self.max_table_elements.into()),
            ("max_functions", self.max_functions.into()),
            (
                "max_locals_per_function",
                self.max_locals_per_function.into(),
            ),
            (
                "max_function_body_bytes",
                self.max_function_body_bytes.into(),
            ),
            ("max_globals", self.max_globals.into()),
            ("max_exports", self.max_exports.into()),
            ("max_data_bytes", self.max_data_bytes.into()),
            ("max_element_entries", self.max_element_entries.into()),
            ("max_entry_bytes", self.max_entry_bytes.into()),
            ("max_input_bytes", self.max_input_bytes.into()),
            ("max_sender_bytes", self.max_sender_bytes.into()),
            ("max_context_bytes", self.max_context_bytes.into()),
            ("max_fuel", self.max_fuel),
            ("max_output_bytes", self.max_output_bytes.into()),
            ("max_key_bytes", self.max_key_bytes.into()),
            ("max_value_bytes", self.max_value_bytes.into()),
            ("max_topic_bytes", self.max_topic_bytes.into()),
            ("max_event_data_bytes", self.max_event_data_bytes.into()),
            ("max_events", self.max_events.into()),
            ("max_write_set_bytes", self.max_write_set_bytes.into()),
            (
                "max_abort_message_bytes",
                self.max_abort_message_bytes.into(),
            ),
            ("max_stack_slots", self.max_stack_slots.into()),
            ("max_instrumented_bytes", self.max_instrumented_bytes.into()),
            (
                "max_instrumented_function_bytes",
                self.max_instrumented_function_bytes.into(),
            ),
            ("max_read_keys", self.max_read_keys.into()),
            ("max_read_bytes", self.max_read_bytes.into()),
        ]
    }
}
