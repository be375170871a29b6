//! The state directory's store, attacked: a foreign database, values
//! changed behind Verity's back, an oversized value, and every kind of byte
//! damage to the file. Each is refused with a message or (where the damage
//! misses everything the state uses) opens to the same state; none panics.
//! Crash safety and the one-writer lock are tests/all/durability.rs.

use std::path::Path;

use redb::TableDefinition;
use verity_runtime::{DirState, DirStateError, StateView, WriteEntry};

const VALUES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("values");

fn write(key: &[u8], value: &[u8]) -> WriteEntry {
    WriteEntry {
        key: key.to_vec(),
        value: Some(value.to_vec()),
    }
}

/// A state directory holding a few hundred entries.
fn populated(path: &Path) {
    let mut state = DirState::create(path).unwrap();
    for batch in 0..8u32 {
        let writes: Vec<WriteEntry> = (0..40u32)
            .map(|i| {
                let k = (batch * 40 + i).to_be_bytes();
                write(&k, &[batch as u8; 48])
            })
            .collect();
        state.commit(state.state().root(), &writes).unwrap();
    }
}

fn corrupt_reason(path: &Path) -> String {
    match DirState::open(path) {
        Err(DirStateError::Corrupt { reason, .. }) => reason,
        Err(other) => panic!("expected Corrupt, got {other}"),
        Ok(_) => panic!("a corrupt state opened"),
    }
}

#[test]
fn a_foreign_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = redb::Database::create(dir.path().join("state.redb")).unwrap();
    let txn = db.begin_write().unwrap();
    txn.open_table(VALUES)
        .unwrap()
        .insert(&b"k"[..], &b"v"[..])
        .unwrap();
    txn.commit().unwrap();
    drop(db);
    let reason = corrupt_reason(dir.path());
    assert!(reason.contains("no Verity metadata"), "{reason}");
}

#[test]
fn values_changed_behind_verity_are_refused_by_the_root() {
    let dir = tempfile::tempdir().unwrap();
    populated(dir.path());
    let root = DirState::open(dir.path()).unwrap().state().root();
    let db = redb::Database::open(dir.path().join("state.redb")).unwrap();
    let txn = db.begin_write().unwrap();
    txn.open_table(VALUES)
        .unwrap()
        .insert(&7u32.to_be_bytes()[..], &b"forged"[..])
        .unwrap();
    txn.commit().unwrap();
    drop(db);
    let reason = corrupt_reason(dir.path());
    assert!(reason.contains(&root.to_string()), "{reason}");
}

#[test]
fn an_oversized_value_is_refused_before_it_is_copied() {
    let dir = tempfile::tempdir().unwrap();
    populated(dir.path());
    let db = redb::Database::open(dir.path().join("state.redb")).unwrap();
    let txn = db.begin_write().unwrap();
    let huge = vec![0u8; (64 << 20) + 1];
    txn.open_table(VALUES)
        .unwrap()
        .insert(&b"big"[..], huge.as_slice())
        .unwrap();
    txn.commit().unwrap();
    drop(db);
    let reason = corrupt_reason(dir.path());
    assert!(reason.contains("67108865 bytes"), "{reason}");
}

#[test]
fn damaged_bytes_are_refused_or_harmless_and_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    populated(&path);
    let good = DirState::open(&path).unwrap();
    let (root, len) = (good.state().root(), good.state().len());
    drop(good);
    let file = path.join("state.redb");
    let original = std::fs::read(&file).unwrap();
    let (mut refused, mut harmless) = (0, 0);
    // Every 97th byte flipped, the file cut at ten lengths, and zeroed pages.
    let mut damaged: Vec<Vec<u8>> = (0..original.len())
        .step_by(97)
        .map(|i| {
            let mut b = original.clone();
            b[i] ^= 0x5a;
            b
        })
        .collect();
    damaged.extend((1..=10).map(|n| original[..original.len() * n / 11].to_vec()));
    damaged.extend((0..original.len()).step_by(4096).map(|i| {
        let mut b = original.clone();
        let end = (i + 4096).min(b.len());
        b[i..end].fill(0);
        b
    }));
    // Both ways of opening: for writing (redb's integrity check, then the
    // root), and shared for reading (the root alone).
    for bytes in damaged {
        for open in [DirState::open, DirState::open_shared] {
            std::fs::write(&file, &bytes).unwrap();
            match open(&path) {
                Ok(state) => {
                    // The damage missed what the state uses: the same state.
                    assert_eq!(state.state().root(), root);
                    assert_eq!(state.state().len(), len);
                    assert_eq!(state.get(&3u32.to_be_bytes()).unwrap(), Some(vec![0; 48]));
                    harmless += 1;
                }
                Err(DirStateError::Corrupt { .. }) => refused += 1,
                Err(other) => panic!("damage gave {other}, not Corrupt"),
            }
        }
    }
    assert!(refused > 0, "no damage was detected");
    eprintln!("damaged stores: {refused} refused, {harmless} opened unchanged");
}

/// What `open` refuses, `commit` refuses first: a value one byte over the
/// largest a state holds commits nothing and leaves a state that opens;
/// a value at the limit commits and opens again.
#[test]
fn commit_refuses_what_open_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    populated(dir.path());
    let limit = 64 << 20;
    let mut state = DirState::open(dir.path()).unwrap();
    let root = state.state().root();
    let over = state.commit(root, &[write(b"big", &vec![1u8; limit + 1])]);
    assert!(
        matches!(over, Err(DirStateError::TooLarge { bytes, .. }) if bytes == limit + 1),
        "{over:?}"
    );
    assert_eq!(state.state().root(), root);
    drop(state);
    let mut state = DirState::open(dir.path()).unwrap();
    assert_eq!(state.state().root(), root, "nothing was committed");
    assert_eq!(state.get(b"big").unwrap(), None);
    state
        .commit(root, &[write(b"big", &vec![1u8; limit])])
        .unwrap();
    let committed = state.state().root();
    drop(state);
    let state = DirState::open(dir.path()).unwrap();
    assert_eq!(state.state().root(), committed);
    assert_eq!(state.get(b"big").unwrap().map(|v| v.len()), Some(limit));
}

/// Writes computed against an older root commit nothing, on disk or in
/// memory.
#[test]
fn a_stale_commit_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    populated(dir.path());
    let mut state = DirState::open(dir.path()).unwrap();
    let old = state.state().root();
    state.commit(old, &[write(b"a", b"1")]).unwrap();
    let now = state.state().root();
    let stale = state.commit(old, &[write(b"b", b"2")]).unwrap_err();
    assert!(
        matches!(&stale, DirStateError::Stale { source, .. }
            if source.receipt == old && source.state == now),
        "{stale}"
    );
    assert!(
        stale.to_string().contains("nothing was committed"),
        "{stale}"
    );
    assert_eq!(state.get(b"b").unwrap(), None);
    drop(state);
    let state = DirState::open(dir.path()).unwrap();
    assert_eq!(state.state().root(), now);
    assert_eq!(state.get(b"b").unwrap(), None);
}

/// `DirState::open(path)` on another thread, failing the test instead of
/// hanging it if the open blocks.
fn open_within_10s(path: &Path) -> Result<DirState, DirStateError> {
    let path = path.to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(DirState::open(&path));
    });
    rx.recv_timeout(std::time::Duration::from_secs(10))
        .expect("opening the state blocked")
}

/// A FIFO named `lock` or `state.redb` made every command hang: now each
/// is refused at once, naming the file.
#[test]
fn special_files_in_the_directory_are_refused_without_blocking() {
    for name in ["lock", "state.redb"] {
        let dir = tempfile::tempdir().unwrap();
        populated(dir.path());
        let target = dir.path().join(name);
        std::fs::remove_file(&target).unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(&target)
            .status()
            .unwrap();
        assert!(made.success());
        match open_within_10s(dir.path()) {
            Err(DirStateError::Corrupt { reason, .. }) => {
                assert!(
                    reason.contains(&format!("{name} is not a regular file")),
                    "{reason}"
                )
            }
            Err(other) => panic!("{name}: expected Corrupt, got {other}"),
            Ok(_) => panic!("{name}: a FIFO opened as a state"),
        }
    }
}

/// A state file hard-linked from elsewhere would let a commit change a
/// file outside the directory: refused, and the other file untouched.
#[test]
fn hard_linked_files_are_refused() {
    for name in ["lock", "state.redb"] {
        let dir = tempfile::tempdir().unwrap();
        populated(dir.path());
        let outside = tempfile::tempdir().unwrap();
        let other = outside.path().join("elsewhere");
        std::fs::hard_link(dir.path().join(name), &other).unwrap();
        let before = std::fs::read(&other).unwrap();
        match open_within_10s(dir.path()) {
            Err(DirStateError::Corrupt { reason, .. }) => {
                assert!(reason.contains("2 hard links"), "{reason}")
            }
            Err(other) => panic!("{name}: expected Corrupt, got {other}"),
            Ok(_) => panic!("{name}: a hard-linked state opened"),
        }
        assert_eq!(std::fs::read(&other).unwrap(), before);
    }
}

/// An empty `state.redb` is refused before redb writes into it (it stays
/// 0 bytes), and `create` says what to do.
#[test]
fn an_empty_database_file_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.redb");
    std::fs::write(&db, b"").unwrap();
    let reason = corrupt_reason(dir.path());
    assert!(reason.contains("it is empty (0 bytes)"), "{reason}");
    assert!(reason.contains("verity state init"), "{reason}");
    assert_eq!(std::fs::metadata(&db).unwrap().len(), 0);
    let exists = DirState::create(dir.path()).err().expect("create refuses");
    assert!(
        matches!(exists, DirStateError::Exists { .. })
            && exists.to_string().contains("remove that file"),
        "{exists}"
    );
}

/// A directory released while an opener waits opens: a lock a process
/// shares for a moment with a child it forks (a test spawning `mkfifo`
/// made an unrelated open fail in CI) is not a busy state.
#[test]
fn a_lock_released_within_the_wait_opens() {
    let dir = tempfile::tempdir().unwrap();
    populated(dir.path());
    let held = DirState::open(dir.path()).unwrap();
    let root = held.state().root();
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(40));
        drop(held);
    });
    let opened = open_within_10s(dir.path()).expect("the released state opens");
    assert_eq!(opened.state().root(), root);
    release.join().unwrap();
}

/// The database held open by another holder is reported as busy, not as
/// an invalid state.
#[test]
fn a_database_held_elsewhere_is_busy() {
    let dir = tempfile::tempdir().unwrap();
    populated(dir.path());
    let _held = redb::Database::open(dir.path().join("state.redb")).unwrap();
    match open_within_10s(dir.path()) {
        Err(DirStateError::Busy { .. }) => {}
        Err(other) => panic!("expected Busy, got {other}"),
        Ok(_) => panic!("a held database opened"),
    }
}
