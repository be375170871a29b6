//! A persistent state in a directory, opened with cap-std so that nothing
//! outside the directory is touched.
//!
//! The state lives in `state.redb`, a [redb](https://docs.rs/redb) database
//! (pure Rust, copy-on-write B-trees, crash-safe commits): the table
//! `values` maps state keys to values, the table `nodes` holds the state
//! tree's internal nodes by position
//! ([`verity_state_tree::stored`]), and the table `meta` holds the format
//! tag, the state root and the tree's root node. A commit is one redb write
//! transaction over the written keys, the tree nodes on their paths and
//! the new root, made durable before it returns: its cost grows with the
//! writes and the tree's depth, not with the state, and a crash at any
//! point leaves the old or the new state, never a mix.
//!
//! Opening reads nothing proportional to the state: it checks the format
//! tag and that the root node hashes to the stored root. Every tree node a
//! read, proof or commit crosses is checked against its parent's hash of
//! it, so damage on a path in use is refused where it is met;
//! [`DirState::check`] (`verity state check`) walks the whole tree and
//! every value. A state of the previous format (`verity-state-v2`, values
//! and root only) is upgraded when it is first opened for writing: its
//! tree is built once and stored.
//!
//! One process at a time: [`DirState::open`] takes an exclusive lock on the
//! file `lock` in the directory and holds it until the `DirState` is
//! dropped (the OS releases it if the process dies). A second opener gets
//! [`DirStateError::Busy`] after at most a quarter of a second rather than
//! waiting for the holder, so two concurrent `verity run --state DIR` never
//! interleave their read-modify-write. (The short wait is for a lock that
//! a released holder's process still shares with a child it is spawning.)
//!
//! Readers that commit nothing ([`DirState::open_shared`], `verity call
//! --simulate`) share the lock instead: any number of them at once, while a
//! writer gets [`DirStateError::Busy`] until they are done, and a reader
//! gets it while a writer holds the directory.
//!
//! For crash tests, in a build with the `failpoints` feature, the
//! environment variable `VERITY_CRASH_AT` set to `before-commit` (the
//! writes are in the open transaction) or `after-commit` aborts the process
//! at that step of a commit.

use std::fmt::Display;
use std::path::Path;

use cap_std::ambient_authority;
use cap_std::fs::{Dir, OpenOptions};
use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use verity_host_abi::{Hash32, WriteEntry};

use verity_host_abi::Receipt;
use verity_host_core::state::{tree_writes, witness_paths};
use verity_state_tree::stored::{self, Child, NodeSource, StoredError};
use verity_state_tree::{Hash, key_path, value_hash};

use verity_runtime::state::{StaleReceipt, StateBackend, StateError, StateRoots, StateView};

const DB: &str = "state.redb";
const LOCK: &str = "lock";
/// How long [`DirState::open`] waits for a busy directory before it says so.
const BUSY_WAIT: std::time::Duration = std::time::Duration::from_millis(250);
/// The single file of the state format before contracts and roots.
const LEGACY: &str = "state.bin";
/// The most redb keeps in its page cache. The integrity check on open
/// reads every page of the file through the cache, so with redb's default
/// (1 GiB) a process's RSS grew with the state; at 32 MiB a call on a
/// state of 400,000 keys peaked at 44 MB against 10 MB on an empty one
/// (`a_call_in_a_large_state_holds_what_it_touches_not_the_state`). A
/// transaction touches a few pages per key it reads or writes, and
/// `state_commit` at 1M keys ran as fast with 8 MiB as with 1 GiB (the
/// operating system's page cache keeps the file warm), so 8 MiB it is.
const CACHE_BYTES: usize = 8 << 20;

const VALUES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("values");
const NODES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("nodes");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// `meta["format"]`: what this database is.
const FORMAT: &[u8] = b"verity-state-v3";
/// The format before the tree was stored: values and root only.
const FORMAT_V2: &[u8] = b"verity-state-v2";

/// No stored value is larger than this: values are bounded by the profile
/// (`max_value_bytes`) and code by `max_module_bytes`, both far below it. A
/// larger one is a corrupt store, refused before it is copied.
pub(crate) const MAX_STORED_VALUE_BYTES: usize = 64 << 20;

/// Why a state directory could not be opened or committed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DirStateError {
    /// I/O on the directory failed.
    #[error("state directory {path}: {source}")]
    Io {
        /// The directory.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Another process (or another `DirState`) holds the directory.
    #[error(
        "state directory {path} is in use by another process (it holds {path}/lock); try again when it is done"
    )]
    Busy {
        /// The directory.
        path: String,
    },
    /// There is no state at the path: the directory is missing or holds no
    /// `state.redb`. A state is made explicitly ([`DirState::create`]), so
    /// that a mistyped path is an error, not a new empty state.
    #[error(
        "no Verity state at {path} (no directory with a state.redb there); create one first with `verity state init {path}`"
    )]
    NotFound {
        /// The directory.
        path: String,
    },
    /// [`DirState::create`] found a state already there.
    #[error(
        "{path} already holds a state ({path}/{DB}); to start a new one, remove that file or choose another directory"
    )]
    Exists {
        /// The directory.
        path: String,
    },
    /// A commit made against another state: the writes were computed from a
    /// state whose root is not this one's. Nothing was committed.
    #[error("state directory {path}: {source}")]
    Stale {
        /// The directory.
        path: String,
        /// The two roots.
        source: StaleReceipt,
    },
    /// A write that the state would refuse to load again (a value over the
    /// largest a state holds). Nothing was committed.
    #[error(
        "state directory {path}: a value of {bytes} bytes is over the largest a state holds ({MAX_STORED_VALUE_BYTES}); nothing was committed"
    )]
    TooLarge {
        /// The directory.
        path: String,
        /// The value's size.
        bytes: usize,
    },
    /// A commit to a state opened for reading only
    /// ([`DirState::open_shared`]). Nothing was committed.
    #[error(
        "state directory {path} is open for reading only (a simulation); nothing was committed"
    )]
    ReadOnly {
        /// The directory.
        path: String,
    },
    /// A reader ([`DirState::open_shared`]) found a state of the previous
    /// format (`verity-state-v2`), which only a writer upgrades:
    /// [`DirState::open`] it once.
    #[error(
        "state {path}/{DB} is in the format of an earlier Verity (verity-state-v2, no stored tree); a command that writes (or `verity state upgrade {path}`) upgrades it"
    )]
    Outdated {
        /// The directory.
        path: String,
    },
    /// The directory holds something that is not a valid Verity state.
    #[error("state {path}/{DB} is not a valid Verity state: {reason}")]
    Corrupt {
        /// The directory.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// A key-value state persisted in a directory, with its state tree.
///
/// ```
/// use verity_runtime::StateView;
/// use verity_store::{DirState, DirStateError};
/// use verity_host_abi::WriteEntry;
///
/// let dir = tempfile::tempdir()?;
/// let mut state = DirState::create(dir.path())?;
/// let root = state.root();
/// state.commit(root, &[WriteEntry { key: b"k".to_vec(), value: Some(b"v".to_vec()) }])?;
/// // Writes computed against an older root commit nothing.
/// let stale = state.commit(root, &[WriteEntry { key: b"k".to_vec(), value: None }]);
/// assert!(matches!(stale, Err(DirStateError::Stale { .. })));
/// let root = state.root();
/// // One holder at a time.
/// assert!(matches!(DirState::open(dir.path()), Err(DirStateError::Busy { .. })));
/// drop(state);
/// let reopened = DirState::open(dir.path())?;
/// assert_eq!(reopened.get(b"k")?, Some(b"v".to_vec()));
/// assert_eq!(reopened.root(), root);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct DirState {
    /// The database: the file for a writer; for a reader, the file under
    /// an overlay that keeps redb's writes in memory (see `open_once`).
    db: redb::Database,
    writable: bool,
    /// Held open for its exclusive lock.
    _lock: std::fs::File,
    path: String,
    /// The tree's root node, as committed.
    tree: Child,
}

/// What [`DirState::check`] found: a state whose every value, tree node
/// and root agree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckReport {
    /// The keys (values and tree leaves).
    pub keys: u64,
    /// The tree's internal nodes.
    pub nodes: u64,
    /// The bytes of keys and values.
    pub bytes: u64,
}

/// How a state directory is opened.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Create,
    Write,
    Read,
}

impl DirState {
    /// Opens the state directory at `path`, which [`DirState::create`]
    /// made, and loads its state.
    pub fn open(path: &Path) -> Result<Self, DirStateError> {
        Self::open_inner(path, Mode::Write)
    }

    /// Opens the state directory at `path` for reading only, under a
    /// shared lock: other readers may hold it at once, a writer
    /// ([`open`](Self::open)) is [`Busy`](DirStateError::Busy) until they
    /// drop it, and it is `Busy` while a writer holds it. The state is
    /// checked as by `open`; [`commit`](Self::commit) refuses
    /// ([`DirStateError::ReadOnly`]). A state of the previous format is
    /// refused until a writer has opened (and so upgraded) it.
    ///
    /// ```
    /// use verity_store::{DirState, DirStateError};
    ///
    /// let dir = tempfile::tempdir()?;
    /// drop(DirState::create(dir.path())?);
    /// let a = DirState::open_shared(dir.path())?;
    /// let mut b = DirState::open_shared(dir.path())?; // readers share
    /// assert!(matches!(DirState::open(dir.path()), Err(DirStateError::Busy { .. })));
    /// let root = b.root();
    /// assert!(matches!(b.commit(root, &[]), Err(DirStateError::ReadOnly { .. })));
    /// drop((a, b));
    /// let writer = DirState::open(dir.path())?;
    /// assert!(matches!(DirState::open_shared(dir.path()), Err(DirStateError::Busy { .. })));
    /// # drop(writer);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_shared(path: &Path) -> Result<Self, DirStateError> {
        Self::open_inner(path, Mode::Read)
    }

    /// Creates an empty state at `path`: the directory (and its parents)
    /// if missing, and an empty database. Refuses a directory that already
    /// holds a state.
    ///
    /// ```
    /// use verity_store::{DirState, DirStateError};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("state");
    /// assert!(matches!(DirState::open(&path), Err(DirStateError::NotFound { .. })));
    /// drop(DirState::create(&path)?);
    /// assert!(matches!(DirState::create(&path), Err(DirStateError::Exists { .. })));
    /// assert!(DirState::open(&path)?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create(path: &Path) -> Result<Self, DirStateError> {
        let shown = path.display().to_string();
        std::fs::create_dir_all(path).map_err(|source| DirStateError::Io {
            path: shown,
            source,
        })?;
        Self::open_inner(path, Mode::Create)
    }

    /// Opens, retrying a busy directory for up to [`BUSY_WAIT`]: a lock is
    /// also held, for a moment, by every child a process forks (the child
    /// shares the locked file until it `exec`s), so a directory released
    /// by its holder can still look busy while any thread of it spawns a
    /// program.
    fn open_inner(path: &Path, mode: Mode) -> Result<Self, DirStateError> {
        let start = std::time::Instant::now();
        let mut pause = std::time::Duration::from_millis(1);
        loop {
            match Self::open_once(path, mode) {
                Err(DirStateError::Busy { .. }) if start.elapsed() < BUSY_WAIT => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(std::time::Duration::from_millis(25));
                }
                other => return other,
            }
        }
    }

    fn open_once(path: &Path, mode: Mode) -> Result<Self, DirStateError> {
        let create = mode == Mode::Create;
        let shown = path.display().to_string();
        let io = |source| DirStateError::Io {
            path: shown.clone(),
            source,
        };
        let corrupt = |reason: String| DirStateError::Corrupt {
            path: shown.clone(),
            reason,
        };
        let refused = |refusal| match refusal {
            Refusal::Outdated => DirStateError::Outdated {
                path: shown.clone(),
            },
            Refusal::Corrupt(reason) => corrupt(reason),
        };
        let dir = match Dir::open_ambient_dir(path, ambient_authority()) {
            Ok(dir) => dir,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DirStateError::NotFound { path: shown });
            }
            Err(e) => return Err(io(e)),
        };
        // Only regular files with one link: a FIFO would block the open,
        // and a hard link would let a commit change a file outside DIR.
        // Checked before opening and again on what was opened.
        let plain = |name: &str, kind: Option<FileKind>| match kind {
            Some(k) if !k.regular => Err(corrupt(format!(
                "{name} is not a regular file (a directory, link, FIFO or device)"
            ))),
            Some(k) if k.links > 1 => Err(corrupt(format!(
                "{name} has {} hard links: a state's files must be its own",
                k.links
            ))),
            _ => Ok(()),
        };
        plain(LOCK, dir.symlink_metadata(LOCK).ok().map(FileKind::of_cap))?;
        plain(DB, dir.symlink_metadata(DB).ok().map(FileKind::of_cap))?;
        let lock = dir
            .open_with(LOCK, OpenOptions::new().write(true).create(true))
            .map_err(io)?
            .into_std();
        plain(LOCK, lock.metadata().ok().map(FileKind::of_std))?;
        let locked = if mode == Mode::Read {
            lock.try_lock_shared()
        } else {
            lock.try_lock()
        };
        match locked {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(DirStateError::Busy { path: shown });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        if dir.exists(LEGACY) {
            return Err(corrupt(format!(
                "{shown} holds a state of an earlier Verity ({LEGACY}, before contracts and state \
                 roots); make a new one with `verity state init`"
            )));
        }
        let mut options = OpenOptions::new();
        options.read(true).write(mode != Mode::Read);
        if create {
            options.create_new(true);
        }
        let file = match dir.open_with(DB, &options) {
            Ok(f) => f.into_std(),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(DirStateError::Exists { path: shown });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DirStateError::NotFound { path: shown });
            }
            Err(e) => return Err(io(e)),
        };
        plain(DB, file.metadata().ok().map(FileKind::of_std))?;
        if !create && file.metadata().map_err(io)?.len() == 0 {
            // redb would write a new database into it, then refuse it.
            return Err(corrupt(format!(
                "it is empty (0 bytes); if it is not needed, remove {shown}/{DB} and run \
                 `verity state init {shown}`"
            )));
        }
        let db_error = |e: redb::DatabaseError| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => DirStateError::Busy {
                path: shown.clone(),
            },
            other => corrupt(other.to_string()),
        };
        if mode == Mode::Read {
            // redb's read-only open checks no page checksums, and a damaged
            // file can panic it (`damaged_bytes_are_refused_or_harmless_and
            // _never_panic`). So the reader opens the file as redb would for
            // writing, with the same integrity check as `open`, under an
            // overlay that keeps what redb writes in memory: the file is
            // never written, and what the check repairs is repaired in the
            // overlay only.
            let db = redb::Builder::new()
                .set_check_integrity_on_open(true)
                .set_cache_size(CACHE_BYTES)
                .create_with_backend(crate::overlay_file::OverlayFile::new(file).map_err(io)?)
                .map_err(db_error)?;
            let tree = open_tree(&db, false).map_err(refused)?;
            return Ok(DirState {
                db,
                writable: false,
                _lock: lock,
                path: shown,
                tree,
            });
        }
        let backend = redb::backends::FileBackend::new(file).map_err(db_error)?;
        // The integrity check verifies every page's checksum: a file damaged
        // outside redb is refused instead of trusted (a plain open may
        // panic on it).
        let db = redb::Builder::new()
            .set_check_integrity_on_open(true)
            .set_cache_size(CACHE_BYTES)
            .create_with_backend(backend)
            .map_err(db_error)?;
        let tree = if create {
            initialise(&db).map_err(&corrupt)?;
            dir.open(".").and_then(|d| d.sync_all()).map_err(io)?;
            Child::Empty
        } else {
            open_tree(&db, true).map_err(refused)?
        };
        Ok(DirState {
            db,
            writable: true,
            _lock: lock,
            path: shown,
            tree,
        })
    }

    /// The state root.
    pub fn root(&self) -> Hash32 {
        Hash32(self.tree.hash())
    }

    /// The value stored under `key`, checked against the state tree: the
    /// tree's leaf for the key (or its absence) must agree with the value
    /// table, so a value changed behind Verity's back is refused where it
    /// is read ([`DirStateError::Corrupt`]), never executed against.
    pub fn value(&self, key: &[u8]) -> Result<Option<Vec<u8>>, DirStateError> {
        let txn = self.db.begin_read().map_err(|e| self.store_error(e))?;
        let values = txn.open_table(VALUES).map_err(|e| self.store_error(e))?;
        let nodes = txn.open_table(NODES).map_err(|e| self.store_error(e))?;
        let in_tree = stored::get(&Nodes(&nodes), &self.tree, &key_path(key))
            .map_err(|e| self.tree_error(e))?;
        let value = match values.get(key).map_err(|e| self.store_error(e))? {
            None => None,
            Some(v) => {
                let v = v.value();
                if v.len() > MAX_STORED_VALUE_BYTES {
                    return Err(self.corrupt(oversized(v.len())));
                }
                Some(v.to_vec())
            }
        };
        if value.as_deref().map(value_hash) != in_tree {
            return Err(self.corrupt(format!(
                "the value under key {} does not agree with the state tree (root {})",
                hex_bytes(key),
                self.root()
            )));
        }
        Ok(value)
    }

    /// The number of keys.
    pub fn len(&self) -> Result<u64, DirStateError> {
        let txn = self.db.begin_read().map_err(|e| self.store_error(e))?;
        let values = txn.open_table(VALUES).map_err(|e| self.store_error(e))?;
        values.len().map_err(|e| self.store_error(e))
    }

    /// Whether the state holds no key.
    pub fn is_empty(&self) -> bool {
        self.tree == Child::Empty
    }

    /// Calls `each` with the keys from `from` on (inclusive) and their
    /// values, in key order, until it returns `false` or the keys end:
    /// what listing a contract's keys or records reads, a page at a time,
    /// with nothing else of the state in memory.
    ///
    /// ```
    /// use verity_store::DirState;
    /// use verity_host_abi::WriteEntry;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let mut state = DirState::create(dir.path())?;
    /// let writes: Vec<_> = [b"a", b"b", b"c"].map(|k| WriteEntry { key: k.to_vec(), value: Some(k.to_vec()) }).into();
    /// state.commit(state.root(), &writes)?;
    /// let mut seen = Vec::new();
    /// state.scan(b"b", |k, _| { seen.push(k.to_vec()); seen.len() < 1 })?;
    /// assert_eq!(seen, [b"b"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn scan(
        &self,
        from: &[u8],
        mut each: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), DirStateError> {
        let txn = self.db.begin_read().map_err(|e| self.store_error(e))?;
        let values = txn.open_table(VALUES).map_err(|e| self.store_error(e))?;
        for entry in values.range(from..).map_err(|e| self.store_error(e))? {
            let (k, v) = entry.map_err(|e| self.store_error(e))?;
            if !each(k.value(), v.value()) {
                break;
            }
        }
        Ok(())
    }

    /// The proof of `keys` (present or absent) against [`root`](Self::root),
    /// in docs/state-tree.md's encoding: what
    /// [`MemoryState::prove`](verity_runtime::MemoryState::prove) gives for the same
    /// state.
    pub fn prove(&self, keys: &[&[u8]]) -> Result<Vec<u8>, DirStateError> {
        let paths: Vec<Hash> = keys.iter().map(|k| key_path(k)).collect();
        self.prove_paths(&paths, &[])
    }

    /// The witness of `receipt` against this state: the proof of every key
    /// it read or wrote, as [`MemoryState::witness`](verity_runtime::MemoryState::witness)
    /// makes it. Made before the receipt is committed.
    pub fn witness(&self, receipt: &Receipt) -> Result<Vec<u8>, DirStateError> {
        let (paths, removed) = witness_paths(receipt);
        self.prove_paths(&paths, &removed)
    }

    fn prove_paths(&self, paths: &[Hash], removed: &[Hash]) -> Result<Vec<u8>, DirStateError> {
        let txn = self.db.begin_read().map_err(|e| self.store_error(e))?;
        let nodes = txn.open_table(NODES).map_err(|e| self.store_error(e))?;
        stored::prove(&Nodes(&nodes), &self.tree, paths, removed).map_err(|e| self.tree_error(e))
    }

    /// Every contract code the state stores, one at a time, in key order:
    /// what a node readies at start-up so that no call compiles
    /// (`verity state warm`).
    pub fn for_each_code(&self, mut each: impl FnMut(&[u8])) -> Result<(), DirStateError> {
        use verity_host_abi::contract::CODE_KIND;
        self.scan(&[CODE_KIND], |k, v| {
            if k.first() != Some(&CODE_KIND) {
                return false;
            }
            if k.len() == 33 {
                each(v);
            }
            true
        })
    }

    /// Checks the whole state: every tree node is present, canonical and
    /// hashes to its parent's hash of it; the tree's leaves are exactly the
    /// values (as a set of paths and value hashes); no node is left that
    /// the tree does not reach; and the root is the stored root. Reads
    /// everything once, holding one path of the tree in memory; `progress`
    /// is called with the keys checked so far and the total, about every
    /// 64k keys.
    ///
    /// ```
    /// use verity_store::DirState;
    /// use verity_host_abi::WriteEntry;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let mut state = DirState::create(dir.path())?;
    /// let writes: Vec<_> = (0..100u8).map(|i| WriteEntry { key: vec![i], value: Some(vec![i]) }).collect();
    /// state.commit(state.root(), &writes)?;
    /// let report = state.check(|_, _| {})?;
    /// assert_eq!(report.keys, 100);
    /// assert!(report.nodes >= 99, "a tree of n keys has at least n - 1 nodes");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check(&self, mut progress: impl FnMut(u64, u64)) -> Result<CheckReport, DirStateError> {
        let txn = self.db.begin_read().map_err(|e| self.store_error(e))?;
        let values = txn.open_table(VALUES).map_err(|e| self.store_error(e))?;
        let nodes = txn.open_table(NODES).map_err(|e| self.store_error(e))?;
        let total = values.len().map_err(|e| self.store_error(e))?;
        // The leaves and the values as two multisets, each summed as
        // 256-bit numbers of H(path ‖ value hash): equal sums and counts,
        // with every leaf distinct (the tree places each path once), mean
        // the same set, without holding either in memory.
        let mut from_values = Sum::default();
        let (mut keys, mut bytes) = (0u64, 0u64);
        for entry in values.iter().map_err(|e| self.store_error(e))? {
            let (k, v) = entry.map_err(|e| self.store_error(e))?;
            let (k, v) = (k.value(), v.value());
            if v.len() > MAX_STORED_VALUE_BYTES {
                return Err(self.corrupt(oversized(v.len())));
            }
            from_values.add(&key_path(k), &value_hash(v));
            keys += 1;
            bytes += (k.len() + v.len()) as u64;
            if keys % (1 << 16) == 0 {
                progress(keys / 2, total);
            }
        }
        let mut from_tree = Sum::default();
        let mut seen = 0u64;
        let report = stored::check(&Nodes(&nodes), &self.tree, |p, v| {
            from_tree.add(p, v);
            seen += 1;
            if seen.is_multiple_of(1 << 16) {
                progress(total / 2 + seen / 2, total);
            }
        })
        .map_err(|e| self.tree_error(e))?;
        progress(total, total);
        if report.leaves != keys || from_tree != from_values {
            return Err(self.corrupt(format!(
                "its tree holds {} keys and its values {keys}, or not the same ones",
                report.leaves
            )));
        }
        let stored_nodes = nodes.len().map_err(|e| self.store_error(e))?;
        if stored_nodes != report.records {
            return Err(self.corrupt(format!(
                "it holds {stored_nodes} tree nodes, of which the tree reaches {}",
                report.records
            )));
        }
        Ok(CheckReport {
            keys,
            nodes: report.records,
            bytes,
        })
    }

    /// Applies `writes`, computed against the state whose root is
    /// `pre_root` (a receipt's `pre_state_root`), and persists them with
    /// the new root in one durable transaction. Refuses, committing
    /// nothing, writes made against another root
    /// ([`DirStateError::Stale`]) and any value that [`open`](Self::open)
    /// would then refuse ([`DirStateError::TooLarge`]).
    pub fn commit(&mut self, pre_root: Hash32, writes: &[WriteEntry]) -> Result<(), DirStateError> {
        if !self.writable {
            return Err(DirStateError::ReadOnly {
                path: self.path.clone(),
            });
        }
        let root = self.root();
        if pre_root != root {
            return Err(DirStateError::Stale {
                path: self.path.clone(),
                source: StaleReceipt {
                    receipt: pre_root,
                    state: root,
                },
            });
        }
        if let Some(v) = writes
            .iter()
            .filter_map(|w| w.value.as_ref())
            .find(|v| v.len() > MAX_STORED_VALUE_BYTES)
        {
            return Err(DirStateError::TooLarge {
                path: self.path.clone(),
                bytes: v.len(),
            });
        }
        if writes.is_empty() {
            return Ok(());
        }
        let txn = self.db.begin_write().map_err(|e| self.store_error(e))?;
        let tree = {
            let mut nodes = txn.open_table(NODES).map_err(|e| self.store_error(e))?;
            let (tree, changes) = stored::update(&Nodes(&nodes), &self.tree, &tree_writes(writes))
                .map_err(|e| self.tree_error(e))?;
            for (at, record) in changes.records {
                match record {
                    Some(r) => nodes.insert(at.as_slice(), r.encode().as_slice()).map(drop),
                    None => nodes.remove(at.as_slice()).map(drop),
                }
                .map_err(|e| self.store_error(e))?;
            }
            let mut values = txn.open_table(VALUES).map_err(|e| self.store_error(e))?;
            for w in writes {
                match &w.value {
                    Some(v) => values.insert(w.key.as_slice(), v.as_slice()).map(drop),
                    None => values.remove(w.key.as_slice()).map(drop),
                }
                .map_err(|e| self.store_error(e))?;
            }
            let mut meta = txn.open_table(META).map_err(|e| self.store_error(e))?;
            meta.insert("root", tree.hash().as_slice())
                .map_err(|e| self.store_error(e))?;
            meta.insert("tree", tree.encode().as_slice())
                .map_err(|e| self.store_error(e))?;
            tree
        };
        crash_point("before-commit");
        if fail_point("commit") {
            return Err(self.store_error("injected failure (VERITY_FAIL_AT=commit)"));
        }
        txn.commit().map_err(|e| self.store_error(e))?;
        crash_point("after-commit");
        self.tree = tree;
        Ok(())
    }

    /// A failure of the database while it was open.
    fn store_error(&self, e: impl Display) -> DirStateError {
        DirStateError::Io {
            path: self.path.clone(),
            source: std::io::Error::other(e.to_string()),
        }
    }

    /// A state found damaged while it was open.
    fn corrupt(&self, reason: String) -> DirStateError {
        DirStateError::Corrupt {
            path: self.path.clone(),
            reason,
        }
    }

    /// A tree that could not be read: the database failed, or the tree's
    /// nodes are damaged.
    fn tree_error(&self, e: StoredError<redb::StorageError>) -> DirStateError {
        match e {
            StoredError::Source(e) => self.store_error(e),
            damaged => self.corrupt(damaged.to_string()),
        }
    }
}

/// Why a stored value of `len` bytes is refused.
fn oversized(len: usize) -> String {
    format!("a value of {len} bytes, over the largest a state holds ({MAX_STORED_VALUE_BYTES})")
}

/// `bytes` in hex, the first 64 bytes of them.
fn hex_bytes(bytes: &[u8]) -> String {
    let shown: String = bytes.iter().take(64).map(|b| format!("{b:02x}")).collect();
    if bytes.len() > 64 {
        format!("{shown}...")
    } else {
        shown
    }
}

/// The tree's nodes in a table of the database: a read transaction's or
/// the commit's own.
struct Nodes<'t, T>(&'t T);

impl<T: ReadableTable<&'static [u8], &'static [u8]>> NodeSource for Nodes<'_, T> {
    type Error = redb::StorageError;
    fn record(&self, position: &[u8]) -> Result<Option<Vec<u8>>, Self::Error> {
        Ok(self.0.get(position)?.map(|r| r.value().to_vec()))
    }
}

/// A sum of 256-bit numbers modulo 2^256: a multiset of leaves, in any
/// order, as [`DirState::check`] compares them.
#[derive(Default, PartialEq, Eq)]
struct Sum([u64; 4]);

impl Sum {
    fn add(&mut self, path: &Hash, value: &Hash) {
        use sha2::Digest;
        let h = sha2::Sha256::new()
            .chain_update(path)
            .chain_update(value)
            .finalize();
        let mut carry = false;
        for (i, limb) in self.0.iter_mut().enumerate() {
            let word = u64::from_le_bytes(h[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
            let (a, c1) = limb.overflowing_add(word);
            let (b, c2) = a.overflowing_add(carry as u64);
            *limb = b;
            carry = c1 || c2;
        }
    }
}

/// What the state's checks need of a file: whether it is a regular file,
/// and how many hard links it has (1 where the platform has none).
struct FileKind {
    regular: bool,
    links: u64,
}

impl FileKind {
    fn of_cap(m: cap_std::fs::Metadata) -> Self {
        #[cfg(unix)]
        let links = cap_std::fs::MetadataExt::nlink(&m);
        #[cfg(not(unix))]
        let links = 1;
        FileKind {
            regular: m.is_file(),
            links,
        }
    }

    fn of_std(m: std::fs::Metadata) -> Self {
        #[cfg(unix)]
        let links = std::os::unix::fs::MetadataExt::nlink(&m);
        #[cfg(not(unix))]
        let links = 1;
        FileKind {
            regular: m.is_file(),
            links,
        }
    }
}

/// Writes the format tag and the empty root to a new database.
fn initialise(db: &redb::Database) -> Result<(), String> {
    let text = |e: &dyn Display| e.to_string();
    let txn = db.begin_write().map_err(|e| text(&e))?;
    {
        txn.open_table(VALUES).map_err(|e| text(&e))?;
        txn.open_table(NODES).map_err(|e| text(&e))?;
        let mut meta = txn.open_table(META).map_err(|e| text(&e))?;
        meta.insert("format", FORMAT).map_err(|e| text(&e))?;
        meta.insert("root", Hash32::default().0.as_slice())
            .map_err(|e| text(&e))?;
        meta.insert("tree", Child::Empty.encode().as_slice())
            .map_err(|e| text(&e))?;
    }
    txn.commit().map_err(|e| text(&e))
}

/// Why [`open_tree`] refused a database.
enum Refusal {
    /// A state of the previous format, opened for reading.
    Outdated,
    /// Not a valid state, and why.
    Corrupt(String),
}

impl From<String> for Refusal {
    fn from(reason: String) -> Self {
        Refusal::Corrupt(reason)
    }
}

impl From<&str> for Refusal {
    fn from(reason: &str) -> Self {
        Refusal::Corrupt(reason.into())
    }
}

/// Reads a state database's format tag, root and tree root, which must
/// agree: nothing proportional to the state. A database of the previous
/// format is upgraded if `writable`, refused if not.
fn open_tree(db: &redb::Database, writable: bool) -> Result<Child, Refusal> {
    let text = |e: &dyn Display| e.to_string();
    let txn = db.begin_read().map_err(|e| text(&e))?;
    let meta = txn
        .open_table(META)
        .map_err(|e| format!("no Verity metadata ({e})"))?;
    // Copied out: no page of this read may be held once `upgrade` writes.
    let format = meta
        .get("format")
        .map_err(|e| text(&e))?
        .map(|f| f.value().to_vec());
    let stored: [u8; 32] = meta
        .get("root")
        .map_err(|e| text(&e))?
        .and_then(|r| r.value().try_into().ok())
        .ok_or("it has no state root")?;
    match format.as_deref() {
        Some(FORMAT) => {}
        Some(FORMAT_V2) if writable => {
            drop((meta, txn));
            return Ok(upgrade(db, stored)?);
        }
        Some(FORMAT_V2) => return Err(Refusal::Outdated),
        _ => return Err("it has no Verity format tag".into()),
    }
    let tree = meta
        .get("tree")
        .map_err(|e| text(&e))?
        .and_then(|t| Child::decode(t.value()))
        .ok_or("it has no state tree root")?;
    if tree.hash() != stored {
        return Err(format!(
            "its tree has root {}, not the stored root {}",
            Hash32(tree.hash()),
            Hash32(stored)
        )
        .into());
    }
    Ok(tree)
}

/// Upgrades a `verity-state-v2` database in one transaction: builds its
/// tree from its values, checks it against the stored root, stores its
/// nodes and the new format tag.
fn upgrade(db: &redb::Database, stored: Hash) -> Result<Child, String> {
    let text = |e: &dyn Display| e.to_string();
    let txn = db.begin_write().map_err(|e| text(&e))?;
    let tree = {
        let values = txn.open_table(VALUES).map_err(|e| text(&e))?;
        let mut writes = Vec::new();
        for entry in values.iter().map_err(|e| text(&e))? {
            let (k, v) = entry.map_err(|e| text(&e))?;
            let (k, v) = (k.value(), v.value());
            if v.len() > MAX_STORED_VALUE_BYTES {
                return Err(oversized(v.len()));
            }
            writes.push((key_path(k), Some(value_hash(v))));
        }
        let mut nodes = txn.open_table(NODES).map_err(|e| text(&e))?;
        if !nodes.is_empty().map_err(|e| text(&e))? {
            return Err("it holds tree nodes but is in the format before them".into());
        }
        let (tree, changes) =
            stored::update(&Nodes(&nodes), &Child::Empty, &writes).map_err(|e| text(&e))?;
        if tree.hash() != stored {
            return Err(format!(
                "its values have root {}, not the stored root {}",
                Hash32(tree.hash()),
                Hash32(stored)
            ));
        }
        for (at, record) in changes.records {
            let record = record.expect("a tree built from nothing removes nothing");
            nodes
                .insert(at.as_slice(), record.encode().as_slice())
                .map_err(|e| text(&e))?;
        }
        let mut meta = txn.open_table(META).map_err(|e| text(&e))?;
        meta.insert("format", FORMAT).map_err(|e| text(&e))?;
        meta.insert("tree", tree.encode().as_slice())
            .map_err(|e| text(&e))?;
        tree
    };
    txn.commit().map_err(|e| text(&e))?;
    Ok(tree)
}

impl StateView for DirState {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.value(key)
            .map_err(|e| StateError::Backend(Box::new(e)))
    }
}

impl StateBackend for DirState {
    fn roots(&self, writes: &[WriteEntry]) -> Result<StateRoots, StateError> {
        let pre = self.root();
        if writes.is_empty() {
            return Ok(StateRoots { pre, post: pre });
        }
        let backend = |e: DirStateError| StateError::Backend(Box::new(e));
        let txn = self
            .db
            .begin_read()
            .map_err(|e| backend(self.store_error(e)))?;
        let nodes = txn
            .open_table(NODES)
            .map_err(|e| backend(self.store_error(e)))?;
        let (tree, _) = stored::update(&Nodes(&nodes), &self.tree, &tree_writes(writes))
            .map_err(|e| backend(self.tree_error(e)))?;
        Ok(StateRoots {
            pre,
            post: Hash32(tree.hash()),
        })
    }
}

/// Aborts the process here if `VERITY_CRASH_AT` names this step (crash
/// tests only; see the module docs). Compiled in only with the `failpoints`
/// feature, which the workspace's tests enable: a production build never
/// reads the variable.
#[cfg(feature = "failpoints")]
fn crash_point(step: &str) {
    if std::env::var_os("VERITY_CRASH_AT").is_some_and(|v| v == step) {
        std::process::abort();
    }
}

#[cfg(not(feature = "failpoints"))]
fn crash_point(_step: &str) {}

/// Whether `VERITY_FAIL_AT` names this step, where the operation then fails
/// as a full disk would (tests only, like [`crash_point`]).
#[cfg(feature = "failpoints")]
fn fail_point(step: &str) -> bool {
    std::env::var_os("VERITY_FAIL_AT").is_some_and(|v| v == step)
}

#[cfg(not(feature = "failpoints"))]
fn fail_point(_step: &str) -> bool {
    false
}
