//! A persistent state in a directory, opened with cap-std so that nothing
//! outside the directory is touched.
//!
//! The whole state lives in one file, `state.bin`: a magic string, the
//! entries sorted by key, and a SHA-256 checksum of everything before it.
//! A commit writes `state.bin.tmp`, syncs it, renames it over `state.bin`
//! and syncs the directory, so a crash at any point leaves either the old or
//! the new state, never a mix.
//!
//! One process at a time: [`DirState::open`] takes an exclusive lock on the
//! file `lock` in the directory and holds it until the `DirState` is
//! dropped (the OS releases it if the process dies). A second opener gets
//! [`DirStateError::Busy`] at once rather than waiting, so two concurrent
//! `verity run --state DIR` never interleave their read-modify-write.
//!
//! For crash tests, in a build with the `failpoints` feature, the
//! environment variable `VERITY_CRASH_AT` set to `after-write`,
//! `after-sync` or `after-rename` aborts the process at that step of a
//! commit.

use std::io::{Read, Write};
use std::path::Path;

use cap_std::ambient_authority;
use cap_std::fs::{Dir, OpenOptions};
use verity_host_abi::{Hash32, WriteEntry};

use crate::state::{MemoryState, StateBackend, StateError, StateRoots};

const FILE: &str = "state.bin";
const LOCK: &str = "lock";
const TMP: &str = "state.bin.tmp";
const MAGIC: &[u8; 16] = b"verity-state-v1\n";

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
    /// `state.bin`. A state is made explicitly ([`DirState::create`]), so
    /// that a mistyped path is an error, not a new empty state.
    #[error(
        "no Verity state at {path} (no directory with a state.bin there); create one first with `verity state init {path}`"
    )]
    NotFound {
        /// The directory.
        path: String,
    },
    /// [`DirState::create`] found a state already there.
    #[error("{path} already holds a Verity state (state.bin)")]
    Exists {
        /// The directory.
        path: String,
    },
    /// `state.bin` is not a valid state file.
    #[error("state file {path}/state.bin is corrupt: {reason}")]
    Corrupt {
        /// The directory.
        path: String,
        /// What is wrong.
        reason: &'static str,
    },
}

/// A key-value state persisted in a directory.
///
/// ```
/// use verity_runtime::{DirState, DirStateError, StateBackend};
/// use verity_host_abi::WriteEntry;
///
/// let dir = tempfile::tempdir()?;
/// let mut state = DirState::create(dir.path())?;
/// state.commit(&[WriteEntry { key: b"k".to_vec(), value: Some(b"v".to_vec()) }])?;
/// // One holder at a time.
/// assert!(matches!(DirState::open(dir.path()), Err(DirStateError::Busy { .. })));
/// drop(state);
/// let reopened = DirState::open(dir.path())?;
/// assert_eq!(reopened.get(b"k")?, Some(b"v".to_vec()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct DirState {
    dir: Dir,
    /// Held open for its exclusive lock.
    _lock: std::fs::File,
    path: String,
    state: MemoryState,
}

impl DirState {
    /// Opens the state directory at `path`, which [`DirState::create`]
    /// made, and loads its state.
    pub fn open(path: &Path) -> Result<Self, DirStateError> {
        Self::open_inner(path, false)
    }

    /// Creates an empty state at `path`: the directory (and its parents)
    /// if missing, and an empty `state.bin`. Refuses a directory that
    /// already holds a state.
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
        Self::open_inner(path, true)
    }

    fn open_inner(path: &Path, create: bool) -> Result<Self, DirStateError> {
        let shown = path.display().to_string();
        let io = |source| DirStateError::Io {
            path: shown.clone(),
            source,
        };
        let dir = match Dir::open_ambient_dir(path, ambient_authority()) {
            Ok(dir) => dir,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DirStateError::NotFound { path: shown });
            }
            Err(e) => return Err(io(e)),
        };
        let lock = dir
            .open_with(LOCK, OpenOptions::new().write(true).create(true))
            .map_err(io)?
            .into_std();
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(DirStateError::Busy { path: shown });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        let state = match dir.open(FILE) {
            Ok(_) if create => return Err(DirStateError::Exists { path: shown }),
            Ok(mut f) => {
                let mut bytes = Vec::new();
                f.read_to_end(&mut bytes).map_err(io)?;
                decode(&bytes).map_err(|reason| DirStateError::Corrupt {
                    path: shown.clone(),
                    reason,
                })?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => MemoryState::default(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DirStateError::NotFound { path: shown });
            }
            Err(e) => return Err(io(e)),
        };
        let mut opened = DirState {
            dir,
            _lock: lock,
            path: shown,
            state,
        };
        if create {
            opened.commit(&[])?;
        }
        Ok(opened)
    }

    /// The state as loaded (and as updated by commits).
    pub fn state(&self) -> &MemoryState {
        &self.state
    }

    /// Applies `writes` and persists the result atomically.
    pub fn commit(&mut self, writes: &[WriteEntry]) -> Result<(), DirStateError> {
        let mut next = self.state.clone();
        next.apply(writes);
        let bytes = encode(&next);
        let io = |source| DirStateError::Io {
            path: self.path.clone(),
            source,
        };
        let mut f = self
            .dir
            .open_with(
                TMP,
                OpenOptions::new().write(true).create(true).truncate(true),
            )
            .map_err(io)?;
        f.write_all(&bytes).map_err(io)?;
        crash_point("after-write");
        f.sync_all().map_err(io)?;
        drop(f);
        crash_point("after-sync");
        self.dir.rename(TMP, &self.dir, FILE).map_err(io)?;
        crash_point("after-rename");
        self.dir.open(".").and_then(|d| d.sync_all()).map_err(io)?;
        self.state = next;
        Ok(())
    }
}

impl StateBackend for DirState {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.state.get(key)
    }

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

fn encode(state: &MemoryState) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&(state.len() as u64).to_le_bytes());
    for (k, v) in state.iter() {
        for part in [k, v] {
            out.extend_from_slice(&(part.len() as u32).to_le_bytes());
            out.extend_from_slice(part);
        }
    }
    let sum = Hash32::of(&out);
    out.extend_from_slice(&sum.0);
    out
}

fn decode(bytes: &[u8]) -> Result<MemoryState, &'static str> {
    if bytes.len() < MAGIC.len() + 8 + 32 {
        return Err("too short");
    }
    let (body, sum) = bytes.split_at(bytes.len() - 32);
    if Hash32::of(body).0 != sum {
        return Err("checksum mismatch");
    }
    let rest = body.strip_prefix(MAGIC.as_slice()).ok_or("bad magic")?;
    let (count, mut rest) = rest.split_at(8);
    let count = u64::from_le_bytes(count.try_into().map_err(|_| "bad count")?);
    let take = |rest: &mut &[u8]| -> Result<Vec<u8>, &'static str> {
        if rest.len() < 4 {
            return Err("truncated entry");
        }
        let (n, tail) = rest.split_at(4);
        let n = u32::from_le_bytes(n.try_into().map_err(|_| "bad length")?) as usize;
        if tail.len() < n {
            return Err("truncated entry");
        }
        let (v, tail) = tail.split_at(n);
        *rest = tail;
        Ok(v.to_vec())
    };
    let mut entries: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for _ in 0..count {
        let k = take(&mut rest)?;
        let v = take(&mut rest)?;
        if entries.last().is_some_and(|(prev, _)| *prev >= k) {
            return Err("keys out of order");
        }
        entries.push((k, v));
    }
    if !rest.is_empty() {
        return Err("trailing bytes");
    }
    Ok(entries.into_iter().collect())
}
