//! One run's host: the transaction, the overlay over the pre-state, the
//! outputs, and the fuel host calls take.

use std::vec::Vec;

use verity_host_abi::contract::{ContractId, STORAGE_PREFIX_BYTES, storage_key, storage_prefix};
use verity_host_abi::{
    CallEntry, CostClass, CostSchedule, Event, Hash32, Limits, ReadEntry, Status, WriteEntry,
    for_each_host_fn,
};

use crate::calls;
use crate::exit::HostExit;
use crate::frames::{CallRecord, CallRequest, Frame};
use crate::memory::GuestMemory;
use crate::overlay::Overlay;
use crate::state::{StateError, StateView};

/// The transaction's fields the guest can read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxBytes {
    /// Input bytes (`input_read`).
    pub input: Vec<u8>,
    /// The sender (`sender_read`).
    pub sender: Vec<u8>,
    /// The embedder's context blob (`context_read`).
    pub context: Vec<u8>,
    /// The chain context (`block_height`, `block_time`, `chain_id_read`).
    pub chain: ChainContext,
}

/// Where and when a transaction runs, as the embedder says: committed in
/// the receipt, read by the guest with one host call each.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChainContext {
    /// The block height.
    pub height: u64,
    /// The block time (seconds since the Unix epoch, by convention).
    pub time: u64,
    /// The chain id, up to the profile's `max_chain_id_bytes`.
    pub chain_id: String,
}

/// What a run leaves behind for its receipt.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Effects {
    /// Keys read from the pre-state with the values seen, sorted by key.
    pub reads: Vec<ReadEntry>,
    /// The write set, sorted by key (`None` removes).
    pub writes: Vec<WriteEntry>,
    /// The calls between contracts, in pre-order (docs/calls.md).
    pub calls: Vec<CallEntry>,
    /// Events in emission order.
    pub events: Vec<Event>,
    /// The output bytes.
    pub output: Vec<u8>,
}

/// A finished run: its effects, and the transaction bytes and backend the
/// host held, handed back.
#[derive(Debug)]
pub struct Finished<B> {
    /// What the receipt records.
    pub effects: Effects,
    /// The run's debug log lines, in order (not in the receipt).
    pub logs: Vec<String>,
    /// The transaction's byte fields.
    pub tx: TxBytes,
    /// What host calls took, by class (not in the receipt).
    pub host_fuel: HostFuel,
    /// The pre-state.
    pub backend: B,
}

/// The fuel host calls took, by the cost class of the function called: the
/// host-call part of a run's fuel profile. Every unit a host function takes
/// (its base, its bytes, a storage read's value) is counted under its
/// class; a charge that could not be paid ends the run and is not counted.
///
/// ```
/// use verity_host_abi::CostClass;
/// use verity_host_core::HostFuel;
///
/// let spent = HostFuel::default();
/// assert_eq!(spent.get(CostClass::storage_read), (0, 0));
/// assert_eq!(spent.total(), 0);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostFuel {
    /// Calls and fuel, indexed as [`CostClass::ALL`].
    by_class: [(u64, u64); CLASSES],
}

const CLASSES: usize = CostClass::ALL.len();

impl HostFuel {
    /// The calls made of functions of `class`, and the fuel they took.
    pub fn get(&self, class: CostClass) -> (u64, u64) {
        self.by_class[class as usize]
    }

    /// The classes with at least one call: (class, calls, fuel), in
    /// schedule order.
    pub fn iter(&self) -> impl Iterator<Item = (CostClass, u64, u64)> + '_ {
        CostClass::ALL
            .iter()
            .map(|c| (*c, self.by_class[*c as usize]))
            .filter(|(_, (calls, _))| *calls > 0)
            .map(|(c, (calls, fuel))| (c, calls, fuel))
    }

    /// All the fuel host calls took.
    pub fn total(&self) -> u64 {
        self.by_class.iter().map(|(_, f)| f).sum()
    }

    fn add(&mut self, class: CostClass, fuel: u64) {
        let entry = &mut self.by_class[class as usize];
        entry.0 += 1;
        entry.1 += fuel;
    }
}

/// The host of one run: the rules of every host function, over a pre-state
/// `B`, for one contract.
///
/// The guest's storage keys are its own: the host puts the contract's
/// storage prefix (docs/state.md) before each, so no key a guest passes
/// reaches another contract's storage, a contract record or code.
///
/// Each function of the host ABI is a method of the same name taking the
/// guest's memory and the function's `i32` arguments: it takes the
/// function's base cost, then checks, charges per byte and acts in the
/// order docs/abi.md and docs/costs.md give. Fuel comes from
/// [`fuel_left`](Self::fuel_left); an engine that meters the guest's own
/// instructions sets it before each call and reads it back after.
pub struct Host<B> {
    backend: B,
    /// The running contract.
    pub(crate) contract: ContractId,
    /// The callees' frames above the transaction's own, innermost last.
    pub(crate) frames: Vec<Frame>,
    /// The call tree so far, in pre-order.
    pub(crate) calls: Vec<CallRecord>,
    /// A call the guest asked for, until the engine takes it.
    pub(crate) call_request: Option<CallRequest>,
    /// The output of the last call that ended.
    pub(crate) call_output: Vec<u8>,
    /// The code the running frame asked its contract to run once it
    /// returns successfully (`update_current_contract_code`).
    pub(crate) pending_code: Option<Hash32>,
    /// The running contract's storage prefix, then the key being read.
    pub(crate) key_buf: Vec<u8>,
    pub(crate) tx: TxBytes,
    pub(crate) limits: Limits,
    pub(crate) costs: CostSchedule,
    pub(crate) fuel_left: u64,
    pub(crate) overlay: Overlay,
    pub(crate) events: Vec<Event>,
    pub(crate) output: Vec<u8>,
    pub(crate) logs: Vec<String>,
    /// Bytes of `logs`.
    pub(crate) log_bytes: usize,
    pub(crate) host_fuel: HostFuel,
    /// For each open savepoint, how many events there were when it opened.
    event_marks: Vec<usize>,
}

impl<B: StateView> Host<B> {
    /// A host for a run of `tx` by `contract` against `backend` under a
    /// profile's `limits` and `costs`, with `fuel` for host calls.
    pub fn new(
        backend: B,
        contract: &ContractId,
        tx: TxBytes,
        limits: &Limits,
        costs: &CostSchedule,
        fuel: u64,
    ) -> Self {
        let mut key_buf = Vec::with_capacity(STORAGE_PREFIX_BYTES + limits.max_key_bytes as usize);
        key_buf.extend_from_slice(&storage_prefix(contract));
        Host {
            backend,
            contract: *contract,
            frames: Vec::new(),
            calls: Vec::new(),
            call_request: None,
            call_output: Vec::new(),
            pending_code: None,
            key_buf,
            tx,
            limits: *limits,
            costs: *costs,
            fuel_left: fuel,
            overlay: Overlay::new(limits),
            events: Vec::new(),
            output: Vec::new(),
            logs: Vec::new(),
            log_bytes: 0,
            host_fuel: HostFuel::default(),
            event_marks: Vec::new(),
        }
    }

    /// Fuel left for host calls.
    pub fn fuel_left(&self) -> u64 {
        self.fuel_left
    }

    /// Sets the fuel left, e.g. from the guest's own meter before a host call.
    pub fn set_fuel_left(&mut self, fuel: u64) {
        self.fuel_left = fuel;
    }

    /// The host's own read of a state key (the contract record before a
    /// call or deploy): recorded in the read set, counted against no budget
    /// and charged nothing.
    pub fn system_read(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.overlay.get_system(&self.backend, key)
    }

    /// The host's own read of a key that is not recorded in the read set:
    /// stored code, which the contract record's code hash (a recorded read)
    /// authenticates, so a verifier is given the code by hash instead of in
    /// the receipt. The run's own writes come first: code stored earlier in
    /// the same transaction is found.
    pub fn system_peek(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        match self.overlay.written(key) {
            Some(value) => Ok(value.map(<[u8]>::to_vec)),
            None => self.backend.get(key),
        }
    }

    /// The host's own write of a state key (stored code, a contract
    /// record), counted against no budget. Like every write, it is kept
    /// only if the run succeeds.
    pub fn system_write(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.overlay.put_system(key, value);
    }

    /// Opens a savepoint over the run's writes and events: where a
    /// callee's frame begins. Savepoints nest; each is closed by
    /// [`close_savepoint`](Self::close_savepoint), innermost first. The
    /// overlay journals the old value of each key written while one is
    /// open (an undo log, not a copy of the writes).
    ///
    /// ```
    /// use verity_host_abi::{ContractId, CostSchedule, Limits, Status};
    /// use verity_host_core::{GuestMemory, Host, MemoryState, TxBytes};
    ///
    /// let state = MemoryState::default();
    /// let (limits, costs) = (Limits::default(), CostSchedule::default());
    /// let mut host = Host::new(&state, &ContractId([7; 32]), TxBytes::default(), &limits, &costs, 1_000_000);
    /// let mut bytes = *b"kv";
    /// let mut mem = GuestMemory::new(&mut bytes);
    /// host.storage_write(&mut mem, 0, 1, 1, 1)?;
    /// host.savepoint();
    /// host.storage_remove(&mut mem, 0, 1)?;
    /// host.event_emit(&mut mem, 0, 1, 1, 1)?;
    /// host.storage_read(&mut mem, 1, 1, 0, 0)?; // reads key "v": recorded
    /// host.close_savepoint(false); // the frame failed
    /// let run = host.finish(&Status::Success);
    /// assert_eq!(run.effects.writes[0].value.as_deref(), Some(&b"v"[..])); // the write before
    /// assert!(run.effects.events.is_empty());
    /// assert_eq!(run.effects.reads.len(), 1); // what the failed frame saw stays
    /// # Ok::<(), verity_host_core::HostExit>(())
    /// ```
    pub fn savepoint(&mut self) {
        self.overlay.savepoint();
        self.event_marks.push(self.events.len());
    }

    /// Closes the innermost savepoint: with `keep` (the frame succeeded)
    /// its writes and events stay, now the enclosing frame's; without, they
    /// are undone. Reads stay recorded either way: they were observed. A
    /// call with no savepoint open changes nothing.
    pub fn close_savepoint(&mut self, keep: bool) {
        let Some(mark) = self.event_marks.pop() else {
            return;
        };
        if keep {
            self.overlay.release();
        } else {
            self.overlay.rollback();
            self.events.truncate(mark);
        }
    }

    /// The state key of the running contract's storage key `key`.
    pub(crate) fn scoped(&self, key: &[u8]) -> Vec<u8> {
        storage_key(&self.contract, key)
    }

    /// Ends the run with `status`. A run that did not succeed keeps its read
    /// set (what it saw, which a verifier needs to re-execute it) and
    /// nothing else: no writes, events or output.
    pub fn finish(mut self, status: &Status) -> Finished<B> {
        if status.is_success() {
            self.apply_code_change();
        }
        let (reads, writes) = self.overlay.into_sets();
        let effects = if status.is_success() {
            let calls = self.calls.into_iter().map(CallRecord::into_entry).collect();
            Effects {
                reads,
                writes,
                calls,
                events: self.events,
                output: self.output,
            }
        } else {
            Effects {
                reads,
                ..Effects::default()
            }
        };
        Finished {
            effects,
            logs: self.logs,
            tx: self.tx,
            host_fuel: self.host_fuel,
            backend: self.backend,
        }
    }

    /// Takes `fuel`, or ends the run with `out_of_fuel` (after which the
    /// fuel left does not matter: the run's `fuel_used` is its whole limit).
    pub(crate) fn charge(&mut self, fuel: u64) -> Result<(), HostExit> {
        take_fuel(&mut self.fuel_left, fuel)
    }

    /// Charges the per-byte part of `class` for `bytes` bytes.
    pub(crate) fn charge_bytes(&mut self, class: CostClass, bytes: usize) -> Result<(), HostExit> {
        let per_unit = self.costs.get(class).per_unit;
        self.charge(per_unit.saturating_mul(bytes as u64))
    }

    /// The backend, the overlay and the key buffer, borrowed apart (a read
    /// needs all three).
    pub(crate) fn state_parts(
        &mut self,
    ) -> (&B, &mut Overlay, &mut u64, &CostSchedule, &mut Vec<u8>) {
        (
            &self.backend,
            &mut self.overlay,
            &mut self.fuel_left,
            &self.costs,
            &mut self.key_buf,
        )
    }
}

/// Takes `fuel` from `left`, or `out_of_fuel`.
pub(crate) fn take_fuel(left: &mut u64, fuel: u64) -> Result<(), HostExit> {
    if fuel > *left {
        return Err(HostExit::OutOfFuel);
    }
    *left -= fuel;
    Ok(())
}

macro_rules! ret {
    () => {
        ()
    };
    ($r:ident) => {
        $r
    };
}

macro_rules! host_methods {
    ($( $(#[$meta:meta])* fn $name:ident ( $($p:ident : $t:ident),* ) $(-> $r:ident)?,
        cost = $cost:ident, bytes = $bytes:literal; )*) => {
        /// The host ABI's functions, generated from its table: each takes the
        /// function's base cost, then runs its rules.
        impl<B: StateView> Host<B> {
            $(
                $(#[$meta])*
                // The ABI's functions take what the table says (`call` six).
                #[allow(clippy::too_many_arguments)]
                pub fn $name(
                    &mut self,
                    mem: &mut GuestMemory<'_>,
                    $($p: $t),*
                ) -> Result<ret!($($r)?), HostExit> {
                    let before = self.fuel_left;
                    let result = match self.charge(self.costs.get(CostClass::$cost).base) {
                        Ok(()) => calls::$name(self, mem, $($p),*),
                        Err(e) => Err(e),
                    };
                    let taken = before.saturating_sub(self.fuel_left);
                    self.host_fuel.add(CostClass::$cost, taken);
                    result
                }
            )*
        }
    };
}

for_each_host_fn!(host_methods);
