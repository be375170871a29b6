//! Building a [`Runtime`]: its compiler, instance allocation, caches.

use wasmtime::{Engine, Linker};

use crate::artifact::ArtifactCache;
use crate::error::RuntimeError;
use crate::host;
use crate::module_store::ModuleStore;
use crate::pool::{self, Allocation};
use crate::profile::{Compiler, Profile};
use crate::runtime::Runtime;

/// Builds a [`Runtime`] with settings that change its speed, never its
/// receipts: the compiler, instance allocation, the in-memory module cache
/// and an on-disk artifact cache.
///
/// ```
/// use verity_runtime::{Allocation, Compiler, Profile, Runtime};
///
/// let dir = tempfile::tempdir()?;
/// let runtime = Runtime::builder(Profile::default())
///     .compiler(Compiler::Cranelift)
///     .allocation(Allocation::default())
///     .artifact_cache_path(dir.path())?
///     .build()?;
/// # let _ = runtime;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RuntimeBuilder {
    pub(crate) profile: Profile,
    pub(crate) compiler: Compiler,
    pub(crate) allocation: Allocation,
    pub(crate) cache_capacity: usize,
    pub(crate) artifacts: Option<cap_std::fs::Dir>,
}

impl RuntimeBuilder {
    /// The compiler (default Cranelift).
    pub fn compiler(mut self, compiler: Compiler) -> Self {
        self.compiler = compiler;
        self
    }

    /// How instances are allocated (default: a pool sized for this machine).
    pub fn allocation(mut self, allocation: Allocation) -> Self {
        self.allocation = allocation;
        self
    }

    /// Modules kept compiled in memory (default
    /// [`Runtime::DEFAULT_CACHE_CAPACITY`]).
    pub fn cache_capacity(mut self, capacity: usize) -> Self {
        self.cache_capacity = capacity.max(1);
        self
    }

    /// Keeps compiled modules in `dir` across processes (see
    /// [`CacheStats`](crate::CacheStats)). The directory must be writable only by this host.
    pub fn artifact_cache(mut self, dir: cap_std::fs::Dir) -> Self {
        self.artifacts = Some(dir);
        self
    }

    /// Like [`RuntimeBuilder::artifact_cache`], creating `path` if needed.
    pub fn artifact_cache_path(
        self,
        path: impl AsRef<std::path::Path>,
    ) -> Result<Self, RuntimeError> {
        let path = path.as_ref();
        std::fs::create_dir_all(path).map_err(RuntimeError::ArtifactCache)?;
        let dir = cap_std::fs::Dir::open_ambient_dir(path, cap_std::ambient_authority())
            .map_err(RuntimeError::ArtifactCache)?;
        Ok(self.artifact_cache(dir))
    }

    /// Builds the engine (reserving the instance pool) and the linker.
    pub fn build(self) -> Result<Runtime, RuntimeError> {
        let mut config = self.profile.wasmtime_config(self.compiler);
        let gate = pool::configure(&mut config, &self.allocation, &self.profile.limits);
        let engine = Engine::new(&config).map_err(RuntimeError::engine)?;
        let mut linker = Linker::new(&engine);
        host::link(&mut linker).map_err(RuntimeError::engine)?;
        let profile_hash = self.profile.hash();
        let artifacts = self
            .artifacts
            .map(|dir| ArtifactCache::new(dir, &engine, profile_hash, self.compiler));
        Ok(Runtime {
            profile_hash,
            profile: self.profile,
            allocation: self.allocation,
            gate,
            modules: ModuleStore::new(
                engine,
                linker,
                self.compiler,
                self.cache_capacity,
                artifacts,
            ),
        })
    }
}
