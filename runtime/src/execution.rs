//! Running a transaction, in two phases: [`Runtime::run`] checks it, finds
//! the contract, instantiates the module in a fresh store, meters and calls
//! the entry point and classifies how it ended, against a read-only view of
//! the state, giving an [`Execution`]; [`Execution::seal`] adds the state
//! roots and makes the receipt. Execution computes no root, so many
//! transactions can run at once against one view and be sealed in order.

use verity_host_abi::receipt::FORMAT_VERSION;
use verity_host_abi::{
    Action, ContractId, Hash32, ReadEntry, Receipt, Status, TrapKind, WriteEntry,
};
use verity_host_core::{
    Effects, Host, HostExit, StateRoots, TxBytes, TxRejection, bounded_fields, check_transaction,
};
use wasmtime::{Engine, Extern, Instance, ModuleExport, Store, Val};

use crate::auth::Admission;
use crate::error::RuntimeError;
use crate::host::{self, HostState, RunHost};
use crate::instrument::{EXIT_OUT_OF_FUEL, EXIT_STACK_OVERFLOW};
use crate::pool::Gate;
use crate::prepared::{EntryPoint, FixedExports, PreparedModule};
use crate::resolve::{CodeSource, Ready, Resolved};
use crate::runtime::Runtime;
use crate::state::{StateBackend, StateError, StateView};
use crate::transaction::{Target, Transaction};
use crate::validate::Rejection;

/// A receipt, with the debug log lines its run wrote (in order; not part
/// of the receipt: they change no hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Executed {
    /// The receipt.
    pub receipt: Receipt,
    /// The guest's `log` lines, as far as `max_log_bytes` kept them.
    pub logs: Vec<String>,
    /// Where the fuel went, by class: from
    /// [`Runtime::execute_profiled`](crate::Runtime::execute_profiled);
    /// empty from the other ways to run.
    pub fuel: FuelProfile,
}

/// A transaction run against a read view of the state, before its state
/// roots: everything its receipt records but the two roots, with the run's
/// debug log. [`seal`](Self::seal) makes the receipt.
///
/// Running needs only a [`StateView`] (`Send + Sync`): transactions of a
/// block can run on many threads against one view, and their executions be
/// sealed (roots computed, writes committed) in order.
///
/// ```
/// use verity_runtime::{MemoryState, Profile, Runtime, StateBackend, Transaction};
///
/// let runtime = Runtime::new(Profile::default())?;
/// let wasm = wat::parse_str(r#"(module (func (export "run")))"#)?;
/// let (tx, state) = (Transaction::new("run"), MemoryState::default());
/// let execution = runtime.run(Some(&wasm), &tx, &state)?;
/// assert!(execution.status().is_success());
/// let roots = state.roots(execution.writes())?;
/// let sealed = execution.seal(roots);
/// assert_eq!(sealed.receipt, runtime.execute(&wasm, &tx, &state)?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Execution {
    /// The receipt, with both roots zero until sealed.
    unsealed: Receipt,
    logs: Vec<String>,
    fuel: FuelProfile,
}

impl Execution {
    /// How the run ended.
    pub fn status(&self) -> &Status {
        &self.unsealed.status
    }

    /// The fuel the run used.
    pub fn fuel_used(&self) -> u64 {
        self.unsealed.fuel_used
    }

    /// The keys read from the pre-state with the values seen, sorted by key.
    pub fn reads(&self) -> &[ReadEntry] {
        &self.unsealed.reads
    }

    /// The write set, sorted by key: what to commit, and what the
    /// post-state root is computed over. Empty unless the run succeeded,
    /// but for the nonce an admitted signed transaction consumes.
    pub fn writes(&self) -> &[WriteEntry] {
        &self.unsealed.writes
    }

    /// The receipt with `roots`, which must be the roots of the view the
    /// run read and of that view with [`writes`](Self::writes) applied.
    pub fn seal(self, roots: StateRoots) -> Executed {
        let mut receipt = self.unsealed;
        receipt.pre_state_root = roots.pre;
        receipt.post_state_root = roots.post;
        Executed {
            receipt,
            logs: self.logs,
            fuel: self.fuel,
        }
    }

    /// [`seal`](Self::seal) with the roots `state` gives for the writes:
    /// `state` must be the state the run read.
    pub fn seal_with(self, state: &dyn StateBackend) -> Result<Executed, StateError> {
        let roots = state.roots(self.writes())?;
        Ok(self.seal(roots))
    }
}

/// Where a run's fuel went, by class: like the debug log, not part of the
/// receipt. The entries sum to the receipt's `fuel_used` exactly.
///
/// In order: `prepare` (preparing the code a run or deploy brings),
/// `code_storage` (a deploy storing it), `instance` and `initial_pages`,
/// the module's own classes as its meter charged them
/// ([`COUNTED_CLASSES`](crate::instrument::COUNTED_CLASSES): instructions,
/// loads and stores, bulk memory, `memory.grow`, ...), each class of host
/// function with its calls, and `out_of_fuel`: what a run that ran out
/// used beyond what it paid for (the charge that did not fit, and the rest
/// of its limit). Classes that took nothing are left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FuelProfile {
    /// The classes, in the order above.
    pub entries: Vec<FuelEntry>,
}

/// One class of a [`FuelProfile`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuelEntry {
    /// The class: a cost class of the schedule, or one named in
    /// [`FuelProfile`].
    pub class: &'static str,
    /// For a host function class, how many calls were made.
    pub calls: Option<u64>,
    /// The fuel it took.
    pub fuel: u64,
}

impl FuelProfile {
    /// The sum of the entries: the run's `fuel_used`.
    pub fn total(&self) -> u64 {
        self.entries.iter().map(|e| e.fuel).sum()
    }

    fn push(&mut self, class: &'static str, calls: Option<u64>, fuel: u64) {
        if fuel > 0 || calls.is_some_and(|c| c > 0) {
            self.entries.push(FuelEntry { class, calls, fuel });
        }
    }
}

/// What the meters said at the end of a run, for its fuel profile.
#[derive(Default)]
struct Meters {
    /// The instance and its initial pages were paid for.
    instance_paid: bool,
    /// What the initial pages cost.
    pages_fuel: u64,
    /// What loading the stored module cost (0 for code the transaction
    /// brought, which paid for preparing it).
    load_fuel: u64,
    /// The counting module's counters, by
    /// [`COUNTED_CLASSES`](crate::instrument::COUNTED_CLASSES).
    counted: Option<Vec<u64>>,
}

/// What validating and instrumenting a module that is not compiled yet
/// found, when the transaction cannot pay for preparing it.
enum Uncompiled {
    /// The module is fine, the entry is not.
    BadEntry(Rejection),
    /// Both are fine; the fuel limit does not cover the preparation.
    Poor,
}

/// How far a transaction got before its entry point could run.
enum Prepared<'a> {
    /// Refused: the receipt's status says why.
    Refused(Rejection),
    /// A deploy without a constructor: nothing to run.
    NothingToRun,
    /// The fuel limit does not cover preparing the code: out of fuel, and
    /// the module was not compiled.
    TooPoor,
    /// The module and the entry to call.
    Run(Ready<'a>, EntryPoint),
}

impl Runtime {
    /// Runs `tx` with code from `source` against `state` and seals the
    /// receipt with the state's roots.
    pub(crate) fn receipt_of(
        &self,
        source: CodeSource<'_>,
        tx: &Transaction,
        state: &dyn StateBackend,
    ) -> Result<Receipt, RuntimeError> {
        let execution = self.executed(source, tx, state, false)?;
        Ok(execution.seal_with(state)?.receipt)
    }

    /// Runs `tx` with code from `source` against the view `state`: checks
    /// the transaction, finds the contract (a call reads its record; a
    /// deploy refuses an address in use and stores the code and the
    /// record), gets the module (only once the transaction is acceptable,
    /// so a bad one costs no compilation) and its entry, and runs it. Every
    /// refusal on the way becomes the status. With `count`, the entry runs
    /// in a module instrumented to count its fuel by class as well
    /// (compiled for this run, not cached), for the fuel profile.
    pub(crate) fn executed(
        &self,
        source: CodeSource<'_>,
        tx: &Transaction,
        state: &dyn StateView,
        count: bool,
    ) -> Result<Execution, RuntimeError> {
        if matches!(tx.target, Target::Deploy { .. } | Target::Upload)
            && matches!(source, CodeSource::Prepared(_))
        {
            return Err(RuntimeError::DeployNeedsCode);
        }
        let contract = match (tx.target, source.hash()) {
            (Target::Call { contract }, _) => contract,
            (_, Some(hash)) => tx.contract(&hash),
            (_, None) => return Err(RuntimeError::CodeNeeded),
        };
        // The receipt's copies of the transaction's bytes: the only ones
        // (they move into the run's store and back). A field over its limit
        // is copied only up to one byte past it: the transaction is refused,
        // and its receipt stays bounded.
        let profile = &self.profile;
        let (entry, bytes) = bounded_fields(
            &profile.limits,
            &tx.entry,
            &tx.input,
            &tx.sender,
            &tx.context,
            &tx.chain,
        );
        let mut code_hash = source.hash().unwrap_or_default();
        if let Err(e) = check_transaction(&profile.limits, &entry, &bytes, tx.fuel_limit) {
            let outcome = Outcome::rejected(&Rejection::from(e));
            return Ok(Execution {
                unsealed: self.receipt(contract, code_hash, tx, entry, bytes, outcome),
                logs: Vec::new(),
                fuel: FuelProfile::default(),
            });
        }
        // SAFETY: `Store<T>` requires `T: 'static`, but the view is only
        // borrowed for this call. The reference is held by `host` and
        // nowhere else; `host` is created here, moves into a store that
        // never leaves this function (`run`), comes back by `into_data`, and
        // is consumed by `Host::finish` below, whose `backend` is dropped
        // before returning. No host function copies the reference out. So
        // it is never used after the borrow `state` ends.
        let backend: &'static dyn StateView =
            unsafe { std::mem::transmute::<&dyn StateView, &'static dyn StateView>(state) };
        let mut host = Host::new(
            backend,
            &contract,
            bytes,
            &profile.limits,
            &profile.costs,
            0,
        );
        // The sender's authorization comes first: nothing of a transaction
        // that is not admitted runs (docs/auth.md).
        let (admission, refusal) = match self.admit(tx, code_hash, &mut host)? {
            Ok(admission) => (admission, None),
            Err(refusal) => (Admission::default(), Some(refusal)),
        };
        // Fuel taken before the entry runs, beyond the instance: the
        // authorization checks, preparing the code, and for a deploy
        // storing it.
        let (mut prepare, mut store_fuel) = (0u64, 0u64);
        let prepared = match (refusal, tx.target) {
            (Some(refusal), _) => Prepared::Refused(TxRejection::Auth(refusal).into()),
            (None, Target::Call { contract }) => {
                match self.resolve(&mut host, contract, &source)? {
                    Err(rejection) => Prepared::Refused(rejection),
                    Ok(Resolved {
                        code_hash: h,
                        module,
                    }) => {
                        code_hash = h;
                        match module {
                            Err(rejection) => Prepared::Refused(rejection),
                            Ok(module) => self.entry(module, &tx.entry),
                        }
                    }
                }
            }
            (None, Target::Run) => match self.uncompiled(
                &source,
                &tx.entry,
                tx.fuel_limit.saturating_sub(admission.fuel),
            ) {
                Some(Uncompiled::BadEntry(r)) => Prepared::Refused(r),
                Some(Uncompiled::Poor) => Prepared::TooPoor,
                None => match self.module(&source, contract, code_hash, &host)? {
                    Err(rejection) => Prepared::Refused(rejection),
                    Ok(module) => {
                        // A run brings its code: it pays for preparing it.
                        prepare = module.preparation_fuel(&profile.costs);
                        self.entry(module, &tx.entry)
                    }
                },
            },
            // An upload runs nothing: one that names an entry is refused
            // before its code is looked at.
            (None, Target::Upload) if !tx.entry.is_empty() => {
                Prepared::Refused(TxRejection::EntryInUpload(tx.entry.clone()).into())
            }
            // A deploy stores the code and creates the contract; an upload
            // only stores the code (validated, compiled and paid for alike,
            // so only code a contract could run is stored).
            (None, Target::Deploy { .. } | Target::Upload) => {
                let deploy = matches!(tx.target, Target::Deploy { .. });
                let CodeSource::Bytes { code, .. } = source else {
                    return Err(RuntimeError::DeployNeedsCode);
                };
                let store = profile.costs.storage_write.total(code.len() as u64);
                let available = tx
                    .fuel_limit
                    .saturating_sub(store)
                    .saturating_sub(admission.fuel);
                // Compiled only if the deploy can pay for it; refused in the
                // same order either way: a bad module, an address in use, a
                // bad entry, the fuel.
                let module = match self.uncompiled(&source, &tx.entry, available) {
                    Some(uncompiled) => Err(uncompiled),
                    None => Ok(self.module(&source, contract, code_hash, &host)?),
                };
                match module {
                    Ok(Err(rejection)) => Prepared::Refused(rejection),
                    _ if deploy && self.record(&mut host, &contract)?.is_some() => {
                        Prepared::Refused(TxRejection::ContractExists(contract).into())
                    }
                    Err(Uncompiled::BadEntry(r)) => Prepared::Refused(r),
                    Err(Uncompiled::Poor) => Prepared::TooPoor,
                    Ok(Ok(module)) => {
                        if deploy {
                            let admin = tx.sender.clone();
                            self.store_contract(&mut host, &contract, code, code_hash, admin);
                        } else {
                            self.store_code(&mut host, code, code_hash);
                        }
                        // Storing the code, and preparing it: the compile
                        // every node and verifier does once for this code.
                        store_fuel = store;
                        prepare = module.preparation_fuel(&profile.costs);
                        if tx.entry.is_empty() {
                            Prepared::NothingToRun
                        } else {
                            self.entry(module, &tx.entry)
                        }
                    }
                }
            }
        };
        let upfront = prepare
            .saturating_add(store_fuel)
            .saturating_add(admission.fuel);
        let paid_upfront = !matches!(prepared, Prepared::TooPoor) && upfront <= tx.fuel_limit;
        let mut meters = Meters::default();
        let (host, status, fuel_used) = match prepared {
            Prepared::Refused(rejection) => (host, rejected(&rejection), 0),
            Prepared::TooPoor => (host, Status::OutOfFuel, tx.fuel_limit),
            Prepared::NothingToRun if upfront > tx.fuel_limit => {
                (host, Status::OutOfFuel, tx.fuel_limit)
            }
            Prepared::NothingToRun => (host, Status::Success, upfront),
            Prepared::Run(module, entry) => {
                let counting = match count {
                    true => self.counting(&source, &module, &tx.entry, contract, &host)?,
                    false => None,
                };
                let (module, entry) = match &counting {
                    Some((m, e)) => (m, *e),
                    None => (&*module, entry),
                };
                let (host, status, fuel_used, m) =
                    self.instantiate_and_call(module, entry, tx, host, upfront)?;
                meters = m;
                (host, status, fuel_used)
            }
        };
        let mut run = host.finish(&status);
        // An admitted signed transaction consumes its nonce whatever its
        // run did; one refused on the way ran nothing and consumes nothing.
        if let (Some((key, value)), false) =
            (admission.nonce, matches!(status, Status::Rejected { .. }))
        {
            let writes = &mut run.effects.writes;
            let at = writes.partition_point(|w| w.key < key);
            writes.insert(
                at,
                WriteEntry {
                    key,
                    value: Some(value),
                },
            );
        }
        // Only a counting run is profiled: the others pay nothing for it.
        let fuel = if !count {
            FuelProfile::default()
        } else {
            let mut p = FuelProfile::default();
            if paid_upfront {
                p.push("authorization", None, admission.fuel);
                p.push("prepare", None, prepare);
                p.push("code_storage", None, store_fuel);
            }
            if meters.instance_paid {
                if meters.load_fuel > 0 {
                    p.push("load", None, meters.load_fuel);
                }
                let instance = profile.costs.wasm_instance;
                p.push("instance", None, instance.base);
                p.push("initial_pages", None, meters.pages_fuel);
            }
            if let Some(counted) = &meters.counted {
                for (name, fuel) in crate::instrument::COUNTED_CLASSES.iter().zip(counted) {
                    p.push(name, None, *fuel);
                }
            }
            for (class, calls, fuel) in run.host_fuel.iter() {
                p.push(class.name(), Some(calls), fuel);
            }
            let rest = fuel_used.saturating_sub(p.total());
            let unpaid = matches!(status, Status::OutOfFuel) || meters.counted.is_some();
            p.push(if unpaid { "out_of_fuel" } else { "wasm_code" }, None, rest);
            p
        };
        let outcome = Outcome {
            status,
            fuel_used,
            effects: run.effects,
        };
        Ok(Execution {
            unsealed: self.receipt(contract, code_hash, tx, entry, run.tx, outcome),
            logs: run.logs,
            fuel,
        })
    }

    /// The module of `module`'s code instrumented to count its fuel by
    /// class, with its entry `name`; `None` where the code is not at hand
    /// (a module the caller prepared).
    fn counting(
        &self,
        source: &CodeSource<'_>,
        module: &PreparedModule,
        name: &str,
        contract: ContractId,
        host: &RunHost,
    ) -> Result<Option<(PreparedModule, EntryPoint)>, RuntimeError> {
        let code = match source {
            CodeSource::Bytes { code, .. } => code.to_vec(),
            CodeSource::State => self.stored_code(host, contract, module.code_hash)?,
            CodeSource::Prepared(_) => return Ok(None),
        };
        let counted = self
            .modules
            .compile_counted(&self.profile, &code, module.code_hash)
            .map_err(|r| RuntimeError::Engine(format!("the counting module: {r}")))?;
        let entry = counted
            .entry(name)
            .map_err(|r| RuntimeError::Engine(format!("the counting module: {r}")))?;
        Ok(Some((counted, entry)))
    }

    /// For code a transaction brings that is not compiled yet, and that it
    /// cannot pay to prepare with `available` fuel: what validating and
    /// instrumenting it (not compiling) found. `None` when the code is
    /// compiled or cached (a rejection included), or the fuel covers the
    /// charge: the module is then prepared as usual. So a transaction that
    /// cannot pay never makes the node compile, and its receipt is the one
    /// a node that had the module cached gives.
    fn uncompiled(
        &self,
        source: &CodeSource<'_>,
        entry: &str,
        available: u64,
    ) -> Option<Uncompiled> {
        let CodeSource::Bytes { code, hash } = source else {
            return None;
        };
        if self.modules.holds(hash) {
            return None;
        }
        // A refused module is left to the usual path, which refuses it the
        // same way and caches the rejection.
        let (info, instrumented) = self.modules.analyze(&self.profile, code).ok()?;
        if self.profile.costs.wasm_prepare.total(instrumented) <= available {
            return None;
        }
        Some(match info.check_entry(entry) {
            Err(rejection) if !entry.is_empty() => Uncompiled::BadEntry(rejection),
            _ => Uncompiled::Poor,
        })
    }

    /// The entry `name` of `module`, or why it cannot be called.
    fn entry<'a>(&self, module: Ready<'a>, name: &str) -> Prepared<'a> {
        match module.entry(name) {
            Ok(entry) => Prepared::Run(module, entry),
            Err(rejection) => Prepared::Refused(rejection),
        }
    }

    /// The receipt of `tx`, built once from what the run produced, with
    /// both state roots zero: sealing sets them.
    fn receipt(
        &self,
        contract: ContractId,
        code_hash: Hash32,
        tx: &Transaction,
        entry: String,
        bytes: TxBytes,
        o: Outcome,
    ) -> Receipt {
        Receipt {
            format_version: FORMAT_VERSION,
            profile_hash: self.profile_hash,
            action: match tx.target {
                Target::Run => Action::Run,
                Target::Deploy { salt } => Action::Deploy { salt },
                Target::Call { .. } => Action::Call,
                Target::Upload => Action::Upload,
            },
            contract,
            code_hash,
            entry,
            sender: bytes.sender,
            auth: tx.auth.clone(),
            context: bytes.context,
            height: bytes.chain.height,
            time: bytes.chain.time,
            chain_id: bytes.chain.chain_id,
            input: bytes.input,
            fuel_limit: tx.fuel_limit,
            fuel_used: o.fuel_used,
            status: o.status,
            pre_state_root: Hash32::default(),
            post_state_root: Hash32::default(),
            reads: o.effects.reads,
            writes: o.effects.writes,
            calls: o.effects.calls,
            events: o.effects.events,
            output: o.effects.output,
        }
    }

    /// Instantiates and calls the entry point with `host`, after taking
    /// `upfront` fuel; returns the host with how the run ended and the fuel
    /// it used.
    fn instantiate_and_call(
        &self,
        prepared: &PreparedModule,
        entry: EntryPoint,
        tx: &Transaction,
        host: RunHost,
        upfront: u64,
    ) -> Result<(RunHost, Status, u64, Meters), RuntimeError> {
        // Held until the store is gone, so the pool always has a slot for it.
        let engine = prepared.pre.module().engine();
        let pooled = Engine::same(&self.modules.engine, engine);
        let _permit = self.gate.as_ref().filter(|_| pooled).map(Gate::acquire);
        // SAFETY: `Store<T>` requires `T: 'static`; the runtime is only
        // borrowed for this call. The reference goes into this store's data
        // and, through calls, into the stores of callees, each of which is
        // created and dropped inside this call (`crate::frames::perform`
        // returns only after its callee's store is gone). So no store that
        // holds it outlives the borrow `self`.
        let runtime: &'static Runtime =
            unsafe { std::mem::transmute::<&Runtime, &'static Runtime>(self) };
        let data = HostState {
            // The guest's meter holds the fuel; each host call takes its
            // share from there.
            host,
            memory: None,
            fuel: None,
            depth: None,
            limiter: host::PageLimiter::new(&self.profile.limits),
            runtime,
        };
        let (mut store, instance) = self.instantiate(prepared, data).map_err(|(e, _)| e)?;
        // A failure to instantiate costs nothing: all the fuel is left.
        let end = match instance {
            Err(e) => CallEnd::failed(e, tx.fuel_limit),
            Ok(instance) => {
                let budget = tx.fuel_limit.checked_sub(upfront);
                // A call runs a stored contract: it pays to load its module.
                let load = matches!(tx.target, Target::Call { .. });
                self.call(prepared, entry, &instance, &mut store, budget, 0, load)?
            }
        };
        // The logical stack limit is always reached long before wasmtime's
        // native one (a test measures the margin on both compilers). Should
        // the native stack ever run out first, where it did depends on the
        // compiler: the run then ends as `stack_overflow` having used its
        // whole fuel limit, which is the same on every compiler.
        let native_overflow = end.native_overflow();
        let status = match end.result {
            Err(e) => classify(e, end.exit)?,
            Ok(()) => Status::Success,
        };
        let fuel_used = match status {
            Status::OutOfFuel => tx.fuel_limit,
            _ if native_overflow => tx.fuel_limit,
            _ => tx.fuel_limit.saturating_sub(end.fuel_left),
        };
        Ok((store.into_data().host, status, fuel_used, end.meters))
    }

    /// A fresh store holding `data`, and `prepared` instantiated in it; if
    /// the pool never has a slot, the error with `data` handed back.
    #[allow(clippy::result_large_err)]
    pub(crate) fn instantiate(
        &self,
        prepared: &PreparedModule,
        mut data: HostState,
    ) -> Result<(Store<HostState>, wasmtime::Result<Instance>), (RuntimeError, HostState)> {
        let engine = prepared.pre.module().engine();
        let mut attempt = 0u32;
        loop {
            let mut store = Store::new(engine, data);
            store.limiter(|s| &mut s.limiter);
            match prepared.pre.instantiate(&mut store) {
                // The gate leaves a slot for every admitted run, but wasmtime
                // briefly occupies the slots of a module being dropped (to
                // clear their affinity). That is transient: wait, and try
                // again in a fresh store.
                Err(e) if e.is::<wasmtime::PoolConcurrencyLimitError>() => {
                    attempt += 1;
                    data = store.into_data();
                    if attempt > POOL_RETRIES {
                        let e = RuntimeError::Engine(format!(
                            "instance pool still exhausted after {POOL_RETRIES} retries: {e:#}"
                        ));
                        return Err((e, data));
                    }
                    if attempt < 64 {
                        std::thread::yield_now();
                    } else {
                        std::thread::sleep(std::time::Duration::from_micros(100));
                    }
                }
                other => return Ok((store, other)),
            }
        }
    }

    /// Sets the meters of a fresh instance and calls the entry, with
    /// `base_depth` stack slots already in use by the frames below it;
    /// `load` if the frame runs a stored contract, which pays to load its
    /// module.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn call(
        &self,
        prepared: &PreparedModule,
        entry: EntryPoint,
        instance: &Instance,
        store: &mut Store<HostState>,
        budget: Option<u64>,
        base_depth: u32,
        load: bool,
    ) -> Result<CallEnd, RuntimeError> {
        let fixed = &prepared.fixed;
        let fuel = export(instance, store, &fixed.fuel)?.into_global();
        let depth = export(instance, store, &fixed.depth)?.into_global();
        let access_price = export(instance, store, &fixed.access_price)?.into_global();
        let func = export(instance, store, &entry.export)?.into_func();
        let memory = match &fixed.memory {
            Some(m) => export(instance, store, m)?.into_memory(),
            None => None,
        };
        let (Some(fuel), Some(depth), Some(access_price), Some(func)) =
            (fuel, depth, access_price, func)
        else {
            return Err(RuntimeError::Engine(
                "an export of the prepared module has the wrong kind".into(),
            ));
        };
        let engine = RuntimeError::engine;
        // Loading a stored module, the instance and its memory's initial
        // pages are paid for before the entry runs (docs/costs.md): a limit
        // that cannot pay for them runs nothing.
        let costs = &self.profile.costs;
        let initial_pages = prepared.info.initial_memory_pages;
        let load_fuel = if load { prepared.load_fuel(costs) } else { 0 };
        let pages = costs.wasm_instance.total(initial_pages);
        let upfront = pages.saturating_add(load_fuel);
        access_price
            .set(
                &mut *store,
                Val::I64(costs.memory_access.price(initial_pages) as i64),
            )
            .map_err(RuntimeError::engine)?;
        let Some(fuel_left) = budget.and_then(|b| b.checked_sub(upfront)) else {
            return Ok(CallEnd {
                result: Err(HostExit::OutOfFuel.into()),
                fuel_left: 0,
                exit: 0,
                meters: Meters::default(),
            });
        };
        fuel.set(&mut *store, Val::I64(fuel_left as i64))
            .map_err(engine)?;
        let data = store.data_mut();
        data.fuel = Some(fuel);
        data.depth = Some(depth);
        data.memory = memory;
        let start_depth = base_depth.saturating_add(entry.frame);
        let result = if start_depth > self.profile.limits.max_stack_slots {
            // The host's call of the entry is a call like any other, and
            // this one does not fit.
            exit_global(instance, store, fixed)?
                .set(&mut *store, Val::I32(EXIT_STACK_OVERFLOW))
                .map_err(engine)?;
            Err(wasmtime::Trap::UnreachableCodeReached.into())
        } else {
            depth
                .set(&mut *store, Val::I32(start_depth as i32))
                .map_err(engine)?;
            // SAFETY: `entry` is in `entries` only if validation found the
            // export's type to be `() -> ()`, and its `ModuleExport` was
            // resolved from this module, so `func` has exactly the type
            // `TypedFunc<(), ()>` claims.
            let typed = unsafe { wasmtime::TypedFunc::<(), ()>::new_unchecked(&*store, func) };
            // A code switch the entry asked for takes effect as it returns,
            // with the new code's `__migrate` if it has one.
            typed
                .call(&mut *store, ())
                .and_then(|()| crate::frames::migrate(store))
        };
        let left = fuel.get(&mut *store).unwrap_i64() as u64;
        let exit = match result {
            Ok(()) => 0,
            Err(_) => exit_global(instance, store, fixed)?
                .get(&mut *store)
                .unwrap_i32(),
        };
        let counted = match &fixed.counters {
            Some(counters) => Some(
                counters
                    .iter()
                    .map(|c| {
                        let global =
                            export(instance, store, c)?.into_global().ok_or_else(|| {
                                RuntimeError::Engine("a fuel counter is not a global".into())
                            })?;
                        Ok(global.get(&mut *store).unwrap_i64() as u64)
                    })
                    .collect::<Result<Vec<u64>, RuntimeError>>()?,
            ),
            None => None,
        };
        Ok(CallEnd {
            result,
            fuel_left: left,
            exit,
            meters: Meters {
                instance_paid: true,
                pages_fuel: pages - costs.wasm_instance.base,
                load_fuel,
                counted,
            },
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
    /// Refused before anything ran or was read: no fuel, no effects.
    fn rejected(rejection: &Rejection) -> Outcome {
        Outcome {
            status: rejected(rejection),
            fuel_used: 0,
            effects: Effects::default(),
        }
    }
}

/// The status of a transaction refused for `rejection`.
fn rejected(rejection: &Rejection) -> Status {
    Status::Rejected {
        reason: rejection.to_string(),
    }
}

/// How the call of an entry ended.
pub(crate) struct CallEnd {
    /// The call's result.
    pub(crate) result: wasmtime::Result<()>,
    /// The fuel meter after it.
    pub(crate) fuel_left: u64,
    /// The instrumentation's exit global if the call failed: it tells a
    /// metering trap from the guest's own `unreachable`.
    pub(crate) exit: i32,
    /// For the fuel profile.
    meters: Meters,
}

impl CallEnd {
    /// Whether wasmtime's own stack guard stopped the call (the logical
    /// limit should always come first; where the native one is reached
    /// depends on the compiler).
    pub(crate) fn native_overflow(&self) -> bool {
        matches!(
            &self.result,
            Err(e) if e.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::StackOverflow)
        )
    }

    /// An instance that could not be instantiated: it used nothing.
    pub(crate) fn failed(e: wasmtime::Error, budget: u64) -> CallEnd {
        CallEnd {
            result: Err(e),
            fuel_left: budget,
            exit: 0,
            meters: Meters::default(),
        }
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
pub(crate) fn classify(err: wasmtime::Error, exit: i32) -> Result<Status, RuntimeError> {
    // A host failure inside a callee's frame, carried out through the
    // caller's host call.
    let err = match err.downcast::<RuntimeError>() {
        Ok(e) => return Err(e),
        Err(other) => other,
    };
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
