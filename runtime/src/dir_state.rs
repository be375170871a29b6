//! A persistent state in a directory, opened with cap-std so that nothing
//! outside the directory is touched.
//!
//! The state lives in `state.redb`, a [redb](https://docs.rs/redb) database
//! (pure Rust, copy-on-write B-trees, crash-safe commits): the table
//! `values` maps state keys to values, the table `meta` holds the format
//! tag and the state root. A commit is one redb write transaction over the
//! written keys and the new root, made durable before it returns: its cost
//! grows with the writes, not with the state, and a crash at any point
//! leaves the old or the new state, never a mix. Opening reads every value
//! and rebuilds the state tree in memory (docs/performance.md measures it),
//! then checks the rebuilt root against the stored one, so a database whose
//! values were changed behind Verity's back is refused.
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
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use verity_host_abi::{Hash32, WriteEntry};

use crate::state::{MemoryState, StaleReceipt, StateBackend, StateError, StateRoots, StateView};

const DB: &str = "state.redb";
const LOCK: &str = "lock";
/// How long [`DirState::open`] waits for a busy directory before it says so.
const BUSY_WAIT: std::time::Duration = std::time::Duration::from_millis(250);
/// The single file of the state format before contracts and roots.
const LEGACY: &str = "state.bin";

const VALUES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("values");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// `meta["format"]`: what this database is.
const FORMAT: &[u8] = b"verity-state-v2";

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
/// use verity_runtime::{DirState, DirStateError, StateView};
/// use verity_host_abi::WriteEntry;
///
/// let dir = tempfile::tempdir()?;
/// let mut state = DirState::create(dir.path())?;
/// let root = state.state().root();
/// state.commit(root, &[WriteEntry { key: b"k".to_vec(), value: Some(b"v".to_vec()) }])?;
/// // Writes computed against an older root commit nothing.
/// let stale = state.commit(root, &[WriteEntry { key: b"k".to_vec(), value: None }]);
/// assert!(matches!(stale, Err(DirStateError::Stale { .. })));
/// let root = state.state().root();
/// // One holder at a time.
/// assert!(matches!(DirState::open(dir.path()), Err(DirStateError::Busy { .. })));
/// drop(state);
/// let reopened = DirState::open(dir.path())?;
/// assert_eq!(reopened.get(b"k")?, Some(b"v".to_vec()));
/// assert_eq!(reopened.state().root(), root);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct DirState {
    db: Db,
    /// Held open for its exclusive lock.
    _lock: std::fs::File,
    path: String,
    state: MemoryState,
}

/// The database, open for writing; or nothing for a reader, which loaded
/// the state and closed the file (its shared lock on `lock` is what keeps
/// writers out).
enum Db {
    Write(redb::Database),
    Read,
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
    /// loaded and checked as by `open`; [`commit`](Self::commit) refuses
    /// ([`DirStateError::ReadOnly`]).
    ///
    /// ```
    /// use verity_runtime::{DirState, DirStateError};
    ///
    /// let dir = tempfile::tempdir()?;
    /// drop(DirState::create(dir.path())?);
    /// let a = DirState::open_shared(dir.path())?;
    /// let mut b = DirState::open_shared(dir.path())?; // readers share
    /// assert!(matches!(DirState::open(dir.path()), Err(DirStateError::Busy { .. })));
    /// let root = b.state().root();
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
    /// use verity_runtime::{DirState, DirStateError};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("state");
    /// assert!(matches!(DirState::open(&path), Err(DirStateError::NotFound { .. })));
    /// drop(DirState::create(&path)?);
    /// assert!(matches!(DirState::create(&path), Err(DirStateError::Exists { .. })));
    /// assert!(DirState::open(&path)?.state().is_empty());
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
            // _never_panic`). So the reader opens a copy of the file in
            // memory for writing, with the same integrity check as `open`:
            // the file is never written, and what the check repairs is
            // repaired in the copy only.
            use redb::StorageBackend;
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut &file, &mut bytes).map_err(io)?;
            let copy = redb::backends::InMemoryBackend::new();
            copy.set_len(bytes.len() as u64)
                .and_then(|()| copy.write(0, &bytes))
                .map_err(io)?;
            drop(bytes);
            let db = redb::Builder::new()
                .set_check_integrity_on_open(true)
                .create_with_backend(copy)
                .map_err(db_error)?;
            let state = load(&db).map_err(corrupt)?;
            return Ok(DirState {
                db: Db::Read,
                _lock: lock,
                path: shown,
                state,
            });
        }
        let backend = redb::backends::FileBackend::new(file).map_err(db_error)?;
        // The integrity check verifies every page's checksum: a file damaged
        // outside redb is refused instead of trusted (a plain open may
        // panic on it). Opening reads every value anyway.
        let db = redb::Builder::new()
            .set_check_integrity_on_open(true)
            .create_with_backend(backend)
            .map_err(db_error)?;
        let state = if create {
            initialise(&db).map_err(&corrupt)?;
            dir.open(".").and_then(|d| d.sync_all()).map_err(io)?;
            MemoryState::default()
        } else {
            load(&db).map_err(corrupt)?
        };
        Ok(DirState {
            db: Db::Write(db),
            _lock: lock,
            path: shown,
            state,
        })
    }

    /// The state as loaded (and as updated by commits): its entries, root
    /// and witnesses.
    pub fn state(&self) -> &MemoryState {
        &self.state
    }

    /// Applies `writes`, computed against the state whose root is
    /// `pre_root` (a receipt's `pre_state_root`), and persists them with
    /// the new root in one durable transaction. Refuses, committing
    /// nothing, writes made against another root
    /// ([`DirStateError::Stale`]) and any value that [`open`](Self::open)
    /// would then refuse ([`DirStateError::TooLarge`]).
    pub fn commit(&mut self, pre_root: Hash32, writes: &[WriteEntry]) -> Result<(), DirStateError> {
        let Db::Write(db) = &self.db else {
            return Err(DirStateError::ReadOnly {
                path: self.path.clone(),
            });
        };
        let root = self.state.root();
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
        let root = self
            .state
            .roots(writes)
            .map_err(|e| self.store_error(e))?
            .post;
        let txn = db.begin_write().map_err(|e| self.store_error(e))?;
        {
            let mut values = txn.open_table(VALUES).map_err(|e| self.store_error(e))?;
            for w in writes {
                match &w.value {
                    Some(v) => values.insert(w.key.as_slice(), v.as_slice()).map(drop),
                    None => values.remove(w.key.as_slice()).map(drop),
                }
                .map_err(|e| self.store_error(e))?;
            }
            let mut meta = txn.open_table(META).map_err(|e| self.store_error(e))?;
            meta.insert("root", root.0.as_slice())
                .map_err(|e| self.store_error(e))?;
        }
        crash_point("before-commit");
        if fail_point("commit") {
            return Err(self.store_error("injected failure (VERITY_FAIL_AT=commit)"));
        }
        txn.commit().map_err(|e| self.store_error(e))?;
        crash_point("after-commit");
        self.state.apply(writes);
        Ok(())
    }

    /// A failure of the database while it was open.
    fn store_error(&self, e: impl Display) -> DirStateError {
        DirStateError::Io {
            path: self.path.clone(),
            source: std::io::Error::other(e.to_string()),
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
        let mut meta = txn.open_table(META).map_err(|e| text(&e))?;
        meta.insert("format", FORMAT).map_err(|e| text(&e))?;
        meta.insert("root", Hash32::default().0.as_slice())
            .map_err(|e| text(&e))?;
    }
    txn.commit().map_err(|e| text(&e))
}

/// Reads a state database: its format tag, every value, and its root,
/// which must be the root of the values.
fn load(db: &impl ReadableDatabase) -> Result<MemoryState, String> {
    let text = |e: &dyn Display| e.to_string();
    let txn = db.begin_read().map_err(|e| text(&e))?;
    let meta = txn
        .open_table(META)
        .map_err(|e| format!("no Verity metadata ({e})"))?;
    let format = meta.get("format").map_err(|e| text(&e))?;
    if format.as_ref().map(|f| f.value()) != Some(FORMAT) {
        return Err("it has no Verity format tag".into());
    }
    let stored: [u8; 32] = meta
        .get("root")
        .map_err(|e| text(&e))?
        .and_then(|r| r.value().try_into().ok())
        .ok_or("it has no state root")?;
    let values = txn.open_table(VALUES).map_err(|e| text(&e))?;
    let mut entries = Vec::new();
    for entry in values.iter().map_err(|e| text(&e))? {
        let (k, v) = entry.map_err(|e| text(&e))?;
        let (k, v) = (k.value(), v.value());
        if v.len() > MAX_STORED_VALUE_BYTES {
            return Err(format!(
                "a value of {} bytes, over the largest a state holds ({MAX_STORED_VALUE_BYTES})",
                v.len()
            ));
        }
        entries.push((k.to_vec(), v.to_vec()));
    }
    let state: MemoryState = entries.into_iter().collect();
    if state.root().0 != stored {
        return Err(format!(
            "its values have root {}, not the stored root {}",
            state.root(),
            Hash32(stored)
        ));
    }
    Ok(state)
}

impl StateView for DirState {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.state.get(key)
    }
}

impl StateBackend for DirState {
    fn roots(&self, writes: &[WriteEntry]) -> Result<StateRoots, StateError> {
        self.state.roots(writes)
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
