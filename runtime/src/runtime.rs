//! The runtime: the front of the embeddable host. Building it
//! (`builder.rs`), its modules (`module_store.rs`), running a transaction
//! (`execution.rs`) and verifying one (`verify.rs`) live beside it.

use std::sync::Arc;

use verity_host_abi::{Hash32, Receipt};

use crate::artifact::{CacheStats, WarmReport};
use crate::builder::RuntimeBuilder;
use crate::error::RuntimeError;
use crate::execution::Executed;
use crate::module_store::ModuleStore;
use crate::pool::{Allocation, Gate};
use crate::prepared::PreparedModule;
use crate::profile::{Compiler, Profile};
use crate::resolve::CodeSource;
use crate::state::{StateBackend, StateView};
use crate::transaction::Transaction;
use crate::validate::Rejection;

/// The embeddable host. Build one per profile and share it: it holds one
/// wasmtime `Engine`, its instance pool, and the compiled modules.
///
/// ```
/// use verity_runtime::{MemoryState, Profile, Runtime};
///
/// let runtime = Runtime::new(Profile::default())?;
/// let wasm = wat::parse_str(r#"
///     (module
///       (import "verity" "storage_write" (func $w (param i32 i32 i32 i32)))
///       (memory (export "memory") 1)
///       (data (i32.const 0) "keyvalue")
///       (func (export "run") (call $w (i32.const 0) (i32.const 3) (i32.const 3) (i32.const 5))))
/// "#)?;
/// let mut state = MemoryState::default();
/// let receipt = runtime.execute(&wasm, &verity_runtime::Transaction::new("run"), &state)?;
/// assert_eq!(receipt.status.name(), "success");
/// state.commit(&receipt)?;
/// // The key is in the storage of the module's one-shot contract.
/// let key = verity_runtime::abi::contract::storage_key(&receipt.contract, b"key");
/// assert_eq!(state.value(&key), Some(&b"value"[..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Runtime {
    pub(crate) profile: Profile,
    pub(crate) profile_hash: Hash32,
    pub(crate) allocation: Allocation,
    /// Admits at most as many runs as the pool has slots.
    pub(crate) gate: Option<Gate>,
    pub(crate) modules: ModuleStore,
}

impl Runtime {
    /// Modules kept compiled in memory by default.
    pub const DEFAULT_CACHE_CAPACITY: usize = 256;

    /// A runtime for `profile` with default settings (Cranelift, pooled
    /// instances, no artifact cache).
    pub fn new(profile: Profile) -> Result<Self, RuntimeError> {
        Runtime::builder(profile).build()
    }

    /// A runtime for `profile` compiling with `compiler`. Receipts do not
    /// depend on the choice.
    pub fn with_compiler(profile: Profile, compiler: Compiler) -> Result<Self, RuntimeError> {
        Runtime::builder(profile).compiler(compiler).build()
    }

    /// A builder for a runtime of `profile` with other settings.
    pub fn builder(profile: Profile) -> RuntimeBuilder {
        RuntimeBuilder {
            profile,
            compiler: Compiler::default(),
            allocation: Allocation::default(),
            cache_capacity: Self::DEFAULT_CACHE_CAPACITY,
            artifacts: None,
        }
    }

    /// The profile this runtime runs.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The compiler this runtime uses.
    pub fn compiler(&self) -> Compiler {
        self.modules.compiler
    }

    /// How this runtime allocates instances.
    pub fn allocation(&self) -> &Allocation {
        &self.allocation
    }

    /// The hash of [`Runtime::profile`], committed in every receipt.
    pub fn profile_hash(&self) -> Hash32 {
        self.profile_hash
    }

    /// Counters of the module caches.
    pub fn cache_stats(&self) -> CacheStats {
        self.modules.stats()
    }

    /// Why the on-disk artifact cache last failed to load or write a module
    /// (counted in [`CacheStats::artifact_errors`]), if it ever did. Such a
    /// failure costs a compilation and changes no outcome.
    pub fn artifact_cache_error(&self) -> Option<String> {
        self.modules.artifact_error()
    }

    /// Validates and compiles `code` (wasm binary), or returns the cached
    /// result for the same code hash. Nodes prepare a module once, when it
    /// is deployed, and run it with [`Runtime::execute_prepared`].
    pub fn prepare(&self, code: &[u8]) -> Result<Arc<PreparedModule>, Rejection> {
        self.prepare_hashed(code, self.code_hash(code))
    }

    /// Readies every module in `codes` so that calling it compiles
    /// nothing: each one's artifact is loaded from the artifact cache, or
    /// compiled and written if it is missing or unusable. A node runs this
    /// at start-up over every code its state stores
    /// ([`MemoryState::codes`](crate::MemoryState::codes)) before it
    /// executes anything. Fuel cannot depend on what a node has cached, so
    /// a call pays to load its code (`wasm_load`), never to compile it: the
    /// compile was paid by the deploy, and a node that calls a module it
    /// must compile does work no fuel bounds (docs/calls.md, "Cold
    /// callees").
    ///
    /// With no artifact cache, the modules are compiled into memory, which
    /// holds [`RuntimeBuilder::cache_capacity`](crate::RuntimeBuilder::cache_capacity)
    /// of them; the rest are counted in [`WarmReport::unready`]. Loaded
    /// artifacts are not kept in memory, so warming does not evict the
    /// modules in use.
    pub fn warm<'a>(&self, codes: impl IntoIterator<Item = &'a [u8]>) -> WarmReport {
        use crate::module_store::Warmed;
        let mut report = WarmReport::default();
        let mut in_memory = Vec::new();
        for code in codes {
            let hash = self.code_hash(code);
            match self.modules.warm(&self.profile, code, hash) {
                Warmed::Loaded => report.loaded += 1,
                Warmed::Held => {
                    report.held += 1;
                    in_memory.push(hash);
                }
                Warmed::Compiled { saved } => {
                    report.compiled += 1;
                    if !saved {
                        in_memory.push(hash);
                    }
                }
                Warmed::Rejected => report.rejected += 1,
            }
        }
        // Without an artifact, only the memory cache keeps a module from
        // being compiled again.
        report.unready = in_memory.iter().filter(|h| !self.modules.holds(h)).count() as u64;
        if self.modules.has_artifacts() {
            report.unready = in_memory.len() as u64;
        }
        report
    }

    /// SHA-256 of `code`, found without hashing when the same bytes were
    /// run recently.
    pub(crate) fn code_hash(&self, code: &[u8]) -> Hash32 {
        self.modules.code_hash(code)
    }

    pub(crate) fn prepare_hashed(
        &self,
        code: &[u8],
        code_hash: Hash32,
    ) -> Result<Arc<PreparedModule>, Rejection> {
        self.modules.prepare_hashed(&self.profile, code, code_hash)
    }

    /// Runs `tx` on the module `code` (a wasm binary) against `state`: a
    /// one-shot run, a deploy of `code`, or a call of a contract whose code
    /// is `code`.
    ///
    /// Returns `Ok(receipt)` for every outcome of the guest: success,
    /// reverted, trapped, out of fuel and rejected. The receipt's `writes`
    /// are what to commit; they are empty unless the run succeeded.
    /// Returns `Err` only when the host cannot work (a failing backend), or
    /// for a call, when `code` is not the code the contract runs
    /// ([`RuntimeError::WrongCode`]).
    ///
    /// Every call needs `code`'s hash to find its compiled module: the bytes
    /// of the 16 most recently run modules (up to 1 MiB each) are compared
    /// instead of hashed again, others are hashed. A node that runs a
    /// module many times prepares it once and calls
    /// [`Runtime::execute_prepared`], which needs neither.
    pub fn execute(
        &self,
        code: &[u8],
        tx: &Transaction,
        state: &dyn StateBackend,
    ) -> Result<Receipt, RuntimeError> {
        self.execute_hashed(code, self.code_hash(code), tx, state)
    }

    /// [`Runtime::execute`] for a caller that already knows `code`'s hash.
    pub(crate) fn execute_hashed(
        &self,
        code: &[u8],
        code_hash: Hash32,
        tx: &Transaction,
        state: &dyn StateBackend,
    ) -> Result<Receipt, RuntimeError> {
        self.receipt_of(
            CodeSource::Bytes {
                code,
                hash: code_hash,
            },
            tx,
            state,
        )
    }

    /// [`Runtime::execute`] (with `code`) or [`Runtime::execute_call`]
    /// (without), returning the run's debug log beside the receipt: the
    /// lines the guest wrote with `log`, which are not part of the receipt.
    ///
    /// ```
    /// use verity_runtime::{MemoryState, Profile, Runtime, Transaction};
    ///
    /// let runtime = Runtime::new(Profile::default())?;
    /// let wasm = wat::parse_str(r#"(module
    ///   (import "verity" "log" (func $log (param i32 i32)))
    ///   (memory (export "memory") 1)
    ///   (data (i32.const 0) "hello")
    ///   (func (export "run") (call $log (i32.const 0) (i32.const 5))))"#)?;
    /// let tx = Transaction::new("run");
    /// let run = runtime.execute_debug(Some(&wasm), &tx, &MemoryState::default())?;
    /// assert_eq!(run.logs, ["hello"]);
    /// assert_eq!(run.receipt, runtime.execute(&wasm, &tx, &MemoryState::default())?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn execute_debug(
        &self,
        code: Option<&[u8]>,
        tx: &Transaction,
        state: &dyn StateBackend,
    ) -> Result<Executed, RuntimeError> {
        let source = match code {
            Some(code) => CodeSource::Bytes {
                code,
                hash: self.code_hash(code),
            },
            None => CodeSource::State,
        };
        Ok(self.executed(source, tx, state, false)?.seal_with(state)?)
    }

    /// The first phase of [`Runtime::execute_debug`]: runs `tx` (with
    /// `code`, or without for a call of a contract whose code is in the
    /// state) against the read-only view `state`, computing no state root.
    /// [`Execution::seal`](crate::Execution::seal) makes the receipt. Many
    /// threads may run transactions at once against one view; each run's
    /// writes are in its execution, not in the view.
    ///
    /// ```
    /// use verity_runtime::{MemoryState, Profile, Runtime, Transaction};
    ///
    /// let runtime = Runtime::new(Profile::default())?;
    /// let wasm = wat::parse_str(r#"(module (func (export "run")))"#)?;
    /// let state = MemoryState::default();
    /// let tx = Transaction::new("run");
    /// // Four runs at once against one view.
    /// let runs = std::thread::scope(|s| {
    ///     let handles: Vec<_> = (0..4)
    ///         .map(|_| s.spawn(|| runtime.run(Some(&wasm), &tx, &state)))
    ///         .collect();
    ///     handles.into_iter().map(|h| h.join().unwrap()).collect::<Result<Vec<_>, _>>()
    /// })?;
    /// assert!(runs.iter().all(|r| r == &runs[0]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn run(
        &self,
        code: Option<&[u8]>,
        tx: &Transaction,
        state: &dyn StateView,
    ) -> Result<crate::Execution, RuntimeError> {
        let source = match code {
            Some(code) => CodeSource::Bytes {
                code,
                hash: self.code_hash(code),
            },
            None => CodeSource::State,
        };
        self.executed(source, tx, state, false)
    }

    /// [`Runtime::execute_debug`] with the run's fuel profile
    /// ([`Executed::fuel`]): where its fuel went, by class. The entry runs
    /// twice, in the module every node runs (the receipt) and in one
    /// instrumented to count its fuel by class as well, compiled for this
    /// run (the profile); the two must agree.
    ///
    /// ```
    /// use verity_runtime::{MemoryState, Profile, Runtime, Transaction};
    ///
    /// let runtime = Runtime::new(Profile::default())?;
    /// let wasm = wat::parse_str(r#"(module (func (export "run") (drop (i32.const 1))))"#)?;
    /// let tx = Transaction::new("run");
    /// let run = runtime.execute_profiled(Some(&wasm), &tx, &MemoryState::default())?;
    /// assert_eq!(run.fuel.total(), run.receipt.fuel_used);
    /// assert!(run.fuel.entries.iter().any(|e| e.class == "wasm_op" && e.fuel == 2));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn execute_profiled(
        &self,
        code: Option<&[u8]>,
        tx: &Transaction,
        state: &dyn StateBackend,
    ) -> Result<Executed, RuntimeError> {
        let hash = code.map(|c| self.code_hash(c));
        let source = || match (code, hash) {
            (Some(code), Some(hash)) => CodeSource::Bytes { code, hash },
            _ => CodeSource::State,
        };
        let plain = self
            .executed(source(), tx, state, false)?
            .seal_with(state)?;
        let counted = self.executed(source(), tx, state, true)?.seal_with(state)?;
        if counted.receipt != plain.receipt {
            return Err(RuntimeError::Engine(
                "the run that counted fuel by class gave another receipt".into(),
            ));
        }
        Ok(Executed {
            fuel: counted.fuel,
            ..plain
        })
    }

    /// Runs a call ([`Target::Call`](crate::Target::Call)) with the code
    /// its contract's record names, taken from the compiled modules in
    /// memory or else from `state`: what a node does, which keeps its
    /// contracts' code in its state.
    ///
    /// ```
    /// use verity_runtime::{ContractId, Hash32, MemoryState, Profile, Runtime, Transaction};
    ///
    /// let runtime = Runtime::new(Profile::default())?;
    /// let wasm = wat::parse_str(r#"(module (func (export "ping")))"#)?;
    /// let mut state = MemoryState::default();
    /// let deploy = Transaction::deploy(Hash32::default()); // anonymous
    /// let receipt = runtime.execute(&wasm, &deploy, &state)?;
    /// state.commit(&receipt)?;
    /// let call = Transaction::call(receipt.contract, "ping");
    /// assert!(runtime.execute_call(&call, &state)?.status.is_success());
    /// // No contract there: the receipt says so.
    /// let nobody = runtime.execute_call(&Transaction::call(ContractId([9; 32]), "ping"), &state)?;
    /// assert_eq!(nobody.status.name(), "rejected");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`RuntimeError::CodeNeeded`] for a run or a deploy (they bring their
    /// code); [`RuntimeError::MissingCode`] if the state lacks the code;
    /// otherwise as [`Runtime::execute`].
    pub fn execute_call(
        &self,
        tx: &Transaction,
        state: &dyn StateBackend,
    ) -> Result<Receipt, RuntimeError> {
        self.receipt_of(CodeSource::State, tx, state)
    }

    /// Runs `tx` on a module this runtime prepared: the same receipt as
    /// [`Runtime::execute`] on the module's bytes, without hashing them or
    /// consulting the cache.
    ///
    /// ```
    /// use verity_runtime::{MemoryState, Profile, Runtime, Transaction};
    ///
    /// let runtime = Runtime::new(Profile::default())?;
    /// let wasm = wat::parse_str(r#"(module (func (export "run")))"#)?;
    /// let module = runtime.prepare(&wasm)?;                 // once, at deployment
    /// let tx = Transaction::new("run");
    /// let receipt = runtime.execute_prepared(&module, &tx, &MemoryState::default())?;
    /// assert_eq!(receipt, runtime.execute(&wasm, &tx, &MemoryState::default())?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`RuntimeError::ForeignModule`] if another runtime prepared `module`;
    /// otherwise as [`Runtime::execute`].
    pub fn execute_prepared(
        &self,
        module: &PreparedModule,
        tx: &Transaction,
        state: &dyn StateBackend,
    ) -> Result<Receipt, RuntimeError> {
        if !self.modules.owns(module.pre.module().engine()) {
            return Err(RuntimeError::ForeignModule);
        }
        self.receipt_of(CodeSource::Prepared(module), tx, state)
    }
}
