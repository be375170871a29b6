//! The runtime: one engine, one linker, the module caches, and `execute`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use verity_host_abi::abi::MEMORY_EXPORT;
use verity_host_abi::receipt::FORMAT_VERSION;
use verity_host_abi::{Hash32, Receipt, Status, TrapKind};
use wasmtime::{Engine, Extern, Instance, InstancePre, Linker, Module, ModuleExport, Store, Val};

use crate::artifact::{ArtifactCache, CacheStats, Counters, LoadError, Meta};
use crate::host::{self, HostExit, HostState};
use crate::instrument::{
    self, DEPTH_GLOBAL, EXIT_GLOBAL, EXIT_OUT_OF_FUEL, EXIT_STACK_OVERFLOW, FUEL_GLOBAL,
};
use crate::pool::{self, Allocation, Gate};
use crate::profile::{Compiler, Profile};
use crate::recent_code::RecentCode;
use crate::state::{Overlay, StateBackend};
use crate::transaction::Transaction;
use crate::validate::{ModuleInfo, Rejection, validate};

/// A failure of the host itself: the transaction has no outcome. Every
/// outcome of the guest, including rejection, is an `Ok(Receipt)` instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// wasmtime could not be configured or failed outside the guest's control.
    #[error("engine error: {0}")]
    Engine(String),
    /// The state backend failed.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    /// A [`PreparedModule`] was passed to a runtime other than the one that
    /// prepared it.
    #[error("the prepared module belongs to another runtime")]
    ForeignModule,
    /// The on-disk artifact cache directory could not be opened.
    #[error("artifact cache: {0}")]
    ArtifactCache(#[source] std::io::Error),
}

impl RuntimeError {
    fn engine(e: impl std::fmt::Display) -> Self {
        RuntimeError::Engine(e.to_string())
    }
}

/// An exported `() -> ()` function, resolved once per module.
#[derive(Clone, Copy)]
struct EntryPoint {
    export: ModuleExport,
    /// Stack slots the host's call of the entry takes.
    frame: u32,
}

/// The instrumentation's globals and the memory, resolved once per module.
#[derive(Clone, Copy)]
struct FixedExports {
    fuel: ModuleExport,
    depth: ModuleExport,
    exit: ModuleExport,
    memory: Option<ModuleExport>,
}

/// A validated, compiled module, ready to instantiate: what
/// [`Runtime::prepare`] returns and [`Runtime::execute_prepared`] runs.
/// Export names are resolved here once, not on every run.
pub struct PreparedModule {
    code_hash: Hash32,
    compiler: Compiler,
    info: ModuleInfo,
    pre: InstancePre<HostState>,
    entries: HashMap<String, EntryPoint>,
    fixed: FixedExports,
}

impl PreparedModule {
    /// SHA-256 of the module binary.
    pub fn code_hash(&self) -> Hash32 {
        self.code_hash
    }

    /// The compiler that compiled it: the runtime's, or Winch for a module
    /// too large for Cranelift to compile in bounded time
    /// ([`CRANELIFT_MAX_INSTRUMENTED_BYTES`]). Receipts do not depend on it.
    pub fn compiler(&self) -> Compiler {
        self.compiler
    }

    /// What validation learned about the module.
    pub fn info(&self) -> &ModuleInfo {
        &self.info
    }

    fn new(
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
            memory: module.get_export_index(MEMORY_EXPORT),
        };
        let mut entries = HashMap::new();
        for (name, sig) in &meta.info.exported_functions {
            if sig == "() -> ()" {
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
            pre,
            entries,
            fixed,
        })
    }

    /// The entry point `name`, or why the transaction is rejected.
    fn entry(&self, name: &str) -> Result<EntryPoint, Rejection> {
        match self.entries.get(name) {
            Some(entry) => Ok(*entry),
            // Not a `() -> ()` export: validation's answer names the reason.
            None => Err(self
                .info
                .check_entry(name)
                .err()
                .unwrap_or_else(|| Rejection::MissingEntry(name.to_string()))),
        }
    }
}

/// Compiled modules (and rejections) by code hash, evicting the oldest
/// entry past `capacity`. Eviction only costs a recompilation, never changes
/// an outcome.
struct ModuleCache {
    capacity: usize,
    entries: HashMap<Hash32, Result<Arc<PreparedModule>, Rejection>>,
    order: VecDeque<Hash32>,
}

impl ModuleCache {
    fn insert(&mut self, hash: Hash32, value: Result<Arc<PreparedModule>, Rejection>) {
        if self.entries.insert(hash, value).is_none() {
            self.order.push_back(hash);
        }
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.entries.remove(&old);
            }
        }
    }
}

/// Builds a [`Runtime`] with settings that change its speed, never its
/// receipts: the compiler, instance allocation, the in-memory module cache
/// and an on-disk artifact cache.
///
/// ```
/// use verity_runtime::{Allocation, Compiler, Profile, Runtime};
///
/// let dir = tempfile::tempdir()?;
/// let runtime = Runtime::builder(Profile::default())
///     .compiler(Compiler::Cranelift)
///     .allocation(Allocation::default())
///     .artifact_cache_path(dir.path())?
///     .build()?;
/// # let _ = runtime;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RuntimeBuilder {
    profile: Profile,
    compiler: Compiler,
    allocation: Allocation,
    cache_capacity: usize,
    artifacts: Option<cap_std::fs::Dir>,
}

impl RuntimeBuilder {
    /// The compiler (default Cranelift).
    pub fn compiler(mut self, compiler: Compiler) -> Self {
        self.compiler = compiler;
        self
    }

    /// How instances are allocated (default: a pool sized for this machine).
    pub fn allocation(mut self, allocation: Allocation) -> Self {
        self.allocation = allocation;
        self
    }

    /// Modules kept compiled in memory (default
    /// [`Runtime::DEFAULT_CACHE_CAPACITY`]).
    pub fn cache_capacity(mut self, capacity: usize) -> Self {
        self.cache_capacity = capacity.max(1);
        self
    }

    /// Keeps compiled modules in `dir` across processes (see
    /// [`CacheStats`]). The directory must be writable only by this host.
    pub fn artifact_cache(mut self, dir: cap_std::fs::Dir) -> Self {
        self.artifacts = Some(dir);
        self
    }

    /// Like [`RuntimeBuilder::artifact_cache`], creating `path` if needed.
    pub fn artifact_cache_path(
        self,
        path: impl AsRef<std::path::Path>,
    ) -> Result<Self, RuntimeError> {
        let path = path.as_ref();
        std::fs::create_dir_all(path).map_err(RuntimeError::ArtifactCache)?;
        let dir = cap_std::fs::Dir::open_ambient_dir(path, cap_std::ambient_authority())
            .map_err(RuntimeError::ArtifactCache)?;
        Ok(self.artifact_cache(dir))
    }

    /// Builds the engine (reserving the instance pool) and the linker.
    pub fn build(self) -> Result<Runtime, RuntimeError> {
        let mut config = self.profile.wasmtime_config(self.compiler);
        let gate = pool::configure(&mut config, &self.allocation, &self.profile.limits);
        let engine = Engine::new(&config).map_err(RuntimeError::engine)?;
        let mut linker = Linker::new(&engine);
        host::link(&mut linker).map_err(RuntimeError::engine)?;
        let profile_hash = self.profile.hash();
        let artifacts = self
            .artifacts
            .map(|dir| ArtifactCache::new(dir, &engine, profile_hash, self.compiler));
        Ok(Runtime {
            profile_hash,
            profile: self.profile,
            compiler: self.compiler,
            allocation: self.allocation,
            engine,
            linker,
            gate,
            cache: Mutex::new(ModuleCache {
                capacity: self.cache_capacity,
                entries: HashMap::new(),
                order: VecDeque::new(),
            }),
            recent_code: RecentCode::default(),
            artifacts,
            counters: Counters::default(),
            artifact_error: Mutex::new(None),
            large: std::sync::OnceLock::new(),
        })
    }
}

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
/// state.commit(&receipt);
/// assert_eq!(state.iter().next(), Some((&b"key"[..], &b"value"[..])));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Runtime {
    profile: Profile,
    profile_hash: Hash32,
    compiler: Compiler,
    allocation: Allocation,
    engine: Engine,
    linker: Linker<HostState>,
    /// Admits at most as many runs as the pool has slots.
    gate: Option<Gate>,
    cache: Mutex<ModuleCache>,
    recent_code: RecentCode,
    artifacts: Option<ArtifactCache>,
    counters: Counters,
    /// Why the artifact cache last failed to load or store a module.
    artifact_error: Mutex<Option<String>>,
    /// Winch, for modules too large for Cranelift (made on first use).
    large: std::sync::OnceLock<Option<LargeTier>>,
}

/// A second engine and linker, for modules compiled by Winch because they
/// are too large for Cranelift.
struct LargeTier {
    engine: Engine,
    linker: Linker<HostState>,
}

/// Instrumented modules larger than this are compiled by Winch even when
/// the runtime's compiler is Cranelift: Cranelift takes about 1.2 µs per
/// instrumented byte of branch-dense code (about 0.6 s at this size),
/// Winch 0.05 µs (docs/costs.md, `examples/compile_cost.rs`). Not part of
/// the profile: receipts do not depend on the compiler.
pub const CRANELIFT_MAX_INSTRUMENTED_BYTES: usize = 512 << 10;

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
        self.compiler
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
        self.counters.snapshot()
    }

    /// Why the on-disk artifact cache last failed to load or write a module
    /// (counted in [`CacheStats::artifact_errors`]), if it ever did. Such a
    /// failure costs a compilation and changes no outcome.
    pub fn artifact_cache_error(&self) -> Option<String> {
        self.artifact_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn artifact_failed(&self, why: String) {
        Counters::bump(&self.counters.artifact_errors);
        *self
            .artifact_error
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(why);
    }

    /// Validates and compiles `code` (wasm binary), or returns the cached
    /// result for the same code hash. Nodes prepare a module once, when it
    /// is deployed, and run it with [`Runtime::execute_prepared`].
    pub fn prepare(&self, code: &[u8]) -> Result<Arc<PreparedModule>, Rejection> {
        let code_hash = self.code_hash(code);
        self.prepare_hashed(code, code_hash)
    }

    /// SHA-256 of `code`, found without hashing when the same bytes were
    /// run recently.
    pub(crate) fn code_hash(&self, code: &[u8]) -> Hash32 {
        self.recent_code.hash(code)
    }

    fn prepare_hashed(
        &self,
        code: &[u8],
        code_hash: Hash32,
    ) -> Result<Arc<PreparedModule>, Rejection> {
        if let Some(hit) = self.lock_cache().entries.get(&code_hash) {
            Counters::bump(&self.counters.memory_hits);
            return hit.clone();
        }
        let prepared = match self.load_artifact(code_hash) {
            Some(prepared) => Ok(prepared),
            None => self.compile(code, code_hash),
        };
        let mut cache = self.lock_cache();
        // Threads that raced to compile the same code all use the first
        // result, so no run holds a module that the cache has dropped.
        if let Some(first) = cache.entries.get(&code_hash) {
            return first.clone();
        }
        cache.insert(code_hash, prepared.clone());
        prepared
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, ModuleCache> {
        // A panic while holding the lock cannot leave the cache inconsistent
        // (every update is a single insert), so a poisoned lock is usable.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The module for `code_hash` from the artifact cache, if it has a
    /// usable one.
    fn load_artifact(&self, code_hash: Hash32) -> Option<Arc<PreparedModule>> {
        let cache = self.artifacts.as_ref()?;
        let loaded = cache
            .load(&self.engine, code_hash)
            .and_then(|(module, meta)| {
                PreparedModule::new(code_hash, self.compiler, &module, &self.linker, meta)
                    .map_err(|e| LoadError::Unusable(e.to_string()))
            });
        match loaded {
            Ok(prepared) => {
                Counters::bump(&self.counters.artifact_loads);
                Some(Arc::new(prepared))
            }
            Err(LoadError::Missing) => None,
            Err(LoadError::Unusable(why)) => {
                // Compiled again by the caller, and the file replaced.
                self.artifact_failed(format!("cannot load {code_hash}: {why}"));
                None
            }
        }
    }

    fn compile(&self, code: &[u8], code_hash: Hash32) -> Result<Arc<PreparedModule>, Rejection> {
        Counters::bump(&self.counters.compiled);
        let info = validate(&self.profile, code)?;
        let instrumented =
            instrument::instrument(code, &self.profile).map_err(|_| Rejection::Compile {
                stage: "instrumentation",
            })?;
        let limits = &self.profile.limits;
        let (index, size) = instrumented.largest_function;
        if size > limits.max_instrumented_function_bytes as usize {
            return Err(Rejection::InstrumentedFunctionTooLarge {
                index,
                size,
                limit: limits.max_instrumented_function_bytes,
            });
        }
        if instrumented.code.len() > limits.max_instrumented_bytes as usize {
            return Err(Rejection::InstrumentedModuleTooLarge {
                size: instrumented.code.len(),
                limit: limits.max_instrumented_bytes,
            });
        }
        // Cranelift's time grows faster than linearly with a function's
        // branches; past a size it would take seconds on a crafted module
        // (docs/costs.md). Such modules compile with Winch, which is
        // linear. Receipts do not depend on the compiler.
        let large = self.compiler == Compiler::Cranelift
            && instrumented.code.len() > CRANELIFT_MAX_INSTRUMENTED_BYTES;
        let (engine, linker, compiler) = if large {
            let tier = self.large_tier().ok_or(Rejection::Compile {
                stage: "compilation",
            })?;
            (&tier.engine, &tier.linker, Compiler::Winch)
        } else {
            (&self.engine, &self.linker, self.compiler)
        };
        let module =
            Module::from_binary(engine, &instrumented.code).map_err(|_| Rejection::Compile {
                stage: "compilation",
            })?;
        let meta = Meta {
            info,
            export_frames: instrumented.export_frames,
        };
        if let Some(cache) = self.artifacts.as_ref().filter(|_| !large) {
            match cache.store(code_hash, &module, &meta) {
                Ok(()) => Counters::bump(&self.counters.artifact_writes),
                Err(e) => self.artifact_failed(format!("cannot store {code_hash}: {e}")),
            }
        }
        PreparedModule::new(code_hash, compiler, &module, linker, meta).map(Arc::new)
    }

    /// The engine and linker for modules too large for Cranelift, made on
    /// first use: Winch, instances mapped on demand (large modules are
    /// rare; they do not get pool slots). `None` if the engine cannot be
    /// built.
    fn large_tier(&self) -> Option<&LargeTier> {
        self.large
            .get_or_init(|| {
                let engine = Engine::new(&self.profile.wasmtime_config(Compiler::Winch)).ok()?;
                let mut linker = Linker::new(&engine);
                host::link(&mut linker).ok()?;
                Some(LargeTier { engine, linker })
            })
            .as_ref()
    }

    /// Runs `tx` on the module `code` (a wasm binary) against `state`.
    ///
    /// Returns `Ok(receipt)` for every outcome of the guest: success,
    /// reverted, trapped, out of fuel and rejected. The receipt's `writes`
    /// are what to commit; they are empty unless the run succeeded.
    /// Returns `Err` only when the host cannot work (a failing backend).
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
        self.receipt_of(code_hash, tx, state, || {
            self.prepare_hashed(code, code_hash)
        })
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
        let engine = module.pre.module().engine();
        let ours = Engine::same(&self.engine, engine)
            || self
                .large
                .get()
                .and_then(Option::as_ref)
                .is_some_and(|t| Engine::same(&t.engine, engine));
        if !ours {
            return Err(RuntimeError::ForeignModule);
        }
        self.receipt_of(module.code_hash, tx, state, || Ok(module))
    }

    /// Checks `tx`, then gets the module (only if `tx` is acceptable, so a
    /// bad transaction costs no compilation) and its entry, and runs it; any
    /// rejection on the way becomes the receipt's status.
    fn receipt_of<M: std::ops::Deref<Target = PreparedModule>>(
        &self,
        code_hash: Hash32,
        tx: &Transaction,
        state: &dyn StateBackend,
        module: impl FnOnce() -> Result<M, Rejection>,
    ) -> Result<Receipt, RuntimeError> {
        let mut receipt = self.new_receipt(code_hash, tx);
        let ready = self
            .check_transaction(tx)
            .and_then(|()| module())
            .and_then(|m| m.entry(&tx.entry).map(|e| (m, e)));
        match ready {
            Err(rejection) => {
                receipt.status = Status::Rejected {
                    reason: rejection.to_string(),
                }
            }
            Ok((module, entry)) => self.run(&module, entry, tx, state, &mut receipt)?,
        }
        Ok(receipt)
    }

    fn new_receipt(&self, code_hash: Hash32, tx: &Transaction) -> Receipt {
        Receipt {
            format_version: FORMAT_VERSION,
            profile_hash: self.profile_hash,
            code_hash,
            entry: tx.entry.clone(),
            sender: tx.sender.clone(),
            context: tx.context.clone(),
            input: tx.input.clone(),
            fuel_limit: tx.fuel_limit,
            fuel_used: 0,
            status: Status::Success,
            reads: Vec::new(),
            writes: Vec::new(),
            events: Vec::new(),
            output: Vec::new(),
        }
    }

    fn check_transaction(&self, tx: &Transaction) -> Result<(), Rejection> {
        let l = &self.profile.limits;
        for (what, size, limit) in [
            ("entry", tx.entry.len(), l.max_entry_bytes),
            ("input", tx.input.len(), l.max_input_bytes),
            ("sender", tx.sender.len(), l.max_sender_bytes),
            ("context", tx.context.len(), l.max_context_bytes),
        ] {
            if size > limit as usize {
                return Err(Rejection::TransactionFieldTooLarge { what, size, limit });
            }
        }
        if tx.fuel_limit > l.max_fuel {
            return Err(Rejection::FuelLimitTooHigh {
                requested: tx.fuel_limit,
                limit: l.max_fuel,
            });
        }
        Ok(())
    }

    /// Instantiates and calls the entry point, filling in the outcome.
    fn run(
        &self,
        prepared: &PreparedModule,
        entry: EntryPoint,
        tx: &Transaction,
        state: &dyn StateBackend,
        receipt: &mut Receipt,
    ) -> Result<(), RuntimeError> {
        // SAFETY: `Store<T>` requires `T: 'static`, but the backend is only
        // borrowed for this call. The reference is stored in the store's data
        // and nowhere else; the store is created here, never leaves this
        // function, and is consumed by `into_data` below, after which the
        // data (and with it the reference) is dropped before returning. No
        // host function copies the reference out. So it is never used after
        // the borrow `state` ends.
        let backend: &'static dyn StateBackend =
            unsafe { std::mem::transmute::<&dyn StateBackend, &'static dyn StateBackend>(state) };
        // Held until the store is gone, so the pool always has a slot for it.
        let engine = prepared.pre.module().engine();
        let pooled = Engine::same(&self.engine, engine);
        let _permit = self.gate.as_ref().filter(|_| pooled).map(Gate::acquire);
        // The transaction's byte fields move into the store and back into
        // the receipt afterwards: the receipt's copies are the only ones.
        let mut data = HostState {
            backend,
            input: std::mem::take(&mut receipt.input),
            sender: std::mem::take(&mut receipt.sender),
            context: std::mem::take(&mut receipt.context),
            limits: self.profile.limits,
            costs: self.profile.costs,
            memory: None,
            fuel: None,
            fuel_left: 0,
            limiter: host::PageLimiter::new(&self.profile.limits),
            overlay: Overlay::new(&self.profile.limits),
            events: Vec::new(),
            output: Vec::new(),
        };
        let mut attempt = 0u32;
        let (mut store, instance) = loop {
            let mut store = Store::new(engine, data);
            store.limiter(|s| &mut s.limiter);
            match prepared.pre.instantiate(&mut store) {
                // The gate leaves a slot for every admitted run, but wasmtime
                // briefly occupies the slots of a module being dropped (to
                // clear their affinity). That is transient: wait, and try
                // again in a fresh store.
                Err(e) if e.is::<wasmtime::PoolConcurrencyLimitError>() => {
                    attempt += 1;
                    if attempt > POOL_RETRIES {
                        return Err(RuntimeError::Engine(format!(
                            "instance pool still exhausted after {POOL_RETRIES} retries: {e:#}"
                        )));
                    }
                    data = store.into_data();
                    if attempt < 64 {
                        std::thread::yield_now();
                    } else {
                        std::thread::sleep(std::time::Duration::from_micros(100));
                    }
                }
                other => break (store, other),
            }
        };
        // Instantiation charges nothing (docs/costs.md): a failure there
        // leaves all the fuel.
        let (result, left, exit) = match instance {
            Err(e) => (Err(e), tx.fuel_limit, 0),
            Ok(instance) => self.call(prepared, entry, &instance, &mut store, tx.fuel_limit)?,
        };
        let data = store.into_data();
        receipt.input = data.input;
        receipt.sender = data.sender;
        receipt.context = data.context;
        let (reads, writes) = data.overlay.into_sets();
        receipt.reads = reads;
        receipt.fuel_used = tx.fuel_limit.saturating_sub(left);
        // The logical stack limit is always reached long before wasmtime's
        // native one (a test measures the margin on both compilers). Should
        // the native stack ever run out first, where it did depends on the
        // compiler: the run then ends as `stack_overflow` having used its
        // whole fuel limit, which is the same on every compiler.
        let native_overflow = matches!(
            &result,
            Err(e) if e.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::StackOverflow)
        );
        receipt.status = match result {
            Err(e) => classify(e, exit)?,
            Ok(()) => Status::Success,
        };
        match receipt.status {
            Status::Success => {
                receipt.writes = writes;
                receipt.events = data.events;
                receipt.output = data.output;
            }
            Status::OutOfFuel => receipt.fuel_used = tx.fuel_limit,
            _ if native_overflow => receipt.fuel_used = tx.fuel_limit,
            _ => {}
        }
        Ok(())
    }

    /// Sets the meters of a fresh instance and calls the entry. Returns the
    /// call's result, the fuel left and, if the call failed, the exit
    /// global (which tells a metering trap from the guest's own).
    fn call(
        &self,
        prepared: &PreparedModule,
        entry: EntryPoint,
        instance: &Instance,
        store: &mut Store<HostState>,
        fuel_limit: u64,
    ) -> Result<(wasmtime::Result<()>, u64, i32), RuntimeError> {
        let fixed = &prepared.fixed;
        let fuel = export(instance, store, &fixed.fuel)?.into_global();
        let depth = export(instance, store, &fixed.depth)?.into_global();
        let func = export(instance, store, &entry.export)?.into_func();
        let memory = match &fixed.memory {
            Some(m) => export(instance, store, m)?.into_memory(),
            None => None,
        };
        let (Some(fuel), Some(depth), Some(func)) = (fuel, depth, func) else {
            return Err(RuntimeError::Engine(
                "an export of the prepared module has the wrong kind".into(),
            ));
        };
        let engine = RuntimeError::engine;
        // The memory's initial pages are paid for before the entry runs
        // (docs/costs.md): a limit that cannot pay for them runs nothing.
        let pages = self
            .profile
            .costs
            .wasm_memory_initial
            .total(prepared.info.initial_memory_pages);
        let Some(fuel_left) = fuel_limit.checked_sub(pages) else {
            return Ok((Err(HostExit::OutOfFuel.into()), 0, 0));
        };
        fuel.set(&mut *store, Val::I64(fuel_left as i64))
            .map_err(engine)?;
        let data = store.data_mut();
        data.fuel = Some(fuel);
        data.memory = memory;
        let result = if entry.frame > self.profile.limits.max_stack_slots {
            // The host's call of the entry is a call like any other, and
            // this one does not fit.
            exit_global(instance, store, fixed)?
                .set(&mut *store, Val::I32(EXIT_STACK_OVERFLOW))
                .map_err(engine)?;
            Err(wasmtime::Trap::UnreachableCodeReached.into())
        } else {
            depth
                .set(&mut *store, Val::I32(entry.frame as i32))
                .map_err(engine)?;
            // SAFETY: `entry` is in `entries` only if validation found the
            // export's type to be `() -> ()`, and its `ModuleExport` was
            // resolved from this module, so `func` has exactly the type
            // `TypedFunc<(), ()>` claims.
            let typed = unsafe { wasmtime::TypedFunc::<(), ()>::new_unchecked(&*store, func) };
            typed.call(&mut *store, ())
        };
        let left = fuel.get(&mut *store).unwrap_i64() as u64;
        let exit = match result {
            Ok(()) => 0,
            Err(_) => exit_global(instance, store, fixed)?
                .get(&mut *store)
                .unwrap_i32(),
        };
        Ok((result, left, exit))
    }
}

/// How often a run retries an instantiation the pool refused for want of a
/// slot another thread was briefly holding (about a second in all).
const POOL_RETRIES: u32 = 10_000;

/// The export `e` of `instance`, which was resolved from its module.
fn export(
    instance: &Instance,
    store: &mut Store<HostState>,
    e: &ModuleExport,
) -> Result<Extern, RuntimeError> {
    instance
        .get_module_export(&mut *store, e)
        .ok_or_else(|| RuntimeError::Engine("an export of the prepared module is missing".into()))
}

/// The instrumentation's exit global of `instance`.
fn exit_global(
    instance: &Instance,
    store: &mut Store<HostState>,
    fixed: &FixedExports,
) -> Result<wasmtime::Global, RuntimeError> {
    export(instance, store, &fixed.exit)?
        .into_global()
        .ok_or_else(|| RuntimeError::Engine("the exit export is not a global".into()))
}

/// Turns the error of a failed call into the run's status, or into a host
/// failure when the error is not the guest's doing. `exit` is the
/// instrumentation's exit global: it tells a metering trap from the
/// guest's own `unreachable`.
fn classify(err: wasmtime::Error, exit: i32) -> Result<Status, RuntimeError> {
    let err = match err.downcast::<HostExit>() {
        Ok(HostExit::Trap(trap)) => return Ok(Status::Trapped { trap }),
        Ok(HostExit::OutOfFuel) => return Ok(Status::OutOfFuel),
        Ok(HostExit::Abort(message)) => return Ok(Status::Reverted { message }),
        Ok(HostExit::State(e)) => return Err(RuntimeError::State(e)),
        Err(other) => other,
    };
    let Some(trap) = err.downcast_ref::<wasmtime::Trap>() else {
        return Err(RuntimeError::Engine(format!("{err:#}")));
    };
    use wasmtime::Trap as W;
    let kind = match trap {
        W::UnreachableCodeReached if exit == EXIT_OUT_OF_FUEL => return Ok(Status::OutOfFuel),
        W::UnreachableCodeReached if exit == EXIT_STACK_OVERFLOW => TrapKind::StackOverflow,
        W::UnreachableCodeReached => TrapKind::Unreachable,
        W::MemoryOutOfBounds => TrapKind::MemoryOutOfBounds,
        W::TableOutOfBounds => TrapKind::TableOutOfBounds,
        W::IndirectCallToNull => TrapKind::IndirectCallToNull,
        W::BadSignature => TrapKind::BadSignature,
        W::IntegerOverflow => TrapKind::IntegerOverflow,
        W::IntegerDivisionByZero => TrapKind::IntegerDivideByZero,
        W::BadConversionToInteger => TrapKind::BadConversionToInteger,
        W::StackOverflow => TrapKind::StackOverflow,
        _ => TrapKind::Other,
    };
    Ok(Status::Trapped { trap: kind })
}
