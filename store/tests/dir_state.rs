//! The state directory's store, attacked: a foreign database, values
//! changed behind Verity's back, an oversized value, and every kind of byte
//! damage to the file. Each is refused with a message or (where the damage
//! misses everything the state uses) opens to the same state; none panics.
//! Crash safety and the one-writer lock are the CLI's tests/all/durability.rs.

use std::path::Path;

use redb::TableDefinition;
use verity_runtime::{StateView, WriteEntry};
use verity_store::{DirState, DirStateError};

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
        state.commit(state.root(), &writes).unwrap();
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

/// The reason `check` (or, with `read`, a read of that key) refuses the
/// state at `path` for; opening it succeeds (it reads nothing of the
/// values).
fn check_reason(path: &Path, read: Option<&[u8]>) -> String {
    let state = DirState::open(path).expect("opening reads no value");
    let found = match read {
        Some(key) => state.value(key).map(drop),
        None => state.check(|_, _| {}).map(drop),
    };
    match found {
        Err(DirStateError::Corrupt { reason, .. }) => reason,
        Err(other) => panic!("expected Corrupt, got {other}"),
        Ok(()) => panic!("a corrupt state passed"),
    }
}

#[test]
fn values_changed_behind_verity_are_refused_by_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    populated(dir.path());
    let root = DirState::open(dir.path()).unwrap().root();
    let key = 7u32.to_be_bytes();
    let db = redb::Database::open(dir.path().join("state.redb")).unwrap();
    let txn = db.begin_write().unwrap();
    txn.open_table(VALUES)
        .unwrap()
        .insert(&key[..], &b"forged"[..])
        .unwrap();
    txn.commit().unwrap();
    drop(db);
    let reason = check_reason(dir.path(), None);
    assert!(reason.contains("not the same ones"), "{reason}");
    let reason = check_reason(dir.path(), Some(&key));
    assert!(
        reason.contains("does not agree with the state tree"),
        "{reason}"
    );
    assert!(reason.contains(&root.to_string()), "{reason}");
    // Through the view a run reads: the run fails, it never sees "forged".
    let state = DirState::open(dir.path()).unwrap();
    assert!(StateView::get(&state, &key).is_err());
    // A key the forgery did not touch still reads.
    assert_eq!(state.value(&8u32.to_be_bytes()).unwrap(), Some(vec![0; 48]));
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
    for read in [None, Some(&b"big"[..])] {
        let reason = check_reason(dir.path(), read);
        assert!(reason.contains("67108865 bytes"), "{reason}");
    }
}

#[test]
fn damaged_bytes_are_refused_or_harmless_and_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    populated(&path);
    let good = DirState::open(&path).unwrap();
    let (root, len) = (good.root(), good.len().unwrap());
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
    // Both ways of opening: for writing and shared for reading (each
    // redb's integrity check, then the root), then `check`.
    for bytes in damaged {
        for (shared, open) in [
            (false, DirState::open as fn(&Path) -> _),
            (true, DirState::open_shared),
        ] {
            std::fs::write(&file, &bytes).unwrap();
            match open(&path) {
                // Opening checks the root; the full check finds the rest.
                Ok(state) => match state.check(|_, _| {}) {
                    Ok(report) => {
                        // The damage missed what the state uses: the same
                        // state.
                        assert_eq!(state.root(), root);
                        assert_eq!((state.len().unwrap(), report.keys), (len, len));
                        assert_eq!(state.get(&3u32.to_be_bytes()).unwrap(), Some(vec![0; 48]));
                        harmless += 1;
                    }
                    Err(DirStateError::Corrupt { .. }) => refused += 1,
                    Err(other) => panic!("damage gave {other}, not Corrupt"),
                },
                Err(DirStateError::Corrupt { .. }) => refused += 1,
                Err(other) => panic!("damage gave {other}, not Corrupt"),
            }
            // The reader, opened, read and dropped, wrote nothing: what
            // redb repairs it repairs in memory.
            if shared {
                assert!(
                    std::fs::read(&file).unwrap() == bytes,
                    "a reader wrote the file"
                );
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
    let root = state.root();
    let over = state.commit(root, &[write(b"big", &vec![1u8; limit + 1])]);
    assert!(
        matches!(over, Err(DirStateError::TooLarge { bytes, .. }) if bytes == limit + 1),
        "{over:?}"
    );
    assert_eq!(state.root(), root);
    drop(state);
    let mut state = DirState::open(dir.path()).unwrap();
    assert_eq!(state.root(), root, "nothing was committed");
    assert_eq!(state.get(b"big").unwrap(), None);
    state
        .commit(root, &[write(b"big", &vec![1u8; limit])])
        .unwrap();
    let committed = state.root();
    drop(state);
    let state = DirState::open(dir.path()).unwrap();
    assert_eq!(state.root(), committed);
    assert_eq!(state.get(b"big").unwrap().map(|v| v.len()), Some(limit));
}

/// Writes computed against an older root commit nothing, on disk or in
/// memory.
#[test]
fn a_stale_commit_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    populated(dir.path());
    let mut state = DirState::open(dir.path()).unwrap();
    let old = state.root();
    state.commit(old, &[write(b"a", b"1")]).unwrap();
    let now = state.root();
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
    assert_eq!(state.root(), now);
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
    let root = held.root();
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(40));
        drop(held);
    });
    let opened = open_within_10s(dir.path()).expect("the released state opens");
    assert_eq!(opened.root(), root);
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

const NODES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("nodes");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// The state on disk and the state in memory, given the same batches of
/// writes (sets, overwrites and removals, some making single leaves move
/// up), have the same roots, predicted post-roots, values and proofs
/// byte for byte, before and after reopening; and `check` passes.
#[test]
fn the_stored_tree_agrees_with_the_memory_state() {
    use verity_runtime::{MemoryState, StateBackend};
    let dir = tempfile::tempdir().unwrap();
    let mut disk = DirState::create(dir.path()).unwrap();
    let mut memory = MemoryState::default();
    let mut seed = 7u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..40 {
        let mut writes: Vec<WriteEntry> = (0..1 + next() % 30)
            .map(|_| {
                let key = (next() % 200).to_be_bytes().to_vec();
                let value = (next() % 3 != 0).then(|| vec![(next() % 5) as u8; 1 + round % 9]);
                WriteEntry { key, value }
            })
            .collect();
        writes.sort_by(|a, b| a.key.cmp(&b.key));
        writes.dedup_by(|a, b| a.key == b.key);
        assert_eq!(disk.roots(&writes).unwrap(), memory.roots(&writes).unwrap());
        disk.commit(disk.root(), &writes).unwrap();
        memory.apply(&writes);
        assert_eq!(disk.root(), memory.root());
        if round % 10 == 9 {
            drop(disk);
            disk = DirState::open(dir.path()).unwrap();
        }
        let keys: Vec<Vec<u8>> = (0..200u64)
            .step_by(7)
            .map(|k| k.to_be_bytes().to_vec())
            .collect();
        let keys: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        assert_eq!(disk.prove(&keys).unwrap(), memory.prove(&keys));
        for k in &keys {
            assert_eq!(disk.value(k).unwrap().as_deref(), memory.value(k));
        }
        assert_eq!(disk.len().unwrap(), memory.len() as u64);
    }
    let report = disk.check(|_, _| {}).unwrap();
    assert_eq!(report.keys, memory.len() as u64);
}

/// A tree node changed behind Verity's back (or a node left that the tree
/// does not reach) is refused by the reads whose paths cross it and by
/// `check`; opening, which reads neither, still succeeds.
#[test]
fn tree_nodes_changed_behind_verity_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    populated(dir.path());
    type Nodes<'t> = redb::Table<'t, &'static [u8], &'static [u8]>;
    let edit = |f: &dyn Fn(&mut Nodes<'_>)| {
        let db = redb::Database::open(dir.path().join("state.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        f(&mut txn.open_table(NODES).unwrap());
        txn.commit().unwrap();
    };
    // The root node is at position [0, 0] (band 0, level 0): every read
    // crosses it.
    let honest = {
        let db = redb::Database::open(dir.path().join("state.redb")).unwrap();
        let txn = redb::ReadableDatabase::begin_read(&db).unwrap();
        let nodes = txn.open_table(NODES).unwrap();
        redb::ReadableTable::get(&nodes, &[0u8, 0][..])
            .unwrap()
            .unwrap()
            .value()
            .to_vec()
    };
    let mut forged = honest.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    edit(&|t| {
        t.insert(&[0u8, 0][..], forged.as_slice()).unwrap();
    });
    let reason = check_reason(dir.path(), Some(&3u32.to_be_bytes()));
    assert!(reason.contains("depth 0"), "{reason}");
    let reason = check_reason(dir.path(), None);
    assert!(reason.contains("depth 0"), "{reason}");
    // A commit over the damaged node refuses and changes nothing.
    let mut state = DirState::open(dir.path()).unwrap();
    let root = state.root();
    let refused = state.commit(root, &[write(b"new", b"v")]);
    assert!(
        matches!(refused, Err(DirStateError::Corrupt { .. })),
        "{refused:?}"
    );
    assert_eq!(state.root(), root);
    drop(state);
    // Put back, plus a node the tree does not reach.
    edit(&|t| {
        t.insert(&[0u8, 0][..], honest.as_slice()).unwrap();
        t.insert(&[200u8, 0xff][..], honest.as_slice()).unwrap();
    });
    let reason = check_reason(dir.path(), None);
    assert!(reason.contains("of which the tree reaches"), "{reason}");
    edit(&|t| {
        t.remove(&[200u8, 0xff][..]).unwrap();
    });
    DirState::open(dir.path())
        .unwrap()
        .check(|_, _| {})
        .unwrap();
}

/// A state of the previous format (values and root, no stored tree) is
/// upgraded by the first writer to open it, to the same root and values;
/// a reader refuses it until then, saying how to upgrade it.
#[test]
fn a_state_of_the_previous_format_is_upgraded_by_a_writer() {
    use verity_runtime::MemoryState;
    let dir = tempfile::tempdir().unwrap();
    let entries: Vec<(Vec<u8>, Vec<u8>)> = (0..300u32)
        .map(|i| (i.to_be_bytes().to_vec(), vec![i as u8; 20]))
        .collect();
    let memory: MemoryState = entries.iter().cloned().collect();
    {
        let db = redb::Database::create(dir.path().join("state.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut values = txn.open_table(VALUES).unwrap();
            for (k, v) in &entries {
                values.insert(k.as_slice(), v.as_slice()).unwrap();
            }
            let mut meta = txn.open_table(META).unwrap();
            meta.insert("format", &b"verity-state-v2"[..]).unwrap();
            meta.insert("root", &memory.root().0[..]).unwrap();
        }
        txn.commit().unwrap();
    }
    match DirState::open_shared(dir.path()) {
        Err(DirStateError::Outdated { .. }) => {}
        Err(other) => panic!("expected Outdated, got {other}"),
        Ok(_) => panic!("a reader upgraded a state"),
    };
    let upgraded = DirState::open(dir.path()).unwrap();
    assert_eq!(upgraded.root(), memory.root());
    assert_eq!(upgraded.check(|_, _| {}).unwrap().keys, 300);
    assert_eq!(
        upgraded.value(&5u32.to_be_bytes()).unwrap(),
        Some(vec![5; 20])
    );
    drop(upgraded);
    assert_eq!(
        DirState::open_shared(dir.path()).unwrap().root(),
        memory.root()
    );
}
