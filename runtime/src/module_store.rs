//! Where a runtime gets its modules: the in-memory cache, the on-disk
//! artifact cache, and the compile pipeline (validate, instrument, compile,
//! link), with the Winch tier for modules too large for Cranelift.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use verity_host_abi::Hash32;
use wasmtime::{Engine, Linker, Module};

use crate::artifact::{ArtifactCache, CacheStats, Counters, LoadError, Meta};
use crate::host::{self, HostState};
use crate::instrument;
use crate::prepared::PreparedModule;
use crate::profile::{Compiler, Profile};
use crate::recent_code::RecentCode;
use crate::validate::{ModuleInfo, Rejection, validated};

/// A runtime's modules: the engine and linker they are compiled and linked
/// with, the caches in memory and on disk, and the Winch tier.
pub(crate) struct ModuleStore {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<HostState>,
    pub(crate) compiler: Compiler,
    cache: Mutex<ModuleCache>,
    recent_code: RecentCode,
    artifacts: Option<ArtifactCache>,
    counters: Counters,
    /// Why the artifact cache last failed to load or store a module.
    artifact_error: Mutex<Option<String>>,
    /// Winch, for modules too large for Cranelift (made on first use).
    large: OnceLock<Option<LargeTier>>,
}

/// What preparing one code hash gave, or will give: threads that miss on
/// the same hash at once share one cell, and all but the first wait for
/// its result instead of compiling again.
type Slot = Arc<OnceLock<Result<Arc<PreparedModule>, Rejection>>>;

/// Compiled modules (and rejections) by code hash, evicting the least
/// recently used past `capacity`. Eviction only costs a recompilation,
/// never changes an outcome.
struct ModuleCache {
    capacity: usize,
    entries: HashMap<Hash32, (Slot, u64)>,
    /// Code hashes by the tick of their last use.
    by_use: BTreeMap<u64, Hash32>,
    clock: u64,
}

impl ModuleCache {
    /// The slot for `hash` (a new, empty one on a miss), marked as the most
    /// recently used; the least recently used past capacity are dropped.
    fn touch(&mut self, hash: Hash32) -> Slot {
        self.clock += 1;
        let now = self.clock;
        let slot = match self.entries.get_mut(&hash) {
            Some((slot, used)) => {
                self.by_use.remove(used);
                *used = now;
                slot.clone()
            }
            None => {
                let slot = Slot::default();
                self.entries.insert(hash, (slot.clone(), now));
                slot
            }
        };
        self.by_use.insert(now, hash);
        while self.entries.len() > self.capacity.max(1) {
            let Some((_, old)) = self.by_use.pop_first() else {
                break;
            };
            self.entries.remove(&old);
        }
        slot
    }
}

/// How [`ModuleStore::warm`] readied one module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Warmed {
    /// Its artifact loaded.
    Loaded,
    /// Already in memory, with no artifact cache.
    Held,
    /// Compiled now; `saved` if its artifact was written (with an artifact
    /// cache) .
    Compiled { saved: bool },
    /// It does not validate under the profile: a call of it is refused
    /// after validation, without compiling.
    Rejected,
}

/// A second engine and linker, for modules compiled by Winch because they
/// are too large for Cranelift.
struct LargeTier {
    engine: Engine,
    linker: Linker<HostState>,
    /// Its compiled modules, in the runtime's artifact directory.
    artifacts: Option<ArtifactCache>,
}

/// Instrumented modules larger than this are compiled by Winch even when
/// the runtime's compiler is Cranelift: Cranelift takes about 1.2 µs per
/// instrumented byte of branch-dense code (about 0.6 s at this size),
/// Winch 0.05 µs (docs/costs.md, `examples/compile_cost.rs`). Not part of
/// the profile: receipts do not depend on the compiler.
pub const CRANELIFT_MAX_INSTRUMENTED_BYTES: usize = 512 << 10;

impl ModuleStore {
    /// A store compiling with `compiler` on `engine`, keeping up to
    /// `capacity` modules in memory, and compiled artifacts in `artifacts`.
    pub(crate) fn new(
        engine: Engine,
        linker: Linker<HostState>,
        compiler: Compiler,
        capacity: usize,
        artifacts: Option<ArtifactCache>,
    ) -> Self {
        ModuleStore {
            engine,
            linker,
            compiler,
            cache: Mutex::new(ModuleCache {
                capacity,
                entries: HashMap::new(),
                by_use: BTreeMap::new(),
                clock: 0,
            }),
            recent_code: RecentCode::default(),
            artifacts,
            counters: Counters::default(),
            artifact_error: Mutex::new(None),
            large: OnceLock::new(),
        }
    }

    /// Counters of the caches.
    pub(crate) fn stats(&self) -> CacheStats {
        self.counters.snapshot()
    }

    /// Whether compiled modules are kept on disk.
    pub(crate) fn has_artifacts(&self) -> bool {
        self.artifacts.is_some()
    }

    /// Why the artifact cache last failed, if it ever did.
    pub(crate) fn artifact_error(&self) -> Option<String> {
        self.artifact_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether `engine` is one of this store's (a module it compiled).
    pub(crate) fn owns(&self, engine: &Engine) -> bool {
        Engine::same(&self.engine, engine)
            || self
                .large
                .get()
                .and_then(Option::as_ref)
                .is_some_and(|t| Engine::same(&t.engine, engine))
    }

    fn artifact_failed(&self, why: String) {
        Counters::bump(&self.counters.artifact_errors);
        *self
            .artifact_error
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(why);
    }

    /// SHA-256 of `code`, found without hashing when the same bytes were
    /// run recently.
    pub(crate) fn code_hash(&self, code: &[u8]) -> Hash32 {
        self.recent_code.hash(code)
    }

    /// The module cached in memory for `code_hash`, if any (marked as just
    /// used).
    pub(crate) fn cached(
        &self,
        code_hash: &Hash32,
    ) -> Option<Result<Arc<PreparedModule>, Rejection>> {
        let mut cache = self.lock_cache();
        let slot = cache.entries.get(code_hash)?.0.clone();
        let hit = slot.get().cloned()?;
        cache.touch(*code_hash);
        Counters::bump(&self.counters.memory_hits);
        Some(hit)
    }

    /// The module `code` (whose hash is `code_hash`) prepared under
    /// `profile`: from memory, from the artifact cache, or compiled, once
    /// per miss however many threads ask for it at the same time.
    pub(crate) fn prepare_hashed(
        &self,
        profile: &Profile,
        code: &[u8],
        code_hash: Hash32,
    ) -> Result<Arc<PreparedModule>, Rejection> {
        let slot = self.lock_cache().touch(code_hash);
        if let Some(hit) = slot.get() {
            Counters::bump(&self.counters.memory_hits);
            return hit.clone();
        }
        // Outside the cache's lock: other code hashes go on meanwhile, and
        // racing threads with this one wait here for the first's result.
        slot.get_or_init(|| match self.load_artifact(profile, code_hash) {
            Some(prepared) => Ok(prepared),
            None => self.compile(profile, code, code_hash).map(|(m, _)| m),
        })
        .clone()
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, ModuleCache> {
        // A panic while holding the lock cannot leave the cache inconsistent
        // (every update is a single insert), so a poisoned lock is usable.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The module for `code_hash` from the artifact cache, if it has a
    /// usable one: compiled by this runtime's compiler, or by the large
    /// tier's.
    fn load_artifact(&self, profile: &Profile, code_hash: Hash32) -> Option<Arc<PreparedModule>> {
        let cache = self.artifacts.as_ref()?;
        let loaded = match cache.load(&self.engine, code_hash) {
            Err(LoadError::Missing) => match self.large_tier(profile) {
                Some(LargeTier {
                    engine,
                    linker,
                    artifacts: Some(large),
                }) => large.load(engine, code_hash).and_then(|(module, meta)| {
                    PreparedModule::new(code_hash, Compiler::Winch, &module, linker, meta)
                        .map_err(|e| LoadError::Unusable(e.to_string()))
                }),
                _ => Err(LoadError::Missing),
            },
            loaded => loaded.and_then(|(module, meta)| {
                PreparedModule::new(code_hash, self.compiler, &module, &self.linker, meta)
                    .map_err(|e| LoadError::Unusable(e.to_string()))
            }),
        };
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

    /// Makes sure the module of `code` (whose hash is `code_hash`) is
    /// ready without compiling: its artifact on disk loads (compiled and
    /// written if it did not), or with no artifact cache, it is in memory.
    /// A loaded artifact is not kept in memory: warming every stored module
    /// must not evict the ones in use.
    pub(crate) fn warm(&self, profile: &Profile, code: &[u8], code_hash: Hash32) -> Warmed {
        if self.artifacts.is_none() {
            let held = self.holds(&code_hash);
            return match self.prepare_hashed(profile, code, code_hash) {
                Err(_) => Warmed::Rejected,
                Ok(_) if held => Warmed::Held,
                Ok(_) => Warmed::Compiled { saved: false },
            };
        }
        if self.load_artifact(profile, code_hash).is_some() {
            return Warmed::Loaded;
        }
        match self.compile(profile, code, code_hash) {
            Err(_) => Warmed::Rejected,
            Ok((_, saved)) => Warmed::Compiled { saved },
        }
    }

    /// Whether the memory cache holds the module of `code_hash` (a
    /// compiled module or a rejection). Not counted as a hit.
    pub(crate) fn holds(&self, code_hash: &Hash32) -> bool {
        let cache = self.lock_cache();
        cache
            .entries
            .get(code_hash)
            .is_some_and(|(slot, _)| slot.get().is_some())
    }

    /// Validates and instruments `code` without compiling it: what
    /// validation learned and the instrumented size, or the rejection
    /// compiling it would give (the same checks, in the same order).
    pub(crate) fn analyze(
        &self,
        profile: &Profile,
        code: &[u8],
    ) -> Result<(ModuleInfo, u64), Rejection> {
        let (info, instrumented) = instrumented(profile, code)?;
        Ok((info, instrumented.code.len() as u64))
    }

    /// Validates, instruments and compiles `code`: the module is read and
    /// validated once, and the instrumentation works from that reading.
    /// Also whether its artifact was written.
    fn compile(
        &self,
        profile: &Profile,
        code: &[u8],
        code_hash: Hash32,
    ) -> Result<(Arc<PreparedModule>, bool), Rejection> {
        Counters::bump(&self.counters.compiled);
        let (info, instrumented) = instrumented(profile, code)?;
        // Cranelift's time grows faster than linearly with a function's
        // branches; past a size it would take seconds on a crafted module
        // (docs/costs.md). Such modules compile with Winch, which is
        // linear. Receipts do not depend on the compiler.
        let large = self.compiler == Compiler::Cranelift
            && instrumented.code.len() > CRANELIFT_MAX_INSTRUMENTED_BYTES;
        let (engine, linker, compiler, artifacts) = if large {
            let tier = self.large_tier(profile).ok_or(Rejection::Compile {
                stage: "compilation",
            })?;
            (
                &tier.engine,
                &tier.linker,
                Compiler::Winch,
                tier.artifacts.as_ref(),
            )
        } else {
            (
                &self.engine,
                &self.linker,
                self.compiler,
                self.artifacts.as_ref(),
            )
        };
        let module =
            Module::from_binary(engine, &instrumented.code).map_err(|_| Rejection::Compile {
                stage: "compilation",
            })?;
        let meta = Meta {
            info,
            export_frames: instrumented.export_frames,
            instrumented_bytes: instrumented.code.len() as u64,
        };
        let mut saved = false;
        if let Some(cache) = artifacts {
            match cache.store(code_hash, &module, &meta) {
                Ok(()) => {
                    Counters::bump(&self.counters.artifact_writes);
                    saved = true;
                }
                Err(e) => self.artifact_failed(format!("cannot store {code_hash}: {e}")),
            }
        }
        let prepared = PreparedModule::new(code_hash, compiler, &module, linker, meta)?;
        Ok((Arc::new(prepared), saved))
    }

    /// `code` instrumented to count its fuel by class
    /// ([`instrument::instrument_counted`]) and compiled, not cached: the
    /// module of a run's fuel profile. It is priced as `code` is (its
    /// `instrumented_bytes` are those of the module every node compiles).
    pub(crate) fn compile_counted(
        &self,
        profile: &Profile,
        code: &[u8],
        code_hash: Hash32,
    ) -> Result<PreparedModule, Rejection> {
        let (info, instrumented) = instrumented(profile, code)?;
        let counted =
            instrument::instrument_counted(code, profile).map_err(|_| Rejection::Compile {
                stage: "instrumentation",
            })?;
        let (engine, linker, compiler) = if self.compiler == Compiler::Cranelift
            && counted.code.len() > CRANELIFT_MAX_INSTRUMENTED_BYTES
        {
            let tier = self.large_tier(profile).ok_or(Rejection::Compile {
                stage: "compilation",
            })?;
            (&tier.engine, &tier.linker, Compiler::Winch)
        } else {
            (&self.engine, &self.linker, self.compiler)
        };
        let module =
            Module::from_binary(engine, &counted.code).map_err(|_| Rejection::Compile {
                stage: "compilation",
            })?;
        let meta = Meta {
            info,
            export_frames: instrumented.export_frames,
            instrumented_bytes: instrumented.code.len() as u64,
        };
        PreparedModule::new(code_hash, compiler, &module, linker, meta)
    }

    /// The engine and linker for modules too large for Cranelift, made on
    /// first use: Winch, instances mapped on demand (large modules are
    /// rare; they do not get pool slots). `None` if the engine cannot be
    /// built.
    fn large_tier(&self, profile: &Profile) -> Option<&LargeTier> {
        self.large
            .get_or_init(|| {
                let engine = Engine::new(&profile.wasmtime_config(Compiler::Winch)).ok()?;
                let mut linker = Linker::new(&engine);
                host::link(&mut linker).ok()?;
                // Without its own cache the tier would compile a large
                // module again after every restart (docs/calls.md, "Cold
                // callees").
                let artifacts = self.artifacts.as_ref().and_then(|main| {
                    main.sibling(&engine, profile.hash(), Compiler::Winch)
                        .inspect_err(|e| {
                            self.artifact_failed(format!("no cache for large modules: {e}"))
                        })
                        .ok()
                });
                Some(LargeTier {
                    engine,
                    linker,
                    artifacts,
                })
            })
            .as_ref()
    }
}

/// Validates and instruments `code` under `profile`, with the instrumented
/// size limits checked: everything preparing a module does before it
/// compiles (and what the preparation charge is known from).
fn instrumented(
    profile: &Profile,
    code: &[u8],
) -> Result<(ModuleInfo, instrument::Instrumented), Rejection> {
    let (info, desc) = validated(profile, code)?;
    let instrumented =
        instrument::instrument_described(code, &desc, profile).map_err(|_| Rejection::Compile {
            stage: "instrumentation",
        })?;
    let limits = &profile.limits;
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
    Ok((info, instrumented))
}
