//! A module ready to run: validated, instrumented, compiled and linked, with
//! its entry points and the instrumentation's exports resolved once.

use std::collections::HashMap;

use verity_host_abi::Hash32;
use verity_host_abi::abi::MEMORY_EXPORT;
use wasmtime::{InstancePre, Linker, Module, ModuleExport};

use crate::artifact::Meta;
use crate::host::HostState;
use crate::instrument::{
    ACCESS_GLOBAL, COUNTED_CLASSES, COUNTER_PREFIX, DEPTH_GLOBAL, EXIT_GLOBAL, FUEL_GLOBAL,
};
use crate::profile::Compiler;
use crate::validate::{ModuleInfo, Rejection};
use verity_host_core::TxRejection;

/// An exported `() -> ()` function, resolved once per module.
#[derive(Clone, Copy)]
pub(crate) struct EntryPoint {
    pub(crate) export: ModuleExport,
    /// Stack slots the host's call of the entry takes.
    pub(crate) frame: u32,
}

/// The instrumentation's globals and the memory, resolved once per module.
#[derive(Clone, Copy)]
pub(crate) struct FixedExports {
    pub(crate) fuel: ModuleExport,
    pub(crate) depth: ModuleExport,
    pub(crate) exit: ModuleExport,
    pub(crate) access_price: ModuleExport,
    pub(crate) memory: Option<ModuleExport>,
    /// The fuel counters of a module instrumented to count
    /// ([`instrument_counted`](crate::instrument::instrument_counted)).
    pub(crate) counters: Option<[ModuleExport; COUNTED_CLASSES.len()]>,
}

/// A validated, compiled module, ready to instantiate: what
/// [`Runtime::prepare`](crate::Runtime::prepare) returns and [`Runtime::execute_prepared`](crate::Runtime::execute_prepared) runs.
/// Export names are resolved here once, not on every run.
pub struct PreparedModule {
    pub(crate) code_hash: Hash32,
    pub(crate) compiler: Compiler,
    pub(crate) info: ModuleInfo,
    pub(crate) instrumented_bytes: u64,
    pub(crate) pre: InstancePre<HostState>,
    pub(crate) entries: HashMap<String, EntryPoint>,
    pub(crate) fixed: FixedExports,
}

impl PreparedModule {
    /// SHA-256 of the module binary.
    pub fn code_hash(&self) -> Hash32 {
        self.code_hash
    }

    /// The compiler that compiled it: the runtime's, or Winch for a module
    /// too large for Cranelift to compile in bounded time
    /// ([`CRANELIFT_MAX_INSTRUMENTED_BYTES`](crate::CRANELIFT_MAX_INSTRUMENTED_BYTES)). Receipts do not depend on it.
    pub fn compiler(&self) -> Compiler {
        self.compiler
    }

    /// The size of the module after instrumentation, in bytes.
    pub fn instrumented_bytes(&self) -> u64 {
        self.instrumented_bytes
    }

    /// The fuel a transaction that brings this module (a deploy or a
    /// one-shot run) pays for preparing it: `wasm_prepare` of the
    /// instrumented size. The same on every machine, whether or not a cache
    /// held the module (docs/costs.md).
    ///
    /// ```
    /// use verity_runtime::{Profile, Runtime};
    ///
    /// let profile = Profile::default();
    /// let runtime = Runtime::new(profile.clone())?;
    /// let module = runtime.prepare(&wat::parse_str("(module)")?)?;
    /// let cost = profile.costs.wasm_prepare;
    /// assert_eq!(
    ///     module.preparation_fuel(&profile.costs),
    ///     cost.base + cost.per_unit * module.instrumented_bytes()
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn preparation_fuel(&self, costs: &verity_host_abi::CostSchedule) -> u64 {
        costs.wasm_prepare.total(self.instrumented_bytes)
    }

    /// The fuel a frame running this module as a stored contract is
    /// charged to load it (`wasm_load` per byte of the instrumented module),
    /// the same whatever the node's caches hold.
    ///
    /// ```
    /// use verity_runtime::{Profile, Runtime};
    ///
    /// let profile = Profile::default();
    /// let runtime = Runtime::new(profile.clone())?;
    /// let module = runtime.prepare(&wat::parse_str("(module)")?)?;
    /// let cost = profile.costs.wasm_load;
    /// assert_eq!(
    ///     module.load_fuel(&profile.costs),
    ///     cost.base + cost.per_unit * module.instrumented_bytes()
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load_fuel(&self, costs: &verity_host_abi::CostSchedule) -> u64 {
        costs.wasm_load.total(self.instrumented_bytes)
    }

    /// What validation learned about the module.
    pub fn info(&self) -> &ModuleInfo {
        &self.info
    }

    pub(crate) fn new(
        code_hash: Hash32,
        compiler: Compiler,
        module: &Module,
        linker: &Linker<HostState>,
        meta: Meta,
    ) -> Result<PreparedModule, Rejection> {
        let compile = || Rejection::Compile {
            stage: "instrumentation",
        };
        let export = |name: &str| module.get_export_index(name).ok_or_else(compile);
        let fixed = FixedExports {
            fuel: export(FUEL_GLOBAL)?,
            depth: export(DEPTH_GLOBAL)?,
            exit: export(EXIT_GLOBAL)?,
            access_price: export(ACCESS_GLOBAL)?,
            memory: module.get_export_index(MEMORY_EXPORT),
            counters: COUNTED_CLASSES
                .iter()
                .map(|name| module.get_export_index(&format!("{COUNTER_PREFIX}{name}")))
                .collect::<Option<Vec<_>>>()
                .and_then(|v| v.try_into().ok()),
        };
        let mut entries = HashMap::new();
        for (name, sig) in &meta.info.exported_functions {
            if sig.is_entry() {
                let entry = EntryPoint {
                    export: export(name)?,
                    frame: meta.export_frames.get(name).copied().unwrap_or(0),
                };
                entries.insert(name.clone(), entry);
            }
        }
        let pre = linker
            .instantiate_pre(module)
            .map_err(|_| Rejection::Compile { stage: "linking" })?;
        Ok(PreparedModule {
            code_hash,
            compiler,
            info: meta.info,
            instrumented_bytes: meta.instrumented_bytes,
            pre,
            entries,
            fixed,
        })
    }

    /// The entry point `name`, or why the transaction is rejected.
    pub(crate) fn entry(&self, name: &str) -> Result<EntryPoint, Rejection> {
        match self.entries.get(name) {
            Some(entry) => Ok(*entry),
            // Not a `() -> ()` export: validation's answer names the reason.
            None => Err(self
                .info
                .check_entry(name)
                .err()
                .unwrap_or_else(|| TxRejection::MissingEntry(name.to_string()).into())),
        }
    }
}
