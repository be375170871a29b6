//! Calls between contracts in wasmtime: the engine half of `call`
//! (docs/calls.md). The host half (checks, charges, the frame stack, the
//! savepoints) is `verity_host_core`'s; here the callee is resolved,
//! instantiated in a store of its own, metered from its caller's fuel and
//! stack depth, and run, and the run's host moves into that store for the
//! call and back out when it ends.

use verity_host_abi::abi::{CALL_REFUSED, CALL_SUCCESS};
use verity_host_abi::{ContractId, Status};
use verity_host_core::{CallRequest, Host, HostExit, StateError, StateView, TxBytes};
use wasmtime::{AsContextMut, Val};

use crate::error::RuntimeError;
use crate::execution::{CallEnd, classify};
use crate::host::{HostState, PageLimiter, RunHost};
use crate::resolve::{CodeSource, Resolved};

/// The state a placeholder host reads: nothing. A placeholder stands in a
/// caller's store while the real host is in its callee's.
struct NoState;

impl StateView for NoState {
    fn get(&self, _key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(None)
    }
}

static NO_STATE: NoState = NoState;

/// Performs the call `request` the guest of `caller` asked for, returning
/// the code `call` returns to it; an `Err` ends the transaction (its own
/// fuel ran out in the callee, the native stack ran out, or the host
/// failed).
pub(crate) fn perform(
    caller: &mut impl AsContextMut<Data = HostState>,
    request: CallRequest,
) -> wasmtime::Result<i32> {
    let mut caller = caller.as_context_mut();
    let caller = &mut caller;
    let runtime = caller.data().runtime;
    let limits = runtime.profile.limits;
    let (Some(fuel), Some(depth)) = (caller.data().fuel, caller.data().depth) else {
        return Err(wasmtime::Error::msg("call before the meters were set"));
    };
    let left = fuel.get(&mut *caller).unwrap_i64() as u64;
    let depth_now = depth.get(&mut *caller).unwrap_i32() as u32;
    let host = &mut caller.data_mut().host;
    // The callee as the transaction sees the state: its record is a
    // recorded read, its module comes from the cache or its stored code.
    let resolved = runtime
        .resolve(host, request.callee, &CodeSource::State)
        .map_err(wasmtime::Error::new)?;
    let Ok(Resolved {
        module: Ok(module), ..
    }) = resolved
    else {
        return Ok(CALL_REFUSED);
    };
    let Ok(entry) = module.entry(&request.entry) else {
        return Ok(CALL_REFUSED);
    };
    let max_depth = limits.max_call_depth;
    if host
        .enter_call(request.callee, &request.entry, request.input, max_depth)
        .is_err()
    {
        return Ok(CALL_REFUSED);
    }
    let budget = request.fuel_cap.map_or(left, |cap| cap.min(left));
    let placeholder = Host::new(
        &NO_STATE as &'static dyn StateView,
        &ContractId::default(),
        TxBytes::default(),
        &limits,
        &runtime.profile.costs,
        0,
    );
    let host = std::mem::replace(&mut caller.data_mut().host, placeholder);
    let data = HostState {
        host,
        memory: None,
        fuel: None,
        depth: None,
        limiter: PageLimiter::new(&limits),
        runtime,
    };
    let (end, mut host) = run_callee(runtime, &module, entry, data, budget, depth_now);
    // How the callee ended, or what ends the transaction: a host failure,
    // or the native stack running out (where that happens depends on the
    // compiler, so the transaction ends as a top-level overflow does).
    let ended = end.map_err(wasmtime::Error::new).and_then(|end| {
        let native_overflow = end.native_overflow();
        match end.result {
            Ok(()) => Ok((Status::Success, end.fuel_left)),
            Err(e) if native_overflow => Err(e),
            Err(e) => Ok((
                classify(e, end.exit).map_err(wasmtime::Error::new)?,
                end.fuel_left,
            )),
        }
    });
    let (status, budget_left) = match ended {
        Ok(ended) => ended,
        Err(e) => {
            host.leave_call(&Status::OutOfFuel, budget);
            caller.data_mut().host = host;
            return Err(e);
        }
    };
    let ended = host.end_call(&status, left, budget, budget_left);
    caller.data_mut().host = host;
    // The transaction's own fuel running out in the callee ends it.
    let (code, rest) = ended.map_err(wasmtime::Error::new)?;
    fuel.set(&mut *caller, Val::I64(rest as i64))?;
    Ok(code)
}

/// Instantiates the callee in a store holding `data` and runs its entry
/// with `budget` fuel, `base_depth` stack slots in use; returns how it
/// ended and the host, taken back out of the store (whatever happened).
fn run_callee(
    runtime: &crate::Runtime,
    module: &crate::PreparedModule,
    entry: crate::prepared::EntryPoint,
    data: HostState,
    budget: u64,
    base_depth: u32,
) -> (Result<CallEnd, RuntimeError>, RunHost) {
    let (mut store, instance) = match runtime.instantiate(module, data) {
        Ok(pair) => pair,
        Err((e, data)) => return (Err(e), data.host),
    };
    let end = match instance {
        Err(e) => Ok(CallEnd::failed(e, budget)),
        Ok(instance) => runtime.call(
            module,
            entry,
            &instance,
            &mut store,
            Some(budget),
            base_depth,
            true,
        ),
    };
    (end, store.into_data().host)
}

/// The entry of new code that runs once when a contract switches to it.
pub(crate) const MIGRATE_ENTRY: &str = "__migrate";

/// After the running frame's entry returned successfully: if it asked to
/// switch its contract's code, the record is rewritten now (so that a call
/// resolves the new code), and the new code's `__migrate`, if it has one,
/// runs once as a direct self-call with the old code hash as input. A
/// failed migration fails the frame, which undoes the switch with
/// everything else the frame did (docs/calls.md, "Upgrade").
pub(crate) fn migrate(store: &mut wasmtime::Store<HostState>) -> wasmtime::Result<()> {
    let data = store.data_mut();
    let runtime = data.runtime;
    let Some((old, new)) = data.host.apply_code_change() else {
        return Ok(());
    };
    let contract = data.host.contract();
    let has_migrate = match runtime
        .module(&CodeSource::State, contract, new, &data.host)
        .map_err(wasmtime::Error::new)?
    {
        Ok(module) => module.entry(MIGRATE_ENTRY).is_ok(),
        Err(_) => false,
    };
    if !has_migrate {
        return Ok(());
    }
    let request = CallRequest {
        callee: contract,
        entry: MIGRATE_ENTRY.to_string(),
        input: old.0.to_vec(),
        fuel_cap: None,
    };
    match perform(store, request)? {
        CALL_SUCCESS => Ok(()),
        code => Err(wasmtime::Error::new(HostExit::Abort(format!(
            "__migrate of the new code {new} failed (call code {code}): the upgrade is undone"
        )))),
    }
}
