//! Minimal hosts for the reference columns: the host ABI's functions on
//! plain wasmtime (no metering, no instrumentation) and on wasmi (its own
//! fuel on), with a `HashMap` state, no limits, no read/write sets and no
//! receipt. They run the same `.wasm` Verity runs, so the comparison
//! isolates what Verity's guarantees cost.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

/// The state of one run on a reference host.
#[derive(Default)]
pub struct MiniHost {
    pub input: Vec<u8>,
    pub sender: Vec<u8>,
    pub output: Vec<u8>,
    /// Committed state, shared by reference across runs.
    pub base: std::sync::Arc<HashMap<Vec<u8>, Vec<u8>>>,
    /// This run's writes (`None` removes).
    pub writes: HashMap<Vec<u8>, Option<Vec<u8>>>,
    pub events: Vec<(Vec<u8>, Vec<u8>)>,
    pub aborted: Option<String>,
}

impl MiniHost {
    fn get(&self, key: &[u8]) -> Option<&[u8]> {
        match self.writes.get(key) {
            Some(w) => w.as_deref(),
            None => self.base.get(key).map(Vec::as_slice),
        }
    }

    /// A digest of the run's effects, standing in for Verity's receipt hash
    /// so both sides do comparable final work.
    pub fn digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(&self.output);
        let mut writes: Vec<_> = self.writes.iter().collect();
        writes.sort();
        for (k, v) in writes {
            h.update(k);
            h.update(v.as_deref().unwrap_or_default());
        }
        for (t, d) in &self.events {
            h.update(t);
            h.update(d);
        }
        h.finalize().into()
    }
}

fn range(ptr: i32, len: usize, mem_len: usize) -> Option<std::ops::Range<usize>> {
    let start = ptr as u32 as usize;
    let end = start.checked_add(len)?;
    (end <= mem_len).then_some(start..end)
}

/// Defines the host ABI on a linker. The two engines' APIs are alike enough
/// for one macro: the linker, the caller type and an error constructor.
macro_rules! define_host {
    ($linker:expr, $Caller:ty, $err:expr) => {{
        let l = $linker;
        macro_rules! mem {
            ($c:ident) => {
                $c.get_export("memory")
                    .and_then(|e| e.into_memory())
                    .ok_or_else(|| $err("no memory"))?
            };
        }
        l.func_wrap("verity", "input_len", |c: $Caller| -> Result<i32, _> {
            Ok(c.data().input.len() as i32)
        })?;
        l.func_wrap(
            "verity",
            "input_read",
            |mut c: $Caller, dst: i32| -> Result<(), _> {
                let m = mem!(c);
                let (data, st) = m.data_and_store_mut(&mut c);
                let r =
                    range(dst, st.input.len(), data.len()).ok_or_else(|| $err("bad pointer"))?;
                data[r].copy_from_slice(&st.input);
                Ok(())
            },
        )?;
        // The caller of a transaction's own frame is its sender: these
        // hosts run no calls between contracts.
        for (len, read) in [("sender_len", "sender_read"), ("caller_len", "caller_read")] {
            l.func_wrap("verity", len, |c: $Caller| -> Result<i32, _> {
                Ok(c.data().sender.len() as i32)
            })?;
            l.func_wrap(
                "verity",
                read,
                |mut c: $Caller, dst: i32| -> Result<(), _> {
                    let m = mem!(c);
                    let (data, st) = m.data_and_store_mut(&mut c);
                    let r = range(dst, st.sender.len(), data.len())
                        .ok_or_else(|| $err("bad pointer"))?;
                    data[r].copy_from_slice(&st.sender);
                    Ok(())
                },
            )?;
        }
        l.func_wrap("verity", "context_len", |_c: $Caller| -> Result<i32, _> {
            Ok(0)
        })?;
        l.func_wrap(
            "verity",
            "context_read",
            |_c: $Caller, _dst: i32| -> Result<(), _> { Ok(()) },
        )?;
        l.func_wrap(
            "verity",
            "output_set",
            |mut c: $Caller, ptr: i32, len: i32| -> Result<(), _> {
                let m = mem!(c);
                let (data, st) = m.data_and_store_mut(&mut c);
                let r = range(ptr, len as u32 as usize, data.len())
                    .ok_or_else(|| $err("bad pointer"))?;
                st.output = data[r].to_vec();
                Ok(())
            },
        )?;
        l.func_wrap(
            "verity",
            "storage_read",
            |mut c: $Caller, kp: i32, kl: i32, dst: i32, cap: i32| -> Result<i32, _> {
                let m = mem!(c);
                let (data, st) = m.data_and_store_mut(&mut c);
                let kr =
                    range(kp, kl as u32 as usize, data.len()).ok_or_else(|| $err("bad pointer"))?;
                let Some(v) = st.get(&data[kr]) else {
                    return Ok(-1);
                };
                if v.len() <= cap as u32 as usize {
                    let r = range(dst, v.len(), data.len()).ok_or_else(|| $err("bad pointer"))?;
                    data[r].copy_from_slice(v);
                }
                Ok(v.len() as i32)
            },
        )?;
        l.func_wrap(
            "verity",
            "storage_write",
            |mut c: $Caller, kp: i32, kl: i32, vp: i32, vl: i32| -> Result<(), _> {
                let m = mem!(c);
                let (data, st) = m.data_and_store_mut(&mut c);
                let kr =
                    range(kp, kl as u32 as usize, data.len()).ok_or_else(|| $err("bad pointer"))?;
                let vr =
                    range(vp, vl as u32 as usize, data.len()).ok_or_else(|| $err("bad pointer"))?;
                st.writes.insert(data[kr].to_vec(), Some(data[vr].to_vec()));
                Ok(())
            },
        )?;
        l.func_wrap(
            "verity",
            "storage_remove",
            |mut c: $Caller, kp: i32, kl: i32| -> Result<(), _> {
                let m = mem!(c);
                let (data, st) = m.data_and_store_mut(&mut c);
                let kr =
                    range(kp, kl as u32 as usize, data.len()).ok_or_else(|| $err("bad pointer"))?;
                st.writes.insert(data[kr].to_vec(), None);
                Ok(())
            },
        )?;
        l.func_wrap(
            "verity",
            "event_emit",
            |mut c: $Caller, tp: i32, tl: i32, dp: i32, dl: i32| -> Result<(), _> {
                let m = mem!(c);
                let (data, st) = m.data_and_store_mut(&mut c);
                let tr =
                    range(tp, tl as u32 as usize, data.len()).ok_or_else(|| $err("bad pointer"))?;
                let dr =
                    range(dp, dl as u32 as usize, data.len()).ok_or_else(|| $err("bad pointer"))?;
                st.events.push((data[tr].to_vec(), data[dr].to_vec()));
                Ok(())
            },
        )?;
        l.func_wrap(
            "verity",
            "abort",
            |mut c: $Caller, p: i32, len: i32| -> Result<(), _> {
                let m = mem!(c);
                let (data, st) = m.data_and_store_mut(&mut c);
                let r =
                    range(p, len as u32 as usize, data.len()).ok_or_else(|| $err("bad pointer"))?;
                st.aborted = Some(String::from_utf8_lossy(&data[r]).into_owned());
                Err($err("abort"))
            },
        )?;
        l.func_wrap(
            "verity",
            "sha256",
            |mut c: $Caller, sp: i32, sl: i32, dst: i32| -> Result<(), _> {
                let m = mem!(c);
                let data = m.data_mut(&mut c);
                let sr =
                    range(sp, sl as u32 as usize, data.len()).ok_or_else(|| $err("bad pointer"))?;
                let dr = range(dst, 32, data.len()).ok_or_else(|| $err("bad pointer"))?;
                let digest: [u8; 32] = Sha256::digest(&data[sr]).into();
                data[dr].copy_from_slice(&digest);
                Ok(())
            },
        )?;
    }};
}

/// Plain wasmtime: no fuel, no instrumentation, Cranelift, pooled
/// instances.
pub mod wasmtime_host {
    use super::*;
    use wasmtime::{Caller, Engine, InstancePre, Linker, Module, Store};

    pub struct Wasmtime {
        engine: Engine,
        linker: Linker<MiniHost>,
        fuel: bool,
    }

    fn err(msg: &'static str) -> wasmtime::Error {
        wasmtime::Error::msg(msg)
    }

    impl Wasmtime {
        /// Plain wasmtime; with `fuel`, wasmtime's own fuel metering on
        /// (for comparison with Verity's instrumentation).
        pub fn new(fuel: bool) -> anyhow::Result<Self> {
            let mut config = wasmtime::Config::new();
            config.cranelift_nan_canonicalization(true);
            config.consume_fuel(fuel);
            // The same instance pool Verity uses, so that the column differs
            // from Verity's only in what Verity guarantees.
            let mut pool = wasmtime::PoolingAllocationConfig::new();
            pool.total_core_instances(16)
                .total_memories(16)
                .total_tables(16)
                .total_component_instances(0)
                .max_memory_size(64 << 20);
            if wasmtime::PoolingAllocationConfig::is_pagemap_scan_available() {
                pool.pagemap_scan(wasmtime::Enabled::Yes)
                    .linear_memory_keep_resident(1 << 20)
                    .table_keep_resident(1 << 20);
            }
            config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
            let engine = Engine::new(&config)?;
            let mut linker = Linker::new(&engine);
            let define = |linker: &mut Linker<MiniHost>| -> wasmtime::Result<()> {
                define_host!(linker, Caller<'_, MiniHost>, err);
                Ok(())
            };
            define(&mut linker)?;
            Ok(Wasmtime {
                engine,
                linker,
                fuel,
            })
        }

        pub fn compile(&self, code: &[u8]) -> anyhow::Result<Module> {
            Ok(Module::new(&self.engine, code)?)
        }

        /// Loads a module that [`Module::serialize`] wrote to `path`.
        pub fn load_file(&self, path: &std::path::Path) -> anyhow::Result<Module> {
            // SAFETY: the benchmark wrote `path` itself, a moment ago, from
            // `Module::serialize` on an engine of this configuration.
            Ok(unsafe { Module::deserialize_file(&self.engine, path) }?)
        }

        pub fn prepare(&self, module: &Module) -> anyhow::Result<InstancePre<MiniHost>> {
            Ok(self.linker.instantiate_pre(module)?)
        }

        /// Instantiates and calls `entry` once; returns the host state.
        pub fn call(
            &self,
            pre: &InstancePre<MiniHost>,
            entry: &str,
            host: MiniHost,
        ) -> anyhow::Result<MiniHost> {
            let mut store = Store::new(&self.engine, host);
            if self.fuel {
                store.set_fuel(u64::MAX)?;
            }
            let instance = pre.instantiate(&mut store)?;
            let f = instance.get_typed_func::<(), ()>(&mut store, entry)?;
            let result = f.call(&mut store, ());
            let host = store.into_data();
            match result {
                Ok(()) => Ok(host),
                Err(e) => anyhow::bail!("{entry} failed: {e:#} ({:?})", host.aborted),
            }
        }
    }
}

/// wasmi 2 with its own fuel metering on.
pub mod wasmi_host {
    use super::*;
    use wasmi::{Caller, Engine, Linker, Module, Store};

    pub struct Wasmi {
        engine: Engine,
        linker: Linker<MiniHost>,
    }

    fn err(msg: &'static str) -> wasmi::Error {
        wasmi::Error::new(msg)
    }

    impl Wasmi {
        pub fn new() -> anyhow::Result<Self> {
            let mut config = wasmi::Config::default();
            config.consume_fuel(true);
            let engine = Engine::new(&config);
            let mut linker = Linker::new(&engine);
            let define = |linker: &mut Linker<MiniHost>| -> Result<(), wasmi::Error> {
                define_host!(linker, Caller<'_, MiniHost>, err);
                Ok(())
            };
            define(&mut linker).map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(Wasmi { engine, linker })
        }

        pub fn compile(&self, code: &[u8]) -> anyhow::Result<Module> {
            Module::new(&self.engine, code).map_err(|e| anyhow::anyhow!("{e}"))
        }

        /// Instantiates and calls `entry` once with `fuel`.
        pub fn call(
            &self,
            module: &Module,
            entry: &str,
            host: MiniHost,
            fuel: u64,
        ) -> anyhow::Result<MiniHost> {
            let mut store = Store::new(&self.engine, host);
            store.set_fuel(fuel).map_err(|e| anyhow::anyhow!("{e}"))?;
            let instance = self
                .linker
                .instantiate_and_start(&mut store, module)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let f = instance
                .get_typed_func::<(), ()>(&store, entry)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let result = f.call(&mut store, ());
            let host = store.into_data();
            match result {
                Ok(()) => Ok(host),
                Err(e) => anyhow::bail!("{entry} failed: {e} ({:?})", host.aborted),
            }
        }
    }
}
