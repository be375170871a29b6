//! Host functions in wasmtime: the store data, the page limiter, and the
//! linker that hands each call of host ABI v1 to its rules in
//! verity-host-core. The linker is generated from the ABI table in
//! verity-host-abi, so a function whose signature differs from the table
//! does not compile; nothing here decides what a host function does.

use verity_host_abi::abi::IMPORT_MODULE;
use verity_host_abi::limits::WASM_PAGE_BYTES;
use verity_host_abi::{Limits, for_each_host_fn};
use verity_host_core::{GuestMemory, Host, HostExit, StateView};
use wasmtime::{Caller, Global, Linker, Memory, ResourceLimiter, Val};

/// The host rules of one run, over the borrowed pre-state.
pub(crate) type RunHost = Host<&'static dyn StateView>;

/// The data of every store: the host rules' state for the run, and what
/// wasmtime needs to reach the guest (its memory and fuel global) and to
/// cap its growth.
pub(crate) struct HostState {
    /// The run's host. Its backend is `'static` only in type: see the
    /// SAFETY comment where the host is created in `execution.rs`; the
    /// store never outlives the borrow the reference was made from.
    pub(crate) host: RunHost,
    pub(crate) memory: Option<Memory>,
    /// The instrumented module's fuel global (fuel left).
    pub(crate) fuel: Option<Global>,
    /// The instrumented module's depth global (stack slots in use): a
    /// callee's count starts from it.
    pub(crate) depth: Option<Global>,
    pub(crate) limiter: PageLimiter,
    /// The runtime running the transaction, for calls: `'static` only in
    /// type, like the host's backend (see where it is set in
    /// `execution.rs`).
    pub(crate) runtime: &'static crate::Runtime,
}

/// Caps memory and table growth at the profile's limits, so `memory.grow`
/// past the cap returns -1 whatever the OS would allow.
pub(crate) struct PageLimiter {
    pub(crate) max_memory_bytes: u64,
    pub(crate) max_table_elements: u64,
    pub(crate) max_tables: usize,
}

impl PageLimiter {
    pub(crate) fn new(limits: &Limits) -> Self {
        PageLimiter {
            max_memory_bytes: u64::from(limits.max_memory_pages) * u64::from(WASM_PAGE_BYTES),
            max_table_elements: u64::from(limits.max_table_elements),
            max_tables: limits.max_tables as usize,
        }
    }
}

impl ResourceLimiter for PageLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired as u64 <= self.max_memory_bytes)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired as u64 <= self.max_table_elements)
    }

    fn instances(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        self.max_tables
    }

    fn memories(&self) -> usize {
        1
    }
}

pub(crate) type Ctx<'a> = Caller<'a, HostState>;

/// Runs `f` with the run's host and the guest's memory: the exported linear
/// memory if the module has one, an absent memory if not.
fn with_memory<R>(
    caller: &mut Ctx<'_>,
    f: impl FnOnce(&mut RunHost, &mut GuestMemory<'_>) -> R,
) -> R {
    match caller.data().memory {
        Some(memory) => {
            let (data, state) = memory.data_and_store_mut(caller);
            f(&mut state.host, &mut GuestMemory::new(data))
        }
        None => f(&mut caller.data_mut().host, &mut GuestMemory::absent()),
    }
}

/// Runs one host call with fuel accounting: the fuel global is read once
/// into the host's meter, the call takes its costs from there, and what is
/// left is written back whether the call succeeded or not (a trap after a
/// charge still counts the charge, as docs/costs.md says).
fn metered<R>(
    caller: &mut Ctx<'_>,
    call: impl FnOnce(&mut RunHost, &mut GuestMemory<'_>) -> Result<R, HostExit>,
) -> wasmtime::Result<R> {
    let global = caller
        .data()
        .fuel
        .ok_or_else(|| wasmtime::Error::msg("fuel global not set"))?;
    let left = global.get(&mut *caller).unwrap_i64() as u64;
    let (result, left) = with_memory(caller, |host, mem| {
        host.set_fuel_left(left);
        let result = call(host, mem);
        (result, host.fuel_left())
    });
    global.set(&mut *caller, Val::I64(left as i64))?;
    result.map_err(wasmtime::Error::new)
}

macro_rules! ret {
    () => {
        ()
    };
    ($r:ident) => {
        $r
    };
}

/// A host function's result, replaced by the code of the call the guest
/// asked for, if it asked for one (only `call` can, and it returns `i32`).
trait CallResult: Sized {
    fn perform(self, caller: &mut Ctx<'_>) -> wasmtime::Result<Self>;
}

impl CallResult for i32 {
    fn perform(self, caller: &mut Ctx<'_>) -> wasmtime::Result<i32> {
        match caller.data_mut().host.take_call_request() {
            Some(request) => crate::frames::perform(caller, request),
            None => Ok(self),
        }
    }
}

impl CallResult for i64 {
    fn perform(self, _caller: &mut Ctx<'_>) -> wasmtime::Result<i64> {
        Ok(self)
    }
}

impl CallResult for () {
    fn perform(self, _caller: &mut Ctx<'_>) -> wasmtime::Result<()> {
        Ok(())
    }
}

macro_rules! link_host_fns {
    ($( $(#[$meta:meta])* fn $name:ident ( $($p:ident : $t:ident),* ) $(-> $r:ident)?,
        cost = $cost:ident, bytes = $bytes:literal; )*) => {
        /// Defines every host function of the ABI table in `linker`: each
        /// runs the function's rules in verity-host-core, with the fuel
        /// global read and written once per call.
        pub(crate) fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
            $(
                linker.func_wrap(
                    IMPORT_MODULE,
                    stringify!($name),
                    |mut caller: Ctx<'_>, $($p: $t),*| -> wasmtime::Result<ret!($($r)?)> {
                        let result = metered(&mut caller, |host, mem| host.$name(mem, $($p),*))?;
                        // Only `call` leaves a request; the engine performs
                        // it and its code is the function's result.
                        CallResult::perform(result, &mut caller)
                    },
                )?;
            )*
            Ok(())
        }
    };
}

for_each_host_fn!(link_host_fns);
