//! Multi-key proofs: the part of the tree that a set of keys' paths cross,
//! with everything else summarised, in a canonical byte encoding; and what a
//! verifier does with one, with no state database: check it against a root,
//! answer reads, apply writes and compute the new root.

use alloc::vec::Vec;
use core::fmt;

use crate::hash::{EMPTY, Hash, bit, leaf_hash, node_hash, same_prefix};

/// Encoding tags of proof nodes.
pub(crate) const TAG_EMPTY: u8 = 0;
pub(crate) const TAG_LEAF: u8 = 1;
pub(crate) const TAG_OPAQUE: u8 = 2;
pub(crate) const TAG_BRANCH: u8 = 3;

/// Paths are 256 bits: no node lies deeper.
const MAX_DEPTH: usize = 256;

/// Why a proof was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProofError {
    /// The bytes end inside a node.
    Truncated,
    /// An unknown node tag, at this byte offset.
    BadTag(usize),
    /// Bytes after the root node.
    TrailingBytes,
    /// Nodes nested deeper than a 256-bit path allows.
    TooDeep,
    /// A branch that a canonical tree never has (both children empty, or an
    /// empty child beside a single leaf, which the tree keeps one level up).
    NonCanonical,
    /// A leaf whose path does not lead to where the proof puts it.
    MisplacedLeaf,
    /// The proof's root is not the expected one.
    RootMismatch {
        /// The root the proof hashes to.
        found: Hash,
        /// The root it was checked against.
        expected: Hash,
    },
    /// A key whose path the proof does not cover (it reaches a summarised
    /// subtree): the proof was made for other keys.
    NotCovered(Hash),
    /// Removing a key leaves a summarised subtree beside an empty one, and
    /// the proof does not show whether that subtree is a single leaf (which
    /// would move up): an honest proof expands such a subtree.
    Ambiguous(Hash),
    /// The node at this byte offset is not in the one form the canonical
    /// encoding gives it for the keys proven (docs/state-tree.md): every
    /// other encoding of a tree is refused, so that no two byte strings
    /// prove the same thing.
    NotCanonical {
        /// The byte offset of the node's tag.
        at: usize,
        /// The rule it breaks.
        rule: CanonicalRule,
    },
}

/// The rules of the canonical proof encoding that a node can break
/// (docs/state-tree.md, "The canonical proof").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CanonicalRule {
    /// An empty subtree is `0x00`, never a summary of 32 zero bytes.
    EmptyIsTagged,
    /// A subtree that no proven key's path crosses, and that is not the
    /// neighbour of a removed key's path, is summarised (`0x00` or `0x02`).
    OffPathIsSummarised,
    /// A subtree that a proven key's path crosses is shown, never
    /// summarised.
    OnPathIsShown,
    /// The neighbour of a node on a removed key's path shows what it is:
    /// empty, one leaf, or an internal node with summarised children.
    RemovalNeighbourIsShown,
}

impl fmt::Display for CanonicalRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CanonicalRule::EmptyIsTagged => "an empty subtree must be tagged 0x00",
            CanonicalRule::OffPathIsSummarised => {
                "a subtree no proven key crosses must be summarised"
            }
            CanonicalRule::OnPathIsShown => "a subtree a proven key crosses must be shown",
            CanonicalRule::RemovalNeighbourIsShown => {
                "the neighbour of a removed key's path must be shown"
            }
        })
    }
}

impl fmt::Display for ProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProofError::Truncated => f.write_str("the proof is truncated"),
            ProofError::BadTag(at) => write!(f, "unknown node tag at byte {at} of the proof"),
            ProofError::TrailingBytes => f.write_str("bytes follow the proof's root node"),
            ProofError::TooDeep => f.write_str("the proof nests nodes deeper than 256 levels"),
            ProofError::NonCanonical => {
                f.write_str("the proof holds a branch that no canonical tree has")
            }
            ProofError::MisplacedLeaf => {
                f.write_str("the proof places a leaf where its path does not lead")
            }
            ProofError::RootMismatch { found, expected } => write!(
                f,
                "the proof is for root {}, not {}",
                Hex(found),
                Hex(expected)
            ),
            ProofError::NotCovered(path) => {
                write!(
                    f,
                    "the proof does not cover the key with path {}",
                    Hex(path)
                )
            }
            ProofError::Ambiguous(path) => write!(
                f,
                "removing the key with path {} needs a subtree the proof summarises",
                Hex(path)
            ),
            ProofError::NotCanonical { at, rule } => write!(
                f,
                "the node at byte {at} of the proof is not in canonical form: {rule}"
            ),
        }
    }
}

impl core::error::Error for ProofError {}

/// Lower-case hex of a hash, for messages.
struct Hex<'a>(&'a Hash);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// One node of a decoded proof.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Node {
    Empty,
    Leaf {
        path: Hash,
        value: Hash,
    },
    /// A non-empty subtree summarised by its hash: one that no proven
    /// path crosses.
    Opaque(Hash),
    Branch(u32, u32),
}

/// A decoded multi-key proof: a partial tree. It answers reads for the keys
/// it covers, takes their writes, and hashes to the root of the tree it was
/// taken from (before the writes) or of the tree after them.
///
/// ```
/// use verity_state_tree::{Proof, Tree, key_path, value_hash};
///
/// let mut tree = Tree::new();
/// tree.update([(key_path(b"a"), Some(value_hash(b"1"))), (key_path(b"b"), Some(value_hash(b"2")))]);
/// let pre_root = tree.root();
///
/// // The executor proves the keys a transaction touched...
/// let keys = [key_path(b"a"), key_path(b"c")];
/// let bytes = tree.prove(&keys, &[]);
/// // ...and a verifier with only the root checks reads and computes the new root.
/// let mut proof = Proof::decode(&bytes, &keys, &[])?;
/// proof.check_root(&pre_root)?;
/// assert_eq!(proof.get(&key_path(b"a"))?, Some(value_hash(b"1")));
/// assert_eq!(proof.get(&key_path(b"c"))?, None); // proven absent
/// proof.apply(&[(key_path(b"c"), Some(value_hash(b"3")))])?;
///
/// tree.update([(key_path(b"c"), Some(value_hash(b"3")))]);
/// assert_eq!(proof.root(), tree.root());
/// # Ok::<(), verity_state_tree::ProofError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    nodes: Vec<Node>,
    /// Each node's hash, or `None` where a write changed the node (hashed
    /// again, once, when the root is next asked for).
    hashes: Vec<Option<Hash>>,
    root: u32,
}

impl Proof {
    /// Decodes the proof of `paths` (every key read or written), of which
    /// `removed` are removed, as [`Tree::prove`](crate::Tree::prove) made it
    /// (docs/state-tree.md). Accepts exactly the canonical encoding for
    /// that key set: well-formed nodes, canonical branches, leaves where
    /// their paths lead, at most 256 levels, no trailing bytes, and each
    /// subtree in the one form the key set gives it. Never panics,
    /// whatever the bytes.
    pub fn decode(bytes: &[u8], paths: &[Hash], removed: &[Hash]) -> Result<Proof, ProofError> {
        let (paths, removed) = key_set(paths, removed);
        let mut d = Decoder {
            bytes,
            at: 0,
            nodes: Vec::new(),
            hashes: Vec::new(),
        };
        let root = d.node(Position {
            depth: 0,
            prefix: EMPTY,
            paths: &paths,
            removed: &removed,
            beside_removed: false,
        })?;
        if d.at != bytes.len() {
            return Err(ProofError::TrailingBytes);
        }
        Ok(Proof {
            nodes: d.nodes,
            hashes: d.hashes,
            root,
        })
    }

    /// The canonical encoding (as [`Tree::prove`](crate::Tree::prove) wrote it).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_node(self.root, &mut out);
        out
    }

    fn encode_node(&self, i: u32, out: &mut Vec<u8>) {
        match self.nodes[i as usize] {
            Node::Empty => out.push(TAG_EMPTY),
            Node::Leaf { path, value } => {
                out.push(TAG_LEAF);
                out.extend_from_slice(&path);
                out.extend_from_slice(&value);
            }
            Node::Opaque(h) => {
                out.push(TAG_OPAQUE);
                out.extend_from_slice(&h);
            }
            Node::Branch(l, r) => {
                out.push(TAG_BRANCH);
                self.encode_node(l, out);
                self.encode_node(r, out);
            }
        }
    }

    /// The root hash of the (partial) tree the proof describes.
    pub fn root(&mut self) -> Hash {
        self.hash(self.root)
    }

    /// Node `i`'s hash: kept from decoding, or computed again (once) if a
    /// write changed the node.
    fn hash(&mut self, i: u32) -> Hash {
        if let Some(h) = self.hashes[i as usize] {
            return h;
        }
        let h = match self.nodes[i as usize] {
            Node::Empty => EMPTY,
            Node::Leaf { path, value } => leaf_hash(&path, &value),
            Node::Opaque(h) => h,
            Node::Branch(l, r) => {
                let (l, r) = (self.hash(l), self.hash(r));
                node_hash(&l, &r)
            }
        };
        self.hashes[i as usize] = Some(h);
        h
    }

    /// Checks that the proof hashes to `expected`.
    pub fn check_root(&mut self, expected: &Hash) -> Result<(), ProofError> {
        let found = self.root();
        if &found != expected {
            return Err(ProofError::RootMismatch {
                found,
                expected: *expected,
            });
        }
        Ok(())
    }

    /// The value hash stored under `path`: `Some` if the key is present,
    /// `None` if the proof shows it absent, an error if the proof does not
    /// cover the path.
    pub fn get(&self, path: &Hash) -> Result<Option<Hash>, ProofError> {
        let mut i = self.root;
        let mut depth = 0;
        loop {
            match self.nodes[i as usize] {
                Node::Empty => return Ok(None),
                Node::Leaf { path: p, value } => return Ok((&p == path).then_some(value)),
                Node::Opaque(_) => return Err(ProofError::NotCovered(*path)),
                Node::Branch(l, r) => {
                    i = if bit(path, depth) == 0 { l } else { r };
                    depth += 1;
                }
            }
        }
    }

    /// Applies writes (`Some(value_hash)` sets, `None` removes) to the
    /// partial tree, keeping it canonical, so that [`root`](Self::root) is
    /// then the root of the whole tree after them. Every written path must
    /// be covered.
    pub fn apply(&mut self, writes: &[(Hash, Option<Hash>)]) -> Result<(), ProofError> {
        for (path, value) in writes {
            self.root = match value {
                Some(v) => self.insert(self.root, 0, path, v)?,
                None => self.remove(self.root, 0, path)?,
            };
        }
        Ok(())
    }

    fn push(&mut self, node: Node) -> u32 {
        self.nodes.push(node);
        self.hashes.push(None);
        (self.nodes.len() - 1) as u32
    }

    /// Replaces node `i`, whose hash must then be computed again.
    fn set(&mut self, i: u32, node: Node) {
        self.nodes[i as usize] = node;
        self.hashes[i as usize] = None;
    }

    fn insert(
        &mut self,
        i: u32,
        depth: usize,
        path: &Hash,
        value: &Hash,
    ) -> Result<u32, ProofError> {
        match self.nodes[i as usize] {
            Node::Empty => Ok(self.push(Node::Leaf {
                path: *path,
                value: *value,
            })),
            Node::Leaf { path: p, .. } if &p == path => {
                self.set(
                    i,
                    Node::Leaf {
                        path: p,
                        value: *value,
                    },
                );
                Ok(i)
            }
            Node::Leaf { path: other, .. } => {
                // Two leaves below this point: branches down to where their
                // paths part.
                let new = self.push(Node::Leaf {
                    path: *path,
                    value: *value,
                });
                Ok(self.split(i, &other, new, path, depth))
            }
            Node::Opaque(_) => Err(ProofError::NotCovered(*path)),
            Node::Branch(l, r) => {
                if bit(path, depth) == 0 {
                    let l = self.insert(l, depth + 1, path, value)?;
                    self.set(i, Node::Branch(l, r));
                } else {
                    let r = self.insert(r, depth + 1, path, value)?;
                    self.set(i, Node::Branch(l, r));
                }
                Ok(i)
            }
        }
    }

    /// The subtree at `depth` holding leaves `a` (path `pa`) and `b` (path
    /// `pb`), which differ somewhere below.
    fn split(&mut self, a: u32, pa: &Hash, b: u32, pb: &Hash, depth: usize) -> u32 {
        let (ba, bb) = (bit(pa, depth), bit(pb, depth));
        if ba != bb {
            let (l, r) = if ba == 0 { (a, b) } else { (b, a) };
            return self.push(Node::Branch(l, r));
        }
        let below = self.split(a, pa, b, pb, depth + 1);
        let empty = self.push(Node::Empty);
        let (l, r) = if ba == 0 {
            (below, empty)
        } else {
            (empty, below)
        };
        self.push(Node::Branch(l, r))
    }

    fn remove(&mut self, i: u32, depth: usize, path: &Hash) -> Result<u32, ProofError> {
        match self.nodes[i as usize] {
            Node::Empty => Ok(i),
            Node::Leaf { path: p, .. } if &p == path => Ok(self.push(Node::Empty)),
            Node::Leaf { .. } => Ok(i),
            Node::Opaque(_) => Err(ProofError::NotCovered(*path)),
            Node::Branch(old_l, old_r) => {
                let (l, r) = if bit(path, depth) == 0 {
                    (self.remove(old_l, depth + 1, path)?, old_r)
                } else {
                    (old_l, self.remove(old_r, depth + 1, path)?)
                };
                if (l, r) == (old_l, old_r) {
                    // Nothing below changed shape (the key was absent, or a
                    // branch below stayed a branch), but a hash may have.
                    if self.hashes[l as usize].is_none() || self.hashes[r as usize].is_none() {
                        self.hashes[i as usize] = None;
                    }
                    return Ok(i);
                }
                let (nl, nr) = (self.nodes[l as usize], self.nodes[r as usize]);
                match (nl, nr) {
                    (Node::Empty, Node::Empty) => Ok(l),
                    // A single leaf beside an empty subtree moves up.
                    (Node::Empty, Node::Leaf { .. }) => Ok(r),
                    (Node::Leaf { .. }, Node::Empty) => Ok(l),
                    (Node::Empty, Node::Opaque(_)) | (Node::Opaque(_), Node::Empty) => {
                        Err(ProofError::Ambiguous(*path))
                    }
                    _ => {
                        self.set(i, Node::Branch(l, r));
                        Ok(i)
                    }
                }
            }
        }
    }
}

struct Decoder<'a> {
    bytes: &'a [u8],
    at: usize,
    nodes: Vec<Node>,
    /// Each node's hash, computed as it is decoded (children first).
    hashes: Vec<Option<Hash>>,
}

impl Decoder<'_> {
    fn hash(&mut self) -> Result<Hash, ProofError> {
        let end = self.at.checked_add(32).ok_or(ProofError::Truncated)?;
        let h = self
            .bytes
            .get(self.at..end)
            .ok_or(ProofError::Truncated)?
            .try_into()
            .map_err(|_| ProofError::Truncated)?;
        self.at = end;
        Ok(h)
    }

    /// Decodes the node at `pos`, in the form the canonical encoding gives
    /// that position.
    fn node(&mut self, pos: Position<'_>) -> Result<u32, ProofError> {
        let at = self.at;
        let tag = *self.bytes.get(at).ok_or(ProofError::Truncated)?;
        self.at += 1;
        let on_path = !pos.paths.is_empty();
        let refuse = |rule| Err(ProofError::NotCanonical { at, rule });
        let (node, hash) = match tag {
            TAG_EMPTY => (Node::Empty, EMPTY),
            TAG_LEAF => {
                if !on_path && !pos.beside_removed {
                    return refuse(CanonicalRule::OffPathIsSummarised);
                }
                let path = self.hash()?;
                let value = self.hash()?;
                if !same_prefix(&path, &pos.prefix, pos.depth) {
                    return Err(ProofError::MisplacedLeaf);
                }
                (Node::Leaf { path, value }, leaf_hash(&path, &value))
            }
            TAG_OPAQUE => {
                let h = self.hash()?;
                if h == EMPTY {
                    return refuse(CanonicalRule::EmptyIsTagged);
                }
                if on_path {
                    return refuse(CanonicalRule::OnPathIsShown);
                }
                if pos.beside_removed {
                    return refuse(CanonicalRule::RemovalNeighbourIsShown);
                }
                (Node::Opaque(h), h)
            }
            TAG_BRANCH => {
                if !on_path && !pos.beside_removed {
                    return refuse(CanonicalRule::OffPathIsSummarised);
                }
                if pos.depth >= MAX_DEPTH {
                    return Err(ProofError::TooDeep);
                }
                let (left, right) = pos.children();
                let l = self.node(left)?;
                let r = self.node(right)?;
                let (nl, nr) = (self.nodes[l as usize], self.nodes[r as usize]);
                let canonical = !matches!(
                    (nl, nr),
                    (Node::Empty, Node::Empty)
                        | (Node::Empty, Node::Leaf { .. })
                        | (Node::Leaf { .. }, Node::Empty)
                );
                if !canonical {
                    return Err(ProofError::NonCanonical);
                }
                let (hl, hr) = (self.hashes[l as usize], self.hashes[r as usize]);
                let hash = node_hash(&hl.unwrap_or(EMPTY), &hr.unwrap_or(EMPTY));
                (Node::Branch(l, r), hash)
            }
            _ => return Err(ProofError::BadTag(at)),
        };
        self.nodes.push(node);
        self.hashes.push(Some(hash));
        Ok((self.nodes.len() - 1) as u32)
    }
}

/// Where a node sits in the tree, and which of the proven paths cross it.
#[derive(Clone, Copy)]
struct Position<'a> {
    depth: usize,
    /// The path bits taken to reach it (the first `depth` bits).
    prefix: Hash,
    /// The proven paths that cross it, sorted.
    paths: &'a [Hash],
    /// The removed paths that cross it, sorted.
    removed: &'a [Hash],
    /// Whether its sibling lies on a removed path.
    beside_removed: bool,
}

impl<'a> Position<'a> {
    /// The positions of the two children of an internal node here.
    fn children(&self) -> (Position<'a>, Position<'a>) {
        let d = self.depth;
        let split = self.paths.partition_point(|p| bit(p, d) == 0);
        let rsplit = self.removed.partition_point(|p| bit(p, d) == 0);
        let mut right_prefix = self.prefix;
        right_prefix[d / 8] |= 0x80 >> (d % 8);
        let (removed_l, removed_r) = self.removed.split_at(rsplit);
        (
            Position {
                depth: d + 1,
                prefix: self.prefix,
                paths: &self.paths[..split],
                removed: removed_l,
                beside_removed: !removed_r.is_empty(),
            },
            Position {
                depth: d + 1,
                prefix: right_prefix,
                paths: &self.paths[split..],
                removed: removed_r,
                beside_removed: !removed_l.is_empty(),
            },
        )
    }
}

/// The proven paths and the removed ones, each sorted and without
/// repeats; a removed path is a proven one.
pub(crate) fn key_set(paths: &[Hash], removed: &[Hash]) -> (Vec<Hash>, Vec<Hash>) {
    let mut all: Vec<Hash> = paths.iter().chain(removed).copied().collect();
    all.sort_unstable();
    all.dedup();
    let mut removed = removed.to_vec();
    removed.sort_unstable();
    removed.dedup();
    (all, removed)
}
