//! Running a transaction: checking it, instantiating the module in a fresh
//! store, metering and calling the entry point, classifying how it ended,
//! and building the receipt.

use verity_host_abi::receipt::FORMAT_VERSION;
use verity_host_abi::{Hash32, Receipt, Status, TrapKind};
use verity_host_core::{Effects, Host, HostExit, TxBytes, check_transaction};
use wasmtime::{Engine, Extern, Instance, ModuleExport, Store, Val};

use crate::error::RuntimeError;
use crate::host::{self, HostState};
use crate::instrument::{EXIT_OUT_OF_FUEL, EXIT_STACK_OVERFLOW};
use crate::pool::Gate;
use crate::prepared::{EntryPoint, FixedExports, PreparedModule};
use crate::runtime::Runtime;
use crate::state::StateBackend;
use crate::transaction::Transaction;
use crate::validate::Rejection;

impl Runtime {
    /// Checks `tx`, then gets the module (only if `tx` is acceptable, so a
    /// bad transaction costs no compilation) and its entry, and runs it; any
    /// rejection on the way becomes the receipt's status.
    pub(crate) fn receipt_of<M: std::ops::Deref<Target = PreparedModule>>(
        &self,
        code_hash: Hash32,
        tx: &Transaction,
        state: &dyn StateBackend,
        module: impl FnOnce() -> Result<M, Rejection>,
    ) -> Result<Receipt, RuntimeError> {
        // The receipt's copies of the transaction's bytes: the only ones
        // (they move into the run's store and back).
        let bytes = TxBytes {
            input: tx.input.clone(),
            sender: tx.sender.clone(),
            context: tx.context.clone(),
        };
        let ready = check_transaction(&self.profile.limits, &tx.entry, &bytes, tx.fuel_limit)
            .map_err(Rejection::from)
            .and_then(|()| module())
            .and_then(|m| m.entry(&tx.entry).map(|e| (m, e)));
        let (bytes, outcome) = match ready {
            Err(rejection) => (bytes, Outcome::rejected(&rejection)),
            Ok((module, entry)) => self.run(&module, entry, tx, state, bytes)?,
        };
        Ok(self.receipt(code_hash, tx, bytes, outcome))
    }

    /// The receipt of `tx`, built once from what the run produced.
    fn receipt(&self, code_hash: Hash32, tx: &Transaction, bytes: TxBytes, o: Outcome) -> Receipt {
        Receipt {
            format_version: FORMAT_VERSION,
            profile_hash: self.profile_hash,
            code_hash,
            entry: tx.entry.clone(),
            sender: bytes.sender,
            context: bytes.context,
            input: bytes.input,
            fuel_limit: tx.fuel_limit,
            fuel_used: o.fuel_used,
            status: o.status,
            reads: o.effects.reads,
            writes: o.effects.writes,
            events: o.effects.events,
            output: o.effects.output,
        }
    }

    /// Instantiates and calls the entry point, filling in the outcome.
    fn run(
        &self,
        prepared: &PreparedModule,
        entry: EntryPoint,
        tx: &Transaction,
        state: &dyn StateBackend,
        bytes: TxBytes,
    ) -> Result<(TxBytes, Outcome), RuntimeError> {
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
        let pooled = Engine::same(&self.modules.engine, engine);
        let _permit = self.gate.as_ref().filter(|_| pooled).map(Gate::acquire);
        // The transaction's byte fields move into the store and back.
        let profile = &self.profile;
        let mut data = HostState {
            // The guest's meter holds the fuel; each host call takes its
            // share from there.
            host: Host::new(backend, bytes, &profile.limits, &profile.costs, 0),
            memory: None,
            fuel: None,
            limiter: host::PageLimiter::new(&profile.limits),
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
        // A failure to instantiate costs nothing: all the fuel is left.
        let end = match instance {
            Err(e) => CallEnd {
                result: Err(e),
                fuel_left: tx.fuel_limit,
                exit: 0,
            },
            Ok(instance) => self.call(prepared, entry, &instance, &mut store, tx.fuel_limit)?,
        };
        // The logical stack limit is always reached long before wasmtime's
        // native one (a test measures the margin on both compilers). Should
        // the native stack ever run out first, where it did depends on the
        // compiler: the run then ends as `stack_overflow` having used its
        // whole fuel limit, which is the same on every compiler.
        let native_overflow = matches!(
            &end.result,
            Err(e) if e.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::StackOverflow)
        );
        let status = match end.result {
            Err(e) => classify(e, end.exit)?,
            Ok(()) => Status::Success,
        };
        let fuel_used = match status {
            Status::OutOfFuel => tx.fuel_limit,
            _ if native_overflow => tx.fuel_limit,
            _ => tx.fuel_limit.saturating_sub(end.fuel_left),
        };
        let run = store.into_data().host.finish(&status);
        let outcome = Outcome {
            status,
            fuel_used,
            effects: run.effects,
        };
        Ok((run.tx, outcome))
    }

    /// Sets the meters of a fresh instance and calls the entry.
    fn call(
        &self,
        prepared: &PreparedModule,
        entry: EntryPoint,
        instance: &Instance,
        store: &mut Store<HostState>,
        fuel_limit: u64,
    ) -> Result<CallEnd, RuntimeError> {
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
            return Ok(CallEnd {
                result: Err(HostExit::OutOfFuel.into()),
                fuel_left: 0,
                exit: 0,
            });
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
        Ok(CallEnd {
            result,
            fuel_left: left,
            exit,
        })
    }
}

/// What a run produced, beyond what the transaction already says: the
/// receipt's outcome fields.
struct Outcome {
    status: Status,
    fuel_used: u64,
    effects: Effects,
}

impl Outcome {
    /// Refused before anything ran: no fuel used, no effects.
    fn rejected(rejection: &Rejection) -> Outcome {
        Outcome {
            status: Status::Rejected {
                reason: rejection.to_string(),
            },
            fuel_used: 0,
            effects: Effects::default(),
        }
    }
}

/// How the call of an entry ended.
struct CallEnd {
    /// The call's result.
    result: wasmtime::Result<()>,
    /// The fuel meter after it.
    fuel_left: u64,
    /// The instrumentation's exit global if the call failed: it tells a
    /// metering trap from the guest's own `unreachable`.
    exit: i32,
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
        Ok(exit) => return exit.into_status().map_err(RuntimeError::State),
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
