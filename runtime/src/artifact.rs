//! The on-disk artifact cache: compiled modules kept across processes, so a
//! restarted node loads machine code instead of validating, instrumenting
//! and compiling again.
//!
//! One file per module, in a directory the host owns (opened with cap-std,
//! so the cache touches nothing outside it). The file name is a digest of
//! the code hash, the profile hash, the compiler and wasmtime's own
//! compatibility hash of the engine settings, so a module compiled under
//! other settings is simply never found. A file is:
//!
//! ```text
//! magic      8 bytes   "VRTYART3"
//! key       32 bytes   the digest the file is named after
//! checksum  32 bytes   SHA-256 of everything after this field
//! meta_len   4 bytes   little-endian length of `meta`
//! meta                 postcard: validation result and frame costs
//! artifact             wasmtime's serialized module
//! ```
//!
//! Loading machine code is trusted only because this host wrote it: the
//! checksum and the key make a torn, truncated, corrupted or misplaced file
//! a cache miss (the module is compiled again and the file rewritten), never
//! a crash. The directory must not be writable by anyone the host does not
//! trust, exactly like the binary of the host itself.

use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};

use cap_std::fs::Dir;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use verity_host_abi::Hash32;
use wasmtime::{Engine, Module};

use crate::profile::Compiler;
use crate::validate::ModuleInfo;

const MAGIC: &[u8; 8] = b"VRTYART3";
const KEY_DOMAIN: &[u8] = b"verity.artifact.v1\0";
/// An artifact file: [`MAGIC`], the key, SHA-256 of the body, then the body:
/// the metadata's length (u32, little endian), the metadata (postcard), and
/// wasmtime's serialized module.
const KEY: std::ops::Range<usize> = MAGIC.len()..MAGIC.len() + 32;
const CHECKSUM: std::ops::Range<usize> = KEY.end..KEY.end + 32;
const BODY: usize = CHECKSUM.end;
const META_LEN: std::ops::Range<usize> = BODY..BODY + 4;
/// Where the metadata starts: the fixed-size part of a file ends here.
const HEADER: usize = META_LEN.end;
/// File name suffix of cache entries.
const SUFFIX: &str = ".vart";

/// What the runtime needs besides machine code to run a module: what
/// validation and instrumentation learned.
#[derive(Serialize, Deserialize)]
pub(crate) struct Meta {
    pub(crate) info: ModuleInfo,
    pub(crate) export_frames: HashMap<String, u32>,
    /// The size of the instrumented module: what preparing it is charged by.
    pub(crate) instrumented_bytes: u64,
}

/// Counters of a runtime's module caches, for monitoring and tests.
///
/// ```
/// use verity_runtime::{Profile, Runtime};
///
/// let runtime = Runtime::new(Profile::default())?;
/// let wasm = wat::parse_str("(module)")?;
/// runtime.prepare(&wasm)?;
/// runtime.prepare(&wasm)?;
/// let stats = runtime.cache_stats();
/// assert_eq!((stats.compiled, stats.memory_hits), (1, 1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Preparations answered from the in-memory cache.
    pub memory_hits: u64,
    /// Modules loaded from the on-disk artifact cache.
    pub artifact_loads: u64,
    /// Modules validated, instrumented and compiled (rejections included).
    pub compiled: u64,
    /// Artifact files written.
    pub artifact_writes: u64,
    /// Artifact files that could not be used (corrupt, truncated, from
    /// another wasmtime build) and were replaced, plus failed writes. None
    /// of these changes an outcome; each costs one compilation.
    pub artifact_errors: u64,
}

/// What [`Runtime::warm`](crate::Runtime::warm) did with the modules it
/// was given: after it, a call of any of them compiles nothing unless
/// [`WarmReport::unready`] says otherwise.
///
/// ```
/// use verity_runtime::{Profile, Runtime};
///
/// let dir = tempfile::tempdir()?;
/// let wasm = wat::parse_str("(module)")?;
/// let node = Runtime::builder(Profile::default())
///     .artifact_cache_path(dir.path())?
///     .build()?;
/// let first = node.warm([wasm.as_slice()]);
/// assert_eq!((first.compiled, first.loaded, first.unready), (1, 0, 0));
/// // A restarted node loads what the first one compiled.
/// let restarted = Runtime::builder(Profile::default())
///     .artifact_cache_path(dir.path())?
///     .build()?;
/// let again = restarted.warm([wasm.as_slice()]);
/// assert_eq!((again.compiled, again.loaded), (0, 1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WarmReport {
    /// Modules whose artifact loaded.
    pub loaded: u64,
    /// Modules compiled now (their artifact was missing or unusable).
    pub compiled: u64,
    /// Modules already in memory (a runtime with no artifact cache).
    pub held: u64,
    /// Code that does not validate under the profile: a call of it is
    /// refused by validation, which compiles nothing.
    pub rejected: u64,
    /// Modules a call would still compile: their artifact could not be
    /// written, or (with no artifact cache) the memory cache could not
    /// hold them all. Zero on a node ready to execute.
    pub unready: u64,
}

/// Reports add up: warming modules one at a time (as `verity state warm`
/// does, to hold one in memory at a time) reports what warming them at
/// once would.
impl std::ops::AddAssign for WarmReport {
    fn add_assign(&mut self, other: WarmReport) {
        self.loaded += other.loaded;
        self.compiled += other.compiled;
        self.held += other.held;
        self.rejected += other.rejected;
        self.unready += other.unready;
    }
}

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) memory_hits: AtomicU64,
    pub(crate) artifact_loads: AtomicU64,
    pub(crate) compiled: AtomicU64,
    pub(crate) artifact_writes: AtomicU64,
    pub(crate) artifact_errors: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> CacheStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CacheStats {
            memory_hits: get(&self.memory_hits),
            artifact_loads: get(&self.artifact_loads),
            compiled: get(&self.compiled),
            artifact_writes: get(&self.artifact_writes),
            artifact_errors: get(&self.artifact_errors),
        }
    }
}

/// Feeds a `std::hash::Hash` into SHA-256, so that wasmtime's compatibility
/// hash becomes part of a stable digest.
struct ShaHasher(Sha256);

impl std::hash::Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        // Only `write` is used: the digest is taken from the inner state.
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// Why an artifact file was not used.
#[derive(Debug)]
pub(crate) enum LoadError {
    /// No file for this module.
    Missing,
    /// A file exists but is not a valid artifact for this runtime.
    Unusable(String),
}

/// A directory of compiled modules for one runtime's settings.
pub(crate) struct ArtifactCache {
    dir: Dir,
    salt: [u8; 32],
    temp_counter: AtomicU64,
}

impl ArtifactCache {
    pub(crate) fn new(dir: Dir, engine: &Engine, profile_hash: Hash32, compiler: Compiler) -> Self {
        let mut h = ShaHasher(Sha256::new());
        h.0.update(KEY_DOMAIN);
        h.0.update(profile_hash.0);
        h.0.update(compiler.name().as_bytes());
        std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut h);
        ArtifactCache {
            dir,
            salt: h.0.finalize().into(),
            temp_counter: AtomicU64::new(0),
        }
    }

    /// A cache in the same directory for modules compiled by `engine`
    /// with `compiler` (another tier of the same runtime): its files are
    /// named apart by their own key.
    pub(crate) fn sibling(
        &self,
        engine: &Engine,
        profile_hash: Hash32,
        compiler: Compiler,
    ) -> io::Result<Self> {
        Ok(Self::new(
            self.dir.try_clone()?,
            engine,
            profile_hash,
            compiler,
        ))
    }

    fn key(&self, code_hash: Hash32) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.salt);
        h.update(code_hash.0);
        h.finalize().into()
    }

    fn file_name(key: &[u8; 32]) -> String {
        let mut name = Hash32(*key).to_string();
        name.push_str(SUFFIX);
        name
    }

    /// Loads the module compiled from `code_hash`, if a valid file holds it.
    pub(crate) fn load(
        &self,
        engine: &Engine,
        code_hash: Hash32,
    ) -> Result<(Module, Meta), LoadError> {
        let key = self.key(code_hash);
        let bytes = match self.dir.read(Self::file_name(&key)) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(LoadError::Missing),
            Err(e) => return Err(LoadError::Unusable(format!("unreadable: {e}"))),
        };
        let unusable = |why: &str| LoadError::Unusable(why.to_string());
        if bytes.len() < HEADER || !bytes.starts_with(MAGIC) {
            return Err(unusable("not an artifact file"));
        }
        if bytes[KEY] != key {
            return Err(unusable("artifact is for another module or runtime"));
        }
        if Sha256::digest(&bytes[BODY..]).as_slice() != &bytes[CHECKSUM] {
            return Err(unusable("checksum mismatch"));
        }
        let meta_len: [u8; 4] = bytes[META_LEN].try_into().expect("four bytes");
        let meta_len = u32::from_le_bytes(meta_len) as usize;
        let Some((meta, artifact)) = bytes[HEADER..].split_at_checked(meta_len) else {
            return Err(unusable("metadata length out of range"));
        };
        let meta: Meta =
            postcard::from_bytes(meta).map_err(|e| LoadError::Unusable(e.to_string()))?;
        // SAFETY: `Module::deserialize` requires bytes produced by
        // `Module::serialize` of a trusted wasmtime. These are: the file sits
        // in the host's own cache directory, its checksum matches what
        // `store` computed over the serialized bytes, and its key names this
        // code hash under this engine's settings. wasmtime itself refuses
        // (with an error) artifacts of another version or configuration.
        let module = unsafe { Module::deserialize(engine, artifact) }
            .map_err(|e| LoadError::Unusable(format!("{e:#}")))?;
        Ok((module, meta))
    }

    /// Writes the artifact for `code_hash`: to a temporary file first, then
    /// renamed into place, so readers see the old file, no file, or the
    /// whole new one.
    pub(crate) fn store(&self, code_hash: Hash32, module: &Module, meta: &Meta) -> io::Result<()> {
        let key = self.key(code_hash);
        let artifact = module.serialize().map_err(io::Error::other)?;
        let meta = postcard::to_allocvec(meta).map_err(io::Error::other)?;
        let meta_len = u32::try_from(meta.len()).map_err(io::Error::other)?;
        let mut body = Vec::with_capacity(4 + meta.len() + artifact.len());
        body.extend_from_slice(&meta_len.to_le_bytes());
        body.extend_from_slice(&meta);
        body.extend_from_slice(&artifact);
        let checksum = Sha256::digest(&body);

        let name = Self::file_name(&key);
        let temp = format!(
            ".{name}.{}.{}.tmp",
            std::process::id(),
            self.temp_counter.fetch_add(1, Ordering::Relaxed)
        );
        let write = || -> io::Result<()> {
            let mut file = self.dir.create(&temp)?;
            file.write_all(MAGIC)?;
            file.write_all(&key)?;
            file.write_all(&checksum)?;
            file.write_all(&body)?;
            file.flush()?;
            self.dir.rename(&temp, &self.dir, &name)
        };
        write().inspect_err(|_| {
            let _ = self.dir.remove_file(&temp);
        })
    }
}
