//! The same tree, kept in a store of nodes instead of in memory: what a
//! state on disk reads to answer reads, prove them and commit writes, with
//! nothing loaded when it opens.
//!
//! Only internal nodes are stored, each under its **position** (its depth
//! and the path bits that reach it, [`position`]), and each holds its two
//! children: an empty side, a leaf (its path and value hash, inline), or an
//! internal node (its hash; the node is the record at the child's
//! position). The root is a [`Child`] that the store keeps beside the
//! records. A read walks one record per level; a batch of writes reads and
//! rewrites the records on its paths and no others ([`update`] returns
//! them as [`Changes`]); a proof reads the records on its paths and, beside
//! a removed path, the neighbour's.
//!
//! Every record read is checked against the hash its parent holds for it,
//! so a store whose records were changed or lost is caught on the path
//! that reads them ([`StoredError::Mismatch`], [`StoredError::Missing`]),
//! and [`check`] walks every record to verify a whole store.
//!
//! The roots, proofs and shapes are those of [`Tree`](crate::Tree), byte
//! for byte: `state-tree/tests/stored.rs` compares them on random trees.
//!
//! ```
//! use std::collections::BTreeMap;
//! use verity_state_tree::stored::{self, Child, NodeSource, Record};
//! use verity_state_tree::{Tree, key_path, value_hash};
//!
//! // A store of records: here a map; on disk a database table.
//! struct Map(BTreeMap<Vec<u8>, Vec<u8>>);
//! impl NodeSource for Map {
//!     type Error = core::convert::Infallible;
//!     fn record(&self, position: &[u8]) -> Result<Option<Vec<u8>>, Self::Error> {
//!         Ok(self.0.get(position).cloned())
//!     }
//! }
//!
//! let mut store = Map(BTreeMap::new());
//! let writes: Vec<_> = (0..100u32)
//!     .map(|i| (key_path(&i.to_le_bytes()), Some(value_hash(b"v"))))
//!     .collect();
//! let (root, changes) = stored::update(&store, &Child::Empty, &writes)?;
//! for (position, record) in changes.records {
//!     match record {
//!         Some(r) => store.0.insert(position, r.encode()),
//!         None => store.0.remove(&position),
//!     };
//! }
//! let mut tree = Tree::new();
//! tree.update(writes.iter().copied());
//! assert_eq!(root.hash(), tree.root());
//! let path = key_path(&7u32.to_le_bytes());
//! assert_eq!(stored::get(&store, &root, &path)?, Some(value_hash(b"v")));
//! assert_eq!(stored::prove(&store, &root, &[path], &[])?, tree.prove(&[path], &[]));
//! # Ok::<(), stored::StoredError<core::convert::Infallible>>(())
//! ```

use alloc::vec::Vec;
use core::fmt;

use crate::hash::{EMPTY, Hash, bit, leaf_hash, node_hash, same_prefix};
use crate::proof::{TAG_BRANCH, TAG_EMPTY, TAG_LEAF, TAG_OPAQUE, key_set};
use crate::tree::last_write_per_path;

/// One side of an internal node, or the root: what the node holds about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Child {
    /// An empty subtree.
    Empty,
    /// A subtree of one leaf: its path and value hash.
    Leaf {
        /// The leaf's path.
        path: Hash,
        /// Its value hash.
        value: Hash,
    },
    /// An internal node: its hash. The node is the record at the child's
    /// position.
    Branch(Hash),
}

const CHILD_EMPTY: u8 = 0;
const CHILD_LEAF: u8 = 1;
const CHILD_BRANCH: u8 = 2;

impl Child {
    /// The subtree's hash (docs/state-tree.md).
    pub fn hash(&self) -> Hash {
        match self {
            Child::Empty => EMPTY,
            Child::Leaf { path, value } => leaf_hash(path, value),
            Child::Branch(h) => *h,
        }
    }

    /// Appends the child's encoding: a tag (0 empty, 1 leaf, 2 internal
    /// node), then the leaf's path and value hash, or the node's hash.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Child::Empty => out.push(CHILD_EMPTY),
            Child::Leaf { path, value } => {
                out.push(CHILD_LEAF);
                out.extend_from_slice(path);
                out.extend_from_slice(value);
            }
            Child::Branch(h) => {
                out.push(CHILD_BRANCH);
                out.extend_from_slice(h);
            }
        }
    }

    /// The child's encoding.
    ///
    /// ```
    /// use verity_state_tree::stored::Child;
    ///
    /// let leaf = Child::Leaf { path: [1; 32], value: [2; 32] };
    /// assert_eq!(Child::decode(&leaf.encode()), Some(leaf));
    /// assert_eq!(Child::decode(&[2; 33]), Some(Child::Branch([2; 32])));
    /// assert_eq!(Child::decode(&[0, 0]), None, "one encoding: no trailing bytes");
    /// ```
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(65);
        self.encode_into(&mut out);
        out
    }

    /// Decodes [`encode`](Self::encode)'s bytes, all of them; `None` for
    /// anything else, and for a branch whose hash is the empty hash (an
    /// empty subtree has one encoding).
    pub fn decode(bytes: &[u8]) -> Option<Child> {
        match Self::decode_prefix(bytes)? {
            (child, []) => Some(child),
            _ => None,
        }
    }

    fn decode_prefix(bytes: &[u8]) -> Option<(Child, &[u8])> {
        let (&tag, rest) = bytes.split_first()?;
        match tag {
            CHILD_EMPTY => Some((Child::Empty, rest)),
            CHILD_LEAF if rest.len() >= 64 => {
                let (path, value) = (rest[..32].try_into().ok()?, rest[32..64].try_into().ok()?);
                Some((Child::Leaf { path, value }, &rest[64..]))
            }
            CHILD_BRANCH if rest.len() >= 32 => {
                let hash: Hash = rest[..32].try_into().ok()?;
                (hash != EMPTY).then_some((Child::Branch(hash), &rest[32..]))
            }
            _ => None,
        }
    }
}

/// A stored internal node: its two children, left (bit 0) then right.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    /// The children.
    pub children: [Child; 2],
}

impl Record {
    /// The node's hash.
    pub fn hash(&self) -> Hash {
        node_hash(&self.children[0].hash(), &self.children[1].hash())
    }

    /// The record's bytes: its two children's encodings (at most 130
    /// bytes).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(130);
        self.children[0].encode_into(&mut out);
        self.children[1].encode_into(&mut out);
        out
    }

    /// Decodes [`encode`](Self::encode)'s bytes, all of them.
    ///
    /// ```
    /// use verity_state_tree::stored::{Child, Record};
    ///
    /// let r = Record { children: [Child::Branch([5; 32]), Child::Leaf { path: [1; 32], value: [2; 32] }] };
    /// assert_eq!(Record::decode(&r.encode()), Some(r));
    /// assert_eq!(Record::decode(&r.encode()[1..]), None);
    /// ```
    pub fn decode(bytes: &[u8]) -> Option<Record> {
        let (left, rest) = Child::decode_prefix(bytes)?;
        let (right, rest) = Child::decode_prefix(rest)?;
        rest.is_empty().then_some(Record {
            children: [left, right],
        })
    }
}

/// The position of the node at `depth` on `path`, as the key of its
/// record. Levels are grouped in bands of eight: the band (`depth / 8`),
/// the path's first `depth / 8` bytes, the level in the band
/// (`depth % 8`), then the path's next `depth % 8` bits (one byte, the
/// bits past them zero; absent at the top of a band). So the records of one
/// band below one prefix (a subtree eight levels deep) sort together, and a
/// walk from the root to a leaf at depth 20 reads and rewrites records in
/// three runs of neighbouring keys (a store's pages), not twenty.
///
/// ```
/// use verity_state_tree::stored::position;
///
/// assert_eq!(position(0, &[0xff; 32]), [0, 0]);
/// assert_eq!(position(3, &[0xff; 32]), [0, 3, 0b1110_0000]);
/// assert_eq!(position(9, &[0xff; 32]), [1, 0xff, 1, 0b1000_0000]);
/// ```
pub fn position(depth: usize, path: &Hash) -> Vec<u8> {
    debug_assert!(depth < 256, "internal nodes are above depth 256");
    let (band, level) = (depth / 8, depth % 8);
    let mut out = Vec::with_capacity(3 + band);
    out.push(band as u8);
    out.extend_from_slice(&path[..band]);
    out.push(level as u8);
    if level != 0 {
        out.push(path[band] & (0xffu8 << (8 - level)));
    }
    out
}

/// Where a store keeps its records: the record at a position, if any.
pub trait NodeSource {
    /// The store's own error.
    type Error;

    /// The bytes of the record at `position` ([`position`]), or `None`.
    fn record(&self, position: &[u8]) -> Result<Option<Vec<u8>>, Self::Error>;
}

impl<S: NodeSource + ?Sized> NodeSource for &S {
    type Error = S::Error;
    fn record(&self, position: &[u8]) -> Result<Option<Vec<u8>>, Self::Error> {
        (**self).record(position)
    }
}

/// Why a stored tree could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoredError<E> {
    /// The store failed.
    Source(E),
    /// A node that its parent names has no record.
    Missing {
        /// The node's depth.
        depth: usize,
    },
    /// A record that does not decode, or does not hash to what its parent
    /// holds for it, or is not canonical (an empty side beside an empty
    /// side or a leaf), or holds a leaf off its position.
    Mismatch {
        /// The node's depth.
        depth: usize,
    },
}

impl<E: fmt::Display> fmt::Display for StoredError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoredError::Source(e) => write!(f, "{e}"),
            StoredError::Missing { depth } => {
                write!(
                    f,
                    "the state tree has no node at depth {depth} where its parent names one"
                )
            }
            StoredError::Mismatch { depth } => write!(
                f,
                "the state tree's node at depth {depth} does not agree with its parent's hash of it"
            ),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> core::error::Error for StoredError<E> {}

/// Reads and checks the record of the internal node with hash `hash` at
/// `depth` on `path`.
fn load<S: NodeSource>(
    source: &S,
    depth: usize,
    path: &Hash,
    hash: &Hash,
) -> Result<Record, StoredError<S::Error>> {
    if depth >= 256 {
        // Two distinct paths part before depth 256: no node is this deep.
        return Err(StoredError::Mismatch { depth });
    }
    let bytes = source
        .record(&position(depth, path))
        .map_err(StoredError::Source)?
        .ok_or(StoredError::Missing { depth })?;
    let record = Record::decode(&bytes).ok_or(StoredError::Mismatch { depth })?;
    // A record with at most one leaf and nothing else would be that leaf.
    let canonical = !matches!(
        record.children,
        [Child::Empty, Child::Empty | Child::Leaf { .. }] | [Child::Leaf { .. }, Child::Empty]
    );
    let placed = record.children.iter().enumerate().all(|(side, c)| match c {
        Child::Leaf { path: p, .. } => same_prefix(p, path, depth) && bit(p, depth) == side,
        _ => true,
    });
    if !canonical || !placed || &record.hash() != hash {
        return Err(StoredError::Mismatch { depth });
    }
    Ok(record)
}

/// The value hash under `path` in the tree whose root is `root`, if
/// present.
pub fn get<S: NodeSource>(
    source: &S,
    root: &Child,
    path: &Hash,
) -> Result<Option<Hash>, StoredError<S::Error>> {
    let mut child = *root;
    let mut depth = 0;
    loop {
        match child {
            Child::Empty => return Ok(None),
            Child::Leaf { path: p, value } => return Ok((&p == path).then_some(value)),
            Child::Branch(h) => {
                child = load(source, depth, path, &h)?.children[bit(path, depth)];
                depth += 1;
            }
        }
    }
}

/// What [`update`] changes in the store: each position it rewrites, with
/// its new record, or `None` where the record goes. Each position appears
/// once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// The positions and their records.
    pub records: Vec<(Vec<u8>, Option<Record>)>,
}

/// The tree whose root is `root` after `writes` (`Some(value_hash)` sets,
/// `None` removes; a path written twice takes its last write): its new
/// root, and the records to write and remove. Nothing is written: the
/// store applies [`Changes`] in its own transaction (or drops them, to
/// learn a root it does not commit).
pub fn update<S: NodeSource>(
    source: &S,
    root: &Child,
    writes: &[(Hash, Option<Hash>)],
) -> Result<(Child, Changes), StoredError<S::Error>> {
    let mut changes = Changes::default();
    if writes.is_empty() {
        return Ok((*root, changes));
    }
    let writes = last_write_per_path(writes.to_vec());
    let root = update_at(source, *root, 0, &writes, &mut changes)?;
    Ok((root, changes))
}

fn update_at<S: NodeSource>(
    source: &S,
    child: Child,
    depth: usize,
    writes: &[(Hash, Option<Hash>)],
    changes: &mut Changes,
) -> Result<Child, StoredError<S::Error>> {
    let Some(first) = writes.first() else {
        return Ok(child);
    };
    match child {
        Child::Branch(h) => {
            let record = load(source, depth, &first.0, &h)?;
            let split = writes.partition_point(|w| bit(&w.0, depth) == 0);
            let [l, r] = record.children;
            let l = update_at(source, l, depth + 1, &writes[..split], changes)?;
            let r = update_at(source, r, depth + 1, &writes[split..], changes)?;
            let at = position(depth, &first.0);
            Ok(match (l, r) {
                (Child::Empty, Child::Empty) => {
                    changes.records.push((at, None));
                    Child::Empty
                }
                (Child::Empty, leaf @ Child::Leaf { .. })
                | (leaf @ Child::Leaf { .. }, Child::Empty) => {
                    changes.records.push((at, None));
                    leaf
                }
                (l, r) => {
                    let record = Record { children: [l, r] };
                    let hash = record.hash();
                    changes.records.push((at, Some(record)));
                    Child::Branch(hash)
                }
            })
        }
        Child::Empty => Ok(build(depth, &leaves_after(writes, None), changes)),
        Child::Leaf { path, value } => Ok(build(
            depth,
            &leaves_after(writes, Some((path, value))),
            changes,
        )),
    }
}

/// The leaves of a subtree that was empty or the leaf `existing`, after
/// `writes` (sorted, one per path), sorted by path.
fn leaves_after(
    writes: &[(Hash, Option<Hash>)],
    existing: Option<(Hash, Hash)>,
) -> Vec<(Hash, Hash)> {
    let mut leaves: Vec<(Hash, Hash)> = writes
        .iter()
        .filter_map(|(p, v)| Some((*p, (*v)?)))
        .collect();
    if let Some(old) = existing.filter(|old| !writes.iter().any(|(p, _)| *p == old.0)) {
        let at = leaves.partition_point(|(p, _)| *p < old.0);
        leaves.insert(at, old);
    }
    leaves
}

/// The canonical subtree at `depth` holding `leaves` (sorted by path), its
/// records added to `changes`.
fn build(depth: usize, leaves: &[(Hash, Hash)], changes: &mut Changes) -> Child {
    match leaves {
        [] => Child::Empty,
        [(path, value)] => Child::Leaf {
            path: *path,
            value: *value,
        },
        _ => {
            let split = leaves.partition_point(|(p, _)| bit(p, depth) == 0);
            let l = build(depth + 1, &leaves[..split], changes);
            let r = build(depth + 1, &leaves[split..], changes);
            let record = Record { children: [l, r] };
            let hash = record.hash();
            changes
                .records
                .push((position(depth, &leaves[0].0), Some(record)));
            Child::Branch(hash)
        }
    }
}

/// The proof for `paths`, of which `removed` are removed, in its canonical
/// encoding: the bytes [`Tree::prove`](crate::Tree::prove) makes for the
/// same tree.
pub fn prove<S: NodeSource>(
    source: &S,
    root: &Child,
    paths: &[Hash],
    removed: &[Hash],
) -> Result<Vec<u8>, StoredError<S::Error>> {
    let (paths, removed) = key_set(paths, removed);
    let mut out = Vec::with_capacity(33 * paths.len() * 24);
    prove_at(source, *root, 0, &paths, &removed, &mut out)?;
    Ok(out)
}

fn prove_at<S: NodeSource>(
    source: &S,
    child: Child,
    depth: usize,
    paths: &[Hash],
    removed: &[Hash],
    out: &mut Vec<u8>,
) -> Result<(), StoredError<S::Error>> {
    let Some(first) = paths.first() else {
        summary(&child, out);
        return Ok(());
    };
    match child {
        Child::Empty | Child::Leaf { .. } => shown(&child, out),
        Child::Branch(h) => {
            out.push(TAG_BRANCH);
            let [l, r] = load(source, depth, first, &h)?.children;
            let split = paths.partition_point(|p| bit(p, depth) == 0);
            let rsplit = removed.partition_point(|p| bit(p, depth) == 0);
            for (side, (child, paths, removed, other_removed)) in [
                (l, &paths[..split], &removed[..rsplit], &removed[rsplit..]),
                (r, &paths[split..], &removed[rsplit..], &removed[..rsplit]),
            ]
            .into_iter()
            .enumerate()
            {
                if paths.is_empty() && !other_removed.is_empty() {
                    expanded(source, &child, depth + 1, first, side, out)?;
                } else {
                    prove_at(source, child, depth + 1, paths, removed, out)?;
                }
            }
        }
    }
    Ok(())
}

/// A subtree no proven path crosses: empty, or its hash.
fn summary(child: &Child, out: &mut Vec<u8>) {
    match child {
        Child::Empty => out.push(TAG_EMPTY),
        other => {
            out.push(TAG_OPAQUE);
            out.extend_from_slice(&other.hash());
        }
    }
}

/// An empty subtree or a leaf, shown as what it is.
fn shown(child: &Child, out: &mut Vec<u8>) {
    match child {
        Child::Leaf { path, value } => {
            out.push(TAG_LEAF);
            out.extend_from_slice(path);
            out.extend_from_slice(value);
        }
        other => summary(other, out),
    }
}

/// The neighbour of a removed path, at `depth` on the `side` of the node
/// that `path` (a path of the parent's subtree) reaches: empty, its one
/// leaf, or an internal node with its children summarised.
fn expanded<S: NodeSource>(
    source: &S,
    child: &Child,
    depth: usize,
    path: &Hash,
    side: usize,
    out: &mut Vec<u8>,
) -> Result<(), StoredError<S::Error>> {
    match child {
        Child::Branch(h) => {
            // The neighbour's position: the parent's bits, then `side`.
            let mut at = *path;
            let (byte, mask) = ((depth - 1) / 8, 0x80u8 >> ((depth - 1) % 8));
            if side == 1 {
                at[byte] |= mask;
            } else {
                at[byte] &= !mask;
            }
            out.push(TAG_BRANCH);
            let [l, r] = load(source, depth, &at, h)?.children;
            summary(&l, out);
            summary(&r, out);
        }
        other => shown(other, out),
    }
    Ok(())
}

/// What [`check`] found in a whole store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// The internal nodes (records) reached from the root.
    pub records: u64,
    /// The leaves (keys).
    pub leaves: u64,
}

/// Walks the whole tree whose root is `root`, checking every record as a
/// read does (present, canonical, hashing to its parent's hash of it, its
/// leaves placed on their paths), and calls `leaf` with each leaf's path
/// and value hash in path order. What it cannot see is a record no node
/// names: the store compares [`CheckReport::records`] with the records it
/// holds.
pub fn check<S: NodeSource>(
    source: &S,
    root: &Child,
    mut leaf: impl FnMut(&Hash, &Hash),
) -> Result<CheckReport, StoredError<S::Error>> {
    let mut report = CheckReport::default();
    check_at(source, root, 0, &EMPTY, &mut report, &mut leaf)?;
    Ok(report)
}

fn check_at<S: NodeSource>(
    source: &S,
    child: &Child,
    depth: usize,
    path: &Hash,
    report: &mut CheckReport,
    leaf: &mut impl FnMut(&Hash, &Hash),
) -> Result<(), StoredError<S::Error>> {
    match child {
        Child::Empty => {}
        Child::Leaf { path: p, value } => {
            report.leaves += 1;
            leaf(p, value);
        }
        Child::Branch(h) => {
            let record = load(source, depth, path, h)?;
            report.records += 1;
            for (side, c) in record.children.iter().enumerate() {
                let mut next = *path;
                if side == 1 {
                    next[depth / 8] |= 0x80 >> (depth % 8);
                }
                check_at(source, c, depth + 1, &next, report, leaf)?;
            }
        }
    }
    Ok(())
}
