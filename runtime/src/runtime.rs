//! The runtime: one engine, one linker, a module cache, and `execute`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use verity_host_abi::abi::MEMORY_EXPORT;
use verity_host_abi::receipt::FORMAT_VERSION;
use verity_host_abi::{Hash32, Receipt, Status, TrapKind};
use wasmtime::{Engine, InstancePre, Linker, Module, Store};

use crate::host::{self, HostExit, HostState};
use crate::profile::Profile;
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
    engine: Engine,
    linker: Linker<HostState>,
    cache: Mutex<ModuleCache>,
}

impl Runtime {
    /// Modules kept compiled in memory by default.
    pub const DEFAULT_CACHE_CAPACITY: usize = 256;

    /// A runtime for `profile`.
    pub fn new(profile: Profile) -> Result<Self, RuntimeError> {
        let engine = Engine::new(&profile.wasmtime_config()).map_err(RuntimeError::engine)?;
        let mut linker = Linker::new(&engine);
        host::link(&mut linker).map_err(RuntimeError::engine)?;
        Ok(Runtime {
            profile_hash: profile.hash(),
            profile,
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
        let module = Module::from_binary(&self.engine, code)
            .map_err(|e| Rejection::Compile(format!("{e:#}")))?;
        let pre = self
            .linker
            .instantiate_pre(&module)
            .map_err(|e| Rejection::Compile(format!("{e:#}")))?;
        Ok(Arc::new(PreparedModule {
            code_hash,
            info,
            pre,
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
                limiter: host::PageLimiter::new(&self.profile.limits),
                overlay: Overlay::new(),
                events: Vec::new(),
                output: Vec::new(),
            },
        );
        store.limiter(|s| &mut s.limiter);
        let budget = tx.fuel_limit.saturating_add(host::FUEL_RESERVE);
        store.set_fuel(budget).map_err(RuntimeError::engine)?;
        let result = prepared.pre.instantiate(&mut store).and_then(|instance| {
            store.data_mut().memory = instance.get_memory(&mut store, MEMORY_EXPORT);
            instance
                .get_typed_func::<(), ()>(&mut store, &tx.entry)?
                .call(&mut store, ())
        });
        let left = store.get_fuel().map_err(RuntimeError::engine)?;
        let data = store.into_data();
        let (reads, writes) = data.overlay.into_sets();
        receipt.reads = reads;
        let used = budget.saturating_sub(left);
        receipt.fuel_used = used;
        receipt.status = match result {
            // Consumption past the limit decides the outcome, however the run
            // ended (see FUEL_RESERVE). A host failure still wins: it means
            // there is no outcome at all.
            Err(e) => match classify(e)? {
                _ if used > tx.fuel_limit => Status::OutOfFuel,
                status => status,
            },
            Ok(()) if used > tx.fuel_limit => Status::OutOfFuel,
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

/// Turns the error of a failed call into the run's status, or into a host
/// failure when the error is not the guest's doing.
fn classify(err: wasmtime::Error) -> Result<Status, RuntimeError> {
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
        W::OutOfFuel => return Ok(Status::OutOfFuel),
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
