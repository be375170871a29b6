//! A native test environment: the same contract source, under `cargo test`,
//! run by the runtime's own host rules.
//!
//! Every host call of the contract goes to the [`Host`] of
//! `verity-host-core`, the code the runtime's wasmtime glue calls too: the
//! overlay (reads see the run's own writes; writes, events and output are
//! kept only when the run succeeds), every limit and its trap kind, the order
//! of the checks, `abort` and its message cap, and host-call fuel (each
//! function's base cost plus its per-byte part). Transactions are checked as
//! the runtime checks them (field sizes, fuel limit, a known entry), with the
//! same rejection text. `revert`, a contract error and a panic all end the
//! run as `reverted` with the message the wasm build gives: a panic pays for
//! its message as the wasm panic handler's `abort` does, and a formatted
//! message (`expect("...")`, `Result::unwrap`, `assert_eq!`) is the
//! placeholder unless the `panic-fmt` feature is on (see
//! [`FORMATTED_PANICS_KEPT`]).
//!
//! What differs from a wasm run: the contract's own instructions cost
//! nothing here, so [`Outcome::host_fuel`] is the fuel of its host calls
//! alone (a receipt's `fuel_used` adds the instructions), and a run can run
//! out of fuel only in a host call. The parity test (`tests/all/parity.rs` in
//! the repository) runs every fixture contract both ways and compares.
//!
//! ```
//! use verity_sdk::testing::{Status, TestEnv};
//! use verity_sdk::{contract, storage::Item};
//!
//! const COUNT: Item<u64> = Item::new(b"count");
//!
//! pub struct Counter;
//!
//! #[contract]
//! impl Counter {
//!     pub fn add(by: u64) -> u64 {
//!         let n = COUNT.get().unwrap_or(0) + by;
//!         COUNT.set(&n);
//!         n
//!     }
//! }
//!
//! let mut env = TestEnv::new();
//! let out = env.call::<Counter>("add", &(2u64,));
//! assert_eq!(out.output::<u64>(), 2);
//! assert!(out.host_fuel > 0); // input, a read, a write, the output
//! assert_eq!(env.call::<Counter>("add", &(3u64,)).output::<u64>(), 5);
//! // Direct calls work too, inside a run:
//! assert_eq!(env.invoke(|| Counter::add(1)), Ok(6));
//! // Overflow panics (debug build) and the run reverts, leaving state alone:
//! let out = env.call::<Counter>("add", &(u64::MAX,));
//! assert!(matches!(out.status, Status::Reverted { .. }));
//! assert_eq!(env.invoke(|| COUNT.get()), Ok(Some(6)));
//! // The runtime's rejection text for an entry the contract lacks:
//! let out = env.call::<Counter>("sub", &());
//! assert_eq!(out.status.to_string(), "rejected: the module exports no function named `sub`");
//! ```

use std::any::Any;
use std::boxed::Box;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::string::{String, ToString};
use std::sync::Once;
use std::vec::Vec;

use serde::Serialize;
use serde::de::DeserializeOwned;
use verity_host_abi::auth::{AuthRejection, Signed};
use verity_host_abi::contract::{storage_key, storage_prefix};
use verity_host_abi::spec::ContractSpec;
use verity_host_abi::{CostSchedule, Limits};
pub use verity_host_core::AccountKey;
use verity_host_core::{
    CallRequest, ChainContext, DEFAULT_FUEL, GuestMemory, Host, HostExit, MemoryState, TxBytes,
    TxRejection, admission_fuel, check_transaction,
};

pub use verity_host_abi::{CallEntry, ContractId, Event, ReadEntry, Status, TrapKind, WriteEntry};
pub use verity_host_core::HostFuel;

use crate::msg::{MsgBuf, PANIC_MESSAGE_BYTES, push_panic_location};
use crate::{Address, Contract, ContractError, codec};

/// The result of [`TestEnv::call`]: the receipt's outcome fields, and the
/// fuel the run's host calls took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// How the run ended.
    pub status: Status,
    /// The output bytes (empty unless the run succeeded).
    pub output: Vec<u8>,
    /// Events emitted (empty unless the run succeeded).
    pub events: Vec<Event>,
    /// Keys read from the committed state and the values seen, sorted by
    /// key (kept whatever the status, as in a receipt). The contract's own
    /// keys are as it names them, without the storage prefix a receipt
    /// shows; keys of other contracts (a [registered](TestEnv::register)
    /// callee's) are whole state keys.
    pub reads: Vec<ReadEntry>,
    /// The write set, sorted by key, its keys as in `reads`; `None` is a
    /// removal (empty unless the run succeeded).
    pub writes: Vec<WriteEntry>,
    /// The call tree in pre-order, as the receipt's `calls` (empty unless
    /// the run succeeded). A call's `fuel_used` is its host calls' fuel.
    pub calls: Vec<CallEntry>,
    /// Fuel taken by host calls and, for a signed call, its admission: all
    /// of the fuel limit if the run ran out.
    pub host_fuel: u64,
    /// The host-call part of the run's fuel profile: for each class of
    /// host function called, the calls and the fuel they took (what `verity
    /// run --debug` prints for them). Its total and `admission_fuel` make
    /// `host_fuel`, unless the run ran out of fuel (then the failed charge
    /// is not in it).
    pub host_fuel_by_class: HostFuel,
    /// The fuel a signed call's admission took ([`TestEnv::set_signer`]),
    /// the fuel profile's `authorization` class; 0 unsigned.
    pub admission_fuel: u64,
    /// The run's debug log lines (`env::log`, `log!`), in order; not part
    /// of a receipt.
    pub logs: Vec<String>,
}

impl Outcome {
    /// Whether the run succeeded.
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// Decodes the output as `T`. Panics (failing the test) if the run did
    /// not succeed or the output is not a `T`.
    #[track_caller]
    pub fn output<T: DeserializeOwned>(&self) -> T {
        assert_eq!(self.status, Status::Success, "the run did not succeed");
        codec::decode(&self.output).expect("output does not decode as the requested type")
    }

    /// The run's events of the declared type `E` (`#[contractevent]`), in
    /// emission order: those with `E`'s topic, decoded. Panics (failing the
    /// test) if one with that topic does not decode as an `E`.
    ///
    /// ```ignore
    /// let out = env.call::<Token>("transfer", &(bob, 5u64));
    /// assert_eq!(out.events_of::<Transfer>(), [Transfer { from: alice, to: bob, amount: 5 }]);
    /// ```
    #[track_caller]
    pub fn events_of<E: crate::events::Event + DeserializeOwned>(&self) -> Vec<E> {
        self.events
            .iter()
            .filter(|e| e.topic == E::TOPIC.as_bytes())
            .map(|e| {
                codec::decode(&e.data).unwrap_or_else(|| {
                    panic!(
                        "an event with topic {:?} does not decode as declared",
                        E::TOPIC
                    )
                })
            })
            .collect()
    }

    /// The revert message, if the run reverted.
    pub fn revert_message(&self) -> Option<&str> {
        match &self.status {
            Status::Reverted { message } => Some(message),
            _ => None,
        }
    }

    fn rejected(rejection: TxRejection) -> Outcome {
        Outcome {
            status: Status::Rejected {
                reason: rejection.to_string(),
            },
            output: Vec::new(),
            events: Vec::new(),
            reads: Vec::new(),
            writes: Vec::new(),
            calls: Vec::new(),
            host_fuel: 0,
            host_fuel_by_class: HostFuel::default(),
            admission_fuel: 0,
            logs: Vec::new(),
        }
    }
}

/// A contract registered with [`TestEnv::register`]: its entries, run
/// natively, and its spec.
#[derive(Clone, Copy, Debug)]
struct Native {
    dispatch: fn(&str) -> bool,
    spec: &'static [u8],
}

impl Native {
    fn has_entry(&self, entry: &str) -> bool {
        ContractSpec::decode(self.spec).is_ok_and(|s| s.entry(entry).is_some())
    }
}

/// The contracts a run can call, and how deep.
#[derive(Clone, Debug, Default)]
struct Registry {
    contracts: BTreeMap<ContractId, Native>,
    max_depth: u32,
}

/// An in-memory host: committed state, the profile's limits and costs, and
/// the transaction fields of the next call.
#[derive(Clone, Debug)]
pub struct TestEnv {
    state: MemoryState,
    contracts: BTreeMap<ContractId, Native>,
    contract: ContractId,
    chain: ChainContext,
    last_logs: Vec<String>,
    sender: Vec<u8>,
    /// The key the following calls are signed by, if any.
    signer: Option<AccountKey>,
    /// The last nonce each key used.
    nonces: BTreeMap<[u8; 32], u64>,
    context: Vec<u8>,
    fuel: u64,
    limits: Limits,
    costs: CostSchedule,
}

impl Default for TestEnv {
    fn default() -> Self {
        TestEnv {
            state: MemoryState::default(),
            contracts: BTreeMap::new(),
            contract: TestEnv::DEFAULT_CONTRACT,
            chain: ChainContext::default(),
            last_logs: Vec::new(),
            sender: Vec::new(),
            signer: None,
            nonces: BTreeMap::new(),
            context: Vec::new(),
            fuel: DEFAULT_FUEL,
            limits: Limits::DEFAULT,
            costs: CostSchedule::default(),
        }
    }
}

impl TestEnv {
    /// The address the contract under test runs at unless
    /// [`set_contract`](Self::set_contract) says otherwise.
    pub const DEFAULT_CONTRACT: ContractId = ContractId([0xc0; 32]);

    /// An empty state, empty sender and context, the default profile's
    /// limits and costs, and the default fuel limit.
    pub fn new() -> Self {
        TestEnv::default()
    }

    /// Sets the sender of the following calls, taken as authenticated (as
    /// an embedder's asserted sender is, or as Soroban's `mock_all_auths`
    /// does): `require_auth` of it passes at the top frame.
    pub fn set_sender(&mut self, sender: &[u8]) -> &mut Self {
        self.sender = sender.to_vec();
        self.signer = None;
        self
    }

    /// Signs the following calls as the account of `key`, as a wallet
    /// would: the sender is its address, each call takes the key's next
    /// nonce (from 1) valid until the height, and pays and records what the
    /// runtime's admission of it does (docs/auth.md): the checks' fuel
    /// ([`admission_fuel`](verity_host_core::admission_fuel)), the nonce
    /// entry's read, and its write, kept whatever the run does. The
    /// signature itself is the runtime's to check (`verity-testkit`'s
    /// `Harness::set_signer` signs for real).
    ///
    /// ```
    /// use verity_sdk::testing::{AccountKey, TestEnv};
    /// use verity_sdk::{Address, contract, env};
    /// use verity_host_abi::auth::Scheme;
    ///
    /// pub struct Vault;
    /// #[contract]
    /// impl Vault {
    ///     pub fn withdraw(owner: Address) -> u64 {
    ///         env::require_auth(&owner);
    ///         7
    ///     }
    /// }
    ///
    /// let alice = AccountKey::from_secret(Scheme::Ed25519, &[1; 32]).unwrap();
    /// let mut env = TestEnv::new();
    /// env.set_signer(&alice);
    /// let owner = Address(alice.address());
    /// assert_eq!(env.call::<Vault>("withdraw", &(owner,)).output::<u64>(), 7);
    /// env.set_signer(&AccountKey::from_secret(Scheme::P256, &[2; 32]).unwrap());
    /// let denied = env.call::<Vault>("withdraw", &(owner,));
    /// assert_eq!(denied.revert_message(), Some("unauthorized"));
    /// ```
    pub fn set_signer(&mut self, key: &AccountKey) -> &mut Self {
        self.sender = key.address().to_vec();
        self.signer = Some(key.clone());
        self
    }

    /// Sets the sender of the following calls to an address.
    pub fn set_sender_address(&mut self, sender: Address) -> &mut Self {
        self.set_sender(&sender.0)
    }

    /// Sets the context blob of the following calls.
    pub fn set_context(&mut self, context: &[u8]) -> &mut Self {
        self.context = context.to_vec();
        self
    }

    /// Sets the block height the following calls see
    /// ([`env::block_height`](crate::env::block_height)).
    pub fn set_height(&mut self, height: u64) -> &mut Self {
        self.chain.height = height;
        self
    }

    /// Sets the block time the following calls see
    /// ([`env::block_time`](crate::env::block_time)).
    pub fn set_time(&mut self, time: u64) -> &mut Self {
        self.chain.time = time;
        self
    }

    /// Sets the chain id the following calls see
    /// ([`env::with_chain_id`](crate::env::with_chain_id)).
    pub fn set_chain_id(&mut self, chain_id: &str) -> &mut Self {
        self.chain.chain_id = chain_id.into();
        self
    }

    /// Sets the fuel limit of the following calls (checked against the
    /// limits' `max_fuel` as the runtime checks it).
    pub fn set_fuel(&mut self, fuel: u64) -> &mut Self {
        self.fuel = fuel;
        self
    }

    /// Runs the following calls under other limits (a profile's).
    pub fn set_limits(&mut self, limits: Limits) -> &mut Self {
        self.limits = limits;
        self
    }

    /// Charges the following calls' host functions by another schedule (a
    /// profile's).
    pub fn set_costs(&mut self, costs: CostSchedule) -> &mut Self {
        self.costs = costs;
        self
    }

    /// Runs the following calls as the contract at `contract` (its
    /// storage is that address's).
    pub fn set_contract(&mut self, contract: ContractId) -> &mut Self {
        self.contract = contract;
        self
    }

    /// Hosts contract `C` at `address`: calls to that address (from the
    /// contract under test, or between registered contracts) run `C`'s
    /// entry points natively, with the runtime's call semantics: the
    /// callee's own storage, input and output; a savepoint that a failed
    /// callee's writes and events are rolled back to; re-entry refused
    /// (except a direct self-call); `max_call_depth`; the fuel cap; the
    /// revert message passed back to the caller. Calls to an address with
    /// nothing registered are refused, as calls to a missing contract are.
    /// (The callee's instance costs nothing here, as instructions do not.)
    ///
    /// ```
    /// use verity_sdk::testing::{ContractId, TestEnv};
    /// use verity_sdk::{contract, env, Address};
    ///
    /// pub struct Callee;
    /// #[contract]
    /// impl Callee {
    ///     pub fn double(x: u64) -> u64 { x * 2 }
    /// }
    ///
    /// pub struct Caller;
    /// #[contract]
    /// impl Caller {
    ///     pub fn run(callee: Address) -> u64 { env::call::<u64>(&callee, "double", &(21u64,)) }
    /// }
    ///
    /// let mut env = TestEnv::new();
    /// env.register::<Callee>(ContractId([7; 32]));
    /// let out = env.call::<Caller>("run", &(Address([7; 32]),));
    /// assert_eq!(out.output::<u64>(), 42);
    /// ```
    pub fn register<C: Contract>(&mut self, address: ContractId) -> &mut Self {
        self.contracts.insert(
            address,
            Native {
                dispatch: C::__dispatch,
                spec: C::SPEC,
            },
        );
        self
    }

    /// The address the contract under test runs at.
    pub fn contract(&self) -> ContractId {
        self.contract
    }

    /// The committed state: every contract's storage, under state keys
    /// (docs/state.md), with its root.
    pub fn state(&self) -> &MemoryState {
        &self.state
    }

    /// The debug log lines of the last run (`call`, `invoke` or
    /// `try_invoke`), in order.
    pub fn logs(&self) -> &[String] {
        &self.last_logs
    }

    /// The committed value of the contract's storage key `key`.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.state.value(&storage_key(&self.contract, key))
    }

    /// Seeds or overwrites a committed value of the contract's storage.
    pub fn put(&mut self, key: &[u8], value: &[u8]) {
        self.state
            .insert(storage_key(&self.contract, key), value.to_vec());
    }

    /// Calls entry `entry` of contract `C` with `args` (a tuple, encoded as
    /// the runtime's input would be). Commits writes only on success.
    pub fn call<C: Contract>(&mut self, entry: &str, args: &impl Serialize) -> Outcome {
        self.call_raw::<C>(entry, &codec::to_vec(args))
    }

    /// Like [`call`](Self::call), with raw input bytes.
    pub fn call_raw<C: Contract>(&mut self, entry: &str, input: &[u8]) -> Outcome {
        let tx = self.tx(input.to_vec());
        if let Err(rejection) = check_transaction(&self.limits, entry, &tx, self.fuel) {
            return Outcome::rejected(rejection);
        }
        let known = ContractSpec::decode(C::SPEC)
            .map(|s| s.entry(entry).is_some())
            .unwrap_or(false);
        if !known {
            return Outcome::rejected(TxRejection::MissingEntry(entry.to_string()));
        }
        self.run(tx, || C::__dispatch(entry)).1
    }

    /// Runs `f` as a transaction with empty input: contract functions can be
    /// called directly. Commits writes only if `f` returns normally; a
    /// revert, a panic or a host trap is the `Err` status, and the run's
    /// writes are dropped.
    ///
    /// For a function that returns `Result`, use
    /// [`try_invoke`](Self::try_invoke): an `Err` must revert the run as its
    /// entry point would, which `invoke` cannot see. (`invoke` panics if `f`
    /// returns a `Result`, rather than commit a failed run's writes.)
    #[track_caller]
    pub fn invoke<R>(&mut self, f: impl FnOnce() -> R) -> Result<R, Status> {
        assert!(
            !std::any::type_name::<R>().starts_with("core::result::Result<"),
            "TestEnv::invoke: the function returns a Result; use TestEnv::try_invoke, which reverts on Err"
        );
        let tx = self.tx(Vec::new());
        self.run(tx, f).0
    }

    /// Runs `f` as a transaction with empty input, as an entry point
    /// returning `Result` runs: `Ok` commits; `Err(e)` reverts the run with
    /// the error's code and message (`error <code>: <message>`, paid for as
    /// the wasm build's `abort` is) and drops its writes.
    pub fn try_invoke<T, E: ContractError>(
        &mut self,
        f: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, Status> {
        let tx = self.tx(Vec::new());
        let (result, _) = self.run(tx, || match f() {
            Ok(v) => Some(v),
            Err(e) => crate::env::revert_with(&e),
        });
        result.map(|v| v.expect("an Err reverted the run"))
    }

    fn tx(&self, input: Vec<u8>) -> TxBytes {
        TxBytes {
            input,
            sender: self.sender.clone(),
            context: self.context.clone(),
            chain: self.chain.clone(),
        }
    }

    /// The runtime's admission of a call signed by the signer, if any
    /// (but for the signature): the checks' fuel, the nonce entry's
    /// recorded read; that fuel and the nonce entry to write.
    #[allow(clippy::type_complexity)]
    fn admit(
        &mut self,
        host: &mut Host<MemoryState>,
        height: u64,
    ) -> Result<Option<(u64, (Vec<u8>, Vec<u8>))>, AuthRejection> {
        let Some(key) = &self.signer else {
            return Ok(None);
        };
        let fuel = admission_fuel(&self.costs, key.scheme());
        if fuel > self.fuel {
            return Err(AuthRejection::FuelTooLow);
        }
        let address = key.address();
        let last = self.nonces.entry(address).or_default();
        *last += 1;
        let signed = Signed {
            scheme: key.scheme(),
            public_key: key.public_key(),
            nonce: *last,
            valid_until: height,
            signature: Vec::new(),
        };
        let (entry_key, entry) = signed.nonce_entry(&address);
        let used = host
            .system_read(&entry_key)
            .expect("a memory state answers every read");
        // Taken while the transaction that took it is valid (a value that
        // is no u64 counts as taken).
        let taken = used.is_some_and(|v| {
            <[u8; 8]>::try_from(v.as_slice()).map_or(true, |b| u64::from_le_bytes(b) >= height)
        });
        if taken {
            return Err(AuthRejection::NonceUsed);
        }
        host.set_fuel_left(self.fuel - fuel);
        Ok(Some((fuel, (entry_key.to_vec(), entry.to_vec()))))
    }

    /// Runs `f` with a fresh host over the committed state (moved into the
    /// host for the run and back, never copied), commits on success.
    fn run<R>(&mut self, tx: TxBytes, f: impl FnOnce() -> R) -> (Result<R, Status>, Outcome) {
        install_panic_hook();
        let state = std::mem::take(&mut self.state);
        let height = tx.chain.height;
        let mut host = Host::new(
            state,
            &self.contract,
            tx,
            &self.limits,
            &self.costs,
            self.fuel,
        );
        let (admission_fuel, nonce) = match self.admit(&mut host, height) {
            Ok(Some((fuel, nonce))) => (fuel, Some(nonce)),
            Ok(None) => (0, None),
            Err(refusal) => {
                let rejection = TxRejection::Auth(refusal);
                let status = Status::Rejected {
                    reason: rejection.to_string(),
                };
                self.state = host.finish(&status).backend;
                return (Err(status), Outcome::rejected(rejection));
            }
        };
        let previous = HOST.with(|h| h.borrow_mut().replace(host));
        assert!(
            previous.is_none(),
            "TestEnv runs cannot nest: a contract function called TestEnv"
        );
        REGISTRY.with(|r| {
            *r.borrow_mut() = Registry {
                contracts: self.contracts.clone(),
                max_depth: self.limits.max_call_depth,
            }
        });
        IN_RUN.with(|r| r.set(true));
        let result = catch_unwind(AssertUnwindSafe(f));
        IN_RUN.with(|r| r.set(false));
        let mut host = HOST
            .with(|h| h.borrow_mut().take())
            .expect("the run's host is still installed");
        let result = result.map_err(|payload| unwound(payload, &mut host));
        let status = match &result {
            Ok(_) => Status::Success,
            Err(status) => status.clone(),
        };
        let host_fuel = match status {
            Status::OutOfFuel => self.fuel,
            _ => self.fuel - host.fuel_left(),
        };
        let mut run = host.finish(&status);
        // The nonce is consumed whatever the run did, as the runtime does.
        if let Some((key, value)) = nonce {
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
        self.state = run.backend;
        self.state.apply(&run.effects.writes);
        // The contract's keys, as it names them; a callee's stay whole.
        let prefix = storage_prefix(&self.contract);
        let own = |key: Vec<u8>| match key.strip_prefix(&prefix[..]) {
            Some(own) => own.to_vec(),
            None => key,
        };
        let outcome = Outcome {
            status,
            output: run.effects.output,
            events: run.effects.events,
            reads: run
                .effects
                .reads
                .into_iter()
                .map(|r| ReadEntry {
                    key: own(r.key),
                    value: r.value,
                })
                .collect(),
            writes: run
                .effects
                .writes
                .into_iter()
                .map(|w| WriteEntry {
                    key: own(w.key),
                    value: w.value,
                })
                .collect(),
            calls: run.effects.calls,
            host_fuel,
            host_fuel_by_class: run.host_fuel,
            admission_fuel,
            logs: run.logs,
        };
        self.last_logs = outcome.logs.clone();
        (result, outcome)
    }
}

/// The status a frame that unwound with `payload` ends with: a host exit's,
/// or for a panic, what the wasm panic handler's `abort` gives (charged
/// for its message like any other call).
fn unwound(payload: Box<dyn Any + Send>, host: &mut Host<MemoryState>) -> Status {
    match payload.downcast::<HostExit>() {
        Ok(exit) => status_of(*exit),
        Err(_) => {
            let message = LAST_PANIC
                .with(|p| p.borrow_mut().take())
                .expect("the panic hook recorded the panic");
            let mut bytes = message.as_bytes().to_vec();
            let len = bytes.len() as i32;
            let exit = host
                .abort(&mut GuestMemory::new(&mut bytes), 0, len)
                .expect_err("abort ends the run");
            status_of(exit)
        }
    }
}

/// Performs the call `request` of the running contract natively, as the
/// runtime's engine does (`runtime/src/frames.rs`), returning the code the
/// guest's `call` returns; the transaction's own fuel running out in the
/// callee unwinds the caller too.
fn perform(request: CallRequest) -> i32 {
    use verity_host_abi::abi;
    let (native, max_depth) = REGISTRY.with(|r| {
        let r = r.borrow();
        (r.contracts.get(&request.callee).copied(), r.max_depth)
    });
    let Some(native) = native.filter(|n| n.has_entry(&request.entry)) else {
        return abi::CALL_REFUSED;
    };
    let entry = request.entry.clone();
    let entered = HOST.with(|cell| {
        let mut guard = cell.borrow_mut();
        let h = guard.as_mut().expect("a call inside a run");
        let left = h.fuel_left();
        h.enter_call(request.callee, &request.entry, request.input, max_depth)
            .ok()
            .map(|()| {
                let budget = request.fuel_cap.map_or(left, |cap| cap.min(left));
                h.set_fuel_left(budget);
                (left, budget)
            })
    });
    let Some((left, budget)) = entered else {
        return abi::CALL_REFUSED;
    };
    let result = catch_unwind(AssertUnwindSafe(|| (native.dispatch)(&entry)));
    let ended = HOST.with(|cell| {
        let mut guard = cell.borrow_mut();
        let h = guard.as_mut().expect("the run's host is still installed");
        let status = match result {
            Ok(_) => Status::Success,
            Err(payload) => unwound(payload, h),
        };
        let budget_left = h.fuel_left();
        let ended = h.end_call(&status, left, budget, budget_left);
        if let Ok((_, rest)) = ended {
            h.set_fuel_left(rest);
        }
        ended
    });
    // The transaction's own fuel running out in the callee ends it.
    match ended {
        Ok((code, _)) => code,
        Err(exit) => resume_unwind(Box::new(exit)),
    }
}

/// The status a host exit gives; the in-memory state never fails.
fn status_of(exit: HostExit) -> Status {
    exit.into_status().expect("the in-memory state cannot fail")
}

std::thread_local! {
    static HOST: RefCell<Option<Host<MemoryState>>> = const { RefCell::new(None) };
    static IN_RUN: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
    static REGISTRY: RefCell<Registry> = RefCell::new(Registry::default());
}

/// Whether formatted panic messages are kept (the `panic-fmt` feature). If
/// not, the wasm build reverts with a placeholder instead, and so does
/// [`TestEnv`]: a native test sees exactly the message the contract gives.
pub const FORMATTED_PANICS_KEPT: bool = cfg!(feature = "panic-fmt");

/// Records panics inside runs as the wasm panic handler words them (and
/// keeps them off stderr); other panics go to the previous hook.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_RUN.with(Cell::get) {
                return previous(info);
            }
            // std passes a literal message (`fmt::Arguments::as_str` is
            // `Some`) as a `&'static str` payload and a formatted one as a
            // `String`: exactly the distinction the wasm panic handler makes.
            let payload = info.payload();
            let mut m = MsgBuf::<PANIC_MESSAGE_BYTES>::new();
            push_panic_location!(m, info.location());
            match payload.downcast_ref::<&str>() {
                Some(literal) => m.push_str(literal),
                None if FORMATTED_PANICS_KEPT => {
                    m.push_str(payload.downcast_ref::<String>().map_or("", String::as_str))
                }
                None => m.push_str(crate::msg::FORMATTED_PANIC_PLACEHOLDER),
            };
            let text = String::from_utf8_lossy(m.as_bytes()).into_owned();
            LAST_PANIC.with(|p| *p.borrow_mut() = Some(text));
        }));
    });
}

/// Runs a host call on the current run's host; a call that ends the run
/// unwinds to [`TestEnv`] with its [`HostExit`] (`resume_unwind` skips the
/// panic hook).
fn with_host<R>(f: impl FnOnce(&mut Host<MemoryState>) -> Result<R, HostExit>) -> R {
    let r = HOST.with(|cell| {
        let mut guard = cell.borrow_mut();
        let host = guard.as_mut().expect(
            "a verity-sdk host function was called outside TestEnv::call or TestEnv::invoke",
        );
        f(host)
    });
    match r {
        Ok(v) => v,
        Err(exit) => resume_unwind(Box::new(exit)),
    }
}

/// A guest memory holding `parts` one after another, as a contract's
/// arguments would lie in its linear memory; returns it with each part's
/// offset and length as the ABI's `i32`s.
fn memory_of<const N: usize>(parts: [&[u8]; N]) -> (Vec<u8>, [(i32, i32); N]) {
    let mut bytes = Vec::new();
    let spans = parts.map(|p| {
        let at = bytes.len() as i32;
        bytes.extend_from_slice(p);
        (at, p.len() as i32)
    });
    (bytes, spans)
}

/// The native implementations behind [`crate::host`]: each lays the call's
/// slices out as guest memory and calls the host function of the same name.
pub(crate) mod host {
    use super::*;

    fn len(n: i32) -> usize {
        n as u32 as usize
    }

    pub(crate) fn input_len() -> usize {
        len(with_host(|h| h.input_len(&mut GuestMemory::absent())))
    }
    pub(crate) fn input_read(dst: &mut [u8]) {
        with_host(|h| h.input_read(&mut GuestMemory::new(dst), 0))
    }
    pub(crate) fn sender_len() -> usize {
        len(with_host(|h| h.sender_len(&mut GuestMemory::absent())))
    }
    pub(crate) fn sender_read(dst: &mut [u8]) {
        with_host(|h| h.sender_read(&mut GuestMemory::new(dst), 0))
    }
    pub(crate) fn context_len() -> usize {
        len(with_host(|h| h.context_len(&mut GuestMemory::absent())))
    }
    pub(crate) fn context_read(dst: &mut [u8]) {
        with_host(|h| h.context_read(&mut GuestMemory::new(dst), 0))
    }
    pub(crate) fn block_height() -> u64 {
        with_host(|h| h.block_height(&mut GuestMemory::absent())) as u64
    }
    pub(crate) fn block_time() -> u64 {
        with_host(|h| h.block_time(&mut GuestMemory::absent())) as u64
    }
    pub(crate) fn chain_id_len() -> usize {
        len(with_host(|h| h.chain_id_len(&mut GuestMemory::absent())))
    }
    pub(crate) fn chain_id_read(dst: &mut [u8]) {
        with_host(|h| h.chain_id_read(&mut GuestMemory::new(dst), 0))
    }
    pub(crate) fn output_set(data: &[u8]) {
        let (mut mem, [(p, n)]) = memory_of([data]);
        with_host(|h| h.output_set(&mut GuestMemory::new(&mut mem), p, n))
    }
    pub(crate) fn storage_read(key: &[u8], dst: &mut [u8]) -> Option<usize> {
        let (mut mem, [(kp, kn), (dp, dn)]) = memory_of([key, dst]);
        let found = with_host(|h| h.storage_read(&mut GuestMemory::new(&mut mem), kp, kn, dp, dn));
        dst.copy_from_slice(&mem[len(dp)..]);
        (found >= 0).then_some(len(found))
    }
    pub(crate) fn storage_write(key: &[u8], value: &[u8]) {
        let (mut mem, [(kp, kn), (vp, vn)]) = memory_of([key, value]);
        with_host(|h| h.storage_write(&mut GuestMemory::new(&mut mem), kp, kn, vp, vn))
    }
    pub(crate) fn storage_remove(key: &[u8]) {
        let (mut mem, [(kp, kn)]) = memory_of([key]);
        with_host(|h| h.storage_remove(&mut GuestMemory::new(&mut mem), kp, kn))
    }
    pub(crate) fn event_emit(topic: &[u8], data: &[u8]) {
        let (mut mem, [(tp, tn), (dp, dn)]) = memory_of([topic, data]);
        with_host(|h| h.event_emit(&mut GuestMemory::new(&mut mem), tp, tn, dp, dn))
    }
    pub(crate) fn abort(msg: &[u8]) -> ! {
        let (mut mem, [(p, n)]) = memory_of([msg]);
        with_host(|h| h.abort(&mut GuestMemory::new(&mut mem), p, n));
        unreachable!("abort always ends the run")
    }
    pub(crate) fn log(line: &[u8]) {
        let (mut mem, [(p, n)]) = memory_of([line]);
        with_host(|h| h.log(&mut GuestMemory::new(&mut mem), p, n))
    }
    pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
        let (mut mem, [(sp, sn), (dp, _)]) = memory_of([data, &[0; 32]]);
        with_host(|h| h.sha256(&mut GuestMemory::new(&mut mem), sp, sn, dp));
        mem[len(dp)..].try_into().expect("32 bytes")
    }
    pub(crate) fn keccak256(data: &[u8]) -> [u8; 32] {
        let (mut mem, [(sp, sn), (dp, _)]) = memory_of([data, &[0; 32]]);
        with_host(|h| h.keccak256(&mut GuestMemory::new(&mut mem), sp, sn, dp));
        mem[len(dp)..].try_into().expect("32 bytes")
    }
    pub(crate) fn ed25519_verify(key: &[u8; 32], sig: &[u8; 64], msg: &[u8]) -> i32 {
        let (mut mem, [(kp, _), (sp, _), (mp, mn)]) = memory_of([key, sig, msg]);
        with_host(|h| h.ed25519_verify(&mut GuestMemory::new(&mut mem), kp, sp, mp, mn))
    }
    pub(crate) fn secp256k1_verify(key: &[u8], digest: &[u8; 32], sig: &[u8; 64]) -> i32 {
        let (mut mem, [(kp, kn), (dp, _), (sp, _)]) = memory_of([key, digest, sig]);
        with_host(|h| h.secp256k1_verify(&mut GuestMemory::new(&mut mem), kp, kn, dp, sp))
    }
    pub(crate) fn secp256k1_recover(digest: &[u8; 32], sig: &[u8; 64], id: u8) -> (i32, [u8; 33]) {
        let (mut mem, [(dp, _), (sp, _), (op, _)]) = memory_of([digest, sig, &[0; 33]]);
        let r = with_host(|h| {
            h.secp256k1_recover(&mut GuestMemory::new(&mut mem), dp, sp, i32::from(id), op)
        });
        (r, mem[len(op)..].try_into().expect("33 bytes"))
    }
    pub(crate) fn p256_verify(key: &[u8], digest: &[u8; 32], sig: &[u8; 64]) -> i32 {
        let (mut mem, [(kp, kn), (dp, _), (sp, _)]) = memory_of([key, digest, sig]);
        with_host(|h| h.p256_verify(&mut GuestMemory::new(&mut mem), kp, kn, dp, sp))
    }
    pub(crate) fn current_contract() -> [u8; 32] {
        let mut out = [0u8; 32];
        with_host(|h| h.current_contract(&mut GuestMemory::new(&mut out), 0));
        out
    }
    pub(crate) fn caller_len() -> usize {
        len(with_host(|h| h.caller_len(&mut GuestMemory::absent())))
    }
    pub(crate) fn caller_read(dst: &mut [u8]) {
        with_host(|h| h.caller_read(&mut GuestMemory::new(dst), 0))
    }
    /// A call from a native test: checked and charged as in a run, then
    /// performed on the contract [registered](TestEnv::register) at the
    /// address (refused if there is none).
    pub(crate) fn call(contract: &[u8; 32], entry: &[u8], input: &[u8], fuel_cap: u64) -> i32 {
        let (mut mem, [(cp, _), (ep, en), (ip, inl)]) = memory_of([contract, entry, input]);
        let (code, request) = with_host(|h| {
            let code = h.call(
                &mut GuestMemory::new(&mut mem),
                cp,
                ep,
                en,
                ip,
                inl,
                fuel_cap as i64,
            )?;
            Ok((code, h.take_call_request()))
        });
        match request {
            Some(request) => perform(request),
            None => code,
        }
    }
    pub(crate) fn call_output_len() -> usize {
        len(with_host(|h| h.call_output_len(&mut GuestMemory::absent())))
    }
    pub(crate) fn call_output_read(dst: &mut [u8]) {
        with_host(|h| h.call_output_read(&mut GuestMemory::new(dst), 0))
    }
    pub(crate) fn update_current_contract_code(code_hash: &[u8; 32]) -> i32 {
        let mut mem = code_hash.to_vec();
        with_host(|h| h.update_current_contract_code(&mut GuestMemory::new(&mut mem), 0))
    }
}
