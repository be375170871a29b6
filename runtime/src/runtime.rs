//! The runtime: one engine, one linker, a module cache, and `execute`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use verity_host_abi::abi::MEMORY_EXPORT;
use verity_host_abi::receipt::FORMAT_VERSION;
use verity_host_abi::{Hash32, Receipt, Status, TrapKind};
use wasmtime::{Engine, Global, Instance, InstancePre, Linker, Module, Store, Val};

use crate::host::{self, HostExit, HostState};
use crate::instrument::{
    self, DEPTH_GLOBAL, EXIT_GLOBAL, EXIT_OUT_OF_FUEL, EXIT_STACK_OVERFLOW, FUEL_GLOBAL,
};
use crate::profile::{Compiler, Profile};
use crate::state::{Overlay, StateBackend};
use crate::transaction::Transaction;
use crate::validate::{ModuleInfo, Rejection, validate};

/// A failure of the host itself: the transaction has no outcome. Every
/// outcome of the guest, including rejection, is an `Ok(Receipt)` instead.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// wasmtime could not be configured or failed outside the guest's control.
    #[error("engine error: {0}")]
    Engine(String),
    /// The state backend failed.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
}

impl RuntimeError {
    fn engine(e: impl std::fmt::Display) -> Self {
        RuntimeError::Engine(e.to_string())
    }
}

/// A validated, compiled module, ready to instantiate.
pub struct PreparedModule {
    code_hash: Hash32,
    info: ModuleInfo,
    pre: InstancePre<HostState>,
    /// Frame cost (stack slots) of each exported function.
    export_frames: HashMap<String, u32>,
}

impl PreparedModule {
    /// SHA-256 of the module binary.
    pub fn code_hash(&self) -> Hash32 {
        self.code_hash
    }

    /// What validation learned about the module.
    pub fn info(&self) -> &ModuleInfo {
        &self.info
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

/// The embeddable host. Build one per profile and share it: it holds one
/// wasmtime `Engine` and caches compiled modules by code hash.
///
/// ```
/// use verity_runtime::{MemoryState, Profile, Runtime, Transaction};
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
/// let receipt = runtime.execute(&wasm, &Transaction::new("run"), &state)?;
/// assert_eq!(receipt.status.name(), "success");
/// state.commit(&receipt);
/// assert_eq!(state.iter().next(), Some((&b"key"[..], &b"value"[..])));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Runtime {
    profile: Profile,
    profile_hash: Hash32,
    compiler: Compiler,
    engine: Engine,
    linker: Linker<HostState>,
    cache: Mutex<ModuleCache>,
}

impl Runtime {
    /// Modules kept compiled in memory by default.
    pub const DEFAULT_CACHE_CAPACITY: usize = 256;

    /// A runtime for `profile`, compiling with Cranelift.
    pub fn new(profile: Profile) -> Result<Self, RuntimeError> {
        Runtime::with_compiler(profile, Compiler::default())
    }

    /// A runtime for `profile` compiling with `compiler`. Receipts do not
    /// depend on the choice.
    pub fn with_compiler(profile: Profile, compiler: Compiler) -> Result<Self, RuntimeError> {
        let engine =
            Engine::new(&profile.wasmtime_config(compiler)).map_err(RuntimeError::engine)?;
        let mut linker = Linker::new(&engine);
        host::link(&mut linker).map_err(RuntimeError::engine)?;
        Ok(Runtime {
            profile_hash: profile.hash(),
            profile,
            compiler,
            engine,
            linker,
            cache: Mutex::new(ModuleCache {
                capacity: Self::DEFAULT_CACHE_CAPACITY,
                entries: HashMap::new(),
                order: VecDeque::new(),
            }),
        })
    }

    /// The profile this runtime runs.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The compiler this runtime uses.
    pub fn compiler(&self) -> Compiler {
        self.compiler
    }

    /// The hash of [`Runtime::profile`], committed in every receipt.
    pub fn profile_hash(&self) -> Hash32 {
        self.profile_hash
    }

    /// Validates and compiles `code` (wasm binary), or returns the cached
    /// result for the same code hash.
    pub fn prepare(&self, code: &[u8]) -> Result<Arc<PreparedModule>, Rejection> {
        let code_hash = Hash32::of(code);
        self.prepare_hashed(code, code_hash)
    }

    fn prepare_hashed(
        &self,
        code: &[u8],
        code_hash: Hash32,
    ) -> Result<Arc<PreparedModule>, Rejection> {
        if let Some(hit) = self.lock_cache().entries.get(&code_hash) {
            return hit.clone();
        }
        let prepared = self.compile(code, code_hash);
        self.lock_cache().insert(code_hash, prepared.clone());
        prepared
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, ModuleCache> {
        // A panic while holding the lock cannot leave the cache inconsistent
        // (every update is a single insert), so a poisoned lock is usable.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn compile(&self, code: &[u8], code_hash: Hash32) -> Result<Arc<PreparedModule>, Rejection> {
        let info = validate(&self.profile, code)?;
        let instrumented = instrument::instrument(
            code,
            self.profile.features(),
            self.profile.limits.max_stack_slots,
        )
        .map_err(Rejection::Compile)?;
        let module = Module::from_binary(&self.engine, &instrumented.code)
            .map_err(|e| Rejection::Compile(format!("{e:#}")))?;
        let pre = self
            .linker
            .instantiate_pre(&module)
            .map_err(|e| Rejection::Compile(format!("{e:#}")))?;
        Ok(Arc::new(PreparedModule {
            code_hash,
            info,
            pre,
            export_frames: instrumented.export_frames,
        }))
    }

    /// Runs `tx` on the module `code` (a wasm binary) against `state`.
    ///
    /// Returns `Ok(receipt)` for every outcome of the guest: success,
    /// reverted, trapped, out of fuel and rejected. The receipt's `writes`
    /// are what to commit; they are empty unless the run succeeded.
    /// Returns `Err` only when the host cannot work (a failing backend).
    pub fn execute(
        &self,
        code: &[u8],
        tx: &Transaction,
        state: &dyn StateBackend,
    ) -> Result<Receipt, RuntimeError> {
        let code_hash = Hash32::of(code);
        let mut receipt = Receipt {
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
        };
        let prepared = self
            .check_transaction(tx)
            .and_then(|()| self.prepare_hashed(code, code_hash))
            .and_then(|p| p.info.check_entry(&tx.entry).map(|()| p));
        match prepared {
            Err(rejection) => {
                receipt.status = Status::Rejected {
                    reason: rejection.to_string(),
                };
            }
            Ok(prepared) => self.run(&prepared, tx, state, &mut receipt)?,
        }
        Ok(receipt)
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
        let mut store = Store::new(
            &self.engine,
            HostState {
                backend,
                input: tx.input.clone(),
                sender: tx.sender.clone(),
                context: tx.context.clone(),
                limits: self.profile.limits,
                costs: self.profile.costs,
                memory: None,
                fuel: None,
                limiter: host::PageLimiter::new(&self.profile.limits),
                overlay: Overlay::new(),
                events: Vec::new(),
                output: Vec::new(),
            },
        );
        store.limiter(|s| &mut s.limiter);
        let entry_frame = prepared.export_frames.get(&tx.entry).copied().unwrap_or(0);
        let mut meters: Option<Meters> = None;
        let result = prepared.pre.instantiate(&mut store).and_then(|instance| {
            let m = Meters::of(&instance, &mut store)?;
            m.fuel.set(&mut store, Val::I64(tx.fuel_limit as i64))?;
            store.data_mut().fuel = Some(m.fuel);
            meters = Some(m);
            store.data_mut().memory = instance.get_memory(&mut store, MEMORY_EXPORT);
            // The host's call of the entry is a call like any other.
            if entry_frame > self.profile.limits.max_stack_slots {
                m.exit.set(&mut store, Val::I32(EXIT_STACK_OVERFLOW))?;
                return Err(wasmtime::Trap::UnreachableCodeReached.into());
            }
            m.depth.set(&mut store, Val::I32(entry_frame as i32))?;
            instance
                .get_typed_func::<(), ()>(&mut store, &tx.entry)?
                .call(&mut store, ())
        });
        let (left, exit) = match meters {
            Some(m) => (
                m.fuel.get(&mut store).unwrap_i64() as u64,
                m.exit.get(&mut store).unwrap_i32(),
            ),
            // Instantiation charges nothing (docs/costs.md).
            None => (tx.fuel_limit, 0),
        };
        let data = store.into_data();
        let (reads, writes) = data.overlay.into_sets();
        receipt.reads = reads;
        receipt.fuel_used = tx.fuel_limit.saturating_sub(left);
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
            _ => {}
        }
        Ok(())
    }
}

/// The instrumentation's globals in one instance.
#[derive(Clone, Copy)]
struct Meters {
    fuel: Global,
    depth: Global,
    exit: Global,
}

impl Meters {
    fn of(instance: &Instance, store: &mut Store<HostState>) -> wasmtime::Result<Meters> {
        let mut global = |name: &str| {
            instance
                .get_global(&mut *store, name)
                .ok_or_else(|| wasmtime::Error::msg(format!("instrumented module lacks {name}")))
        };
        Ok(Meters {
            fuel: global(FUEL_GLOBAL)?,
            depth: global(DEPTH_GLOBAL)?,
            exit: global(EXIT_GLOBAL)?,
        })
    }
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
