//! The whole tree, in memory: what an executor keeps to answer reads, prove
//! them and commit writes. Nodes live in two flat arrays (leaves and
//! branches) addressed by 32-bit references; every branch keeps its
//! children's hashes, so a batch of writes rehashes only the paths it
//! changes, each node once, and a proof reads no sibling it summarises.

use alloc::vec::Vec;

use crate::hash::{EMPTY, Hash, bit, leaf_hash, node_hash};
use crate::proof::{TAG_BRANCH, TAG_EMPTY, TAG_LEAF, TAG_OPAQUE, key_set};

/// A reference to a node: empty, a leaf or a branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ref(u32);

impl Ref {
    const EMPTY: Ref = Ref(u32::MAX);
    const LEAF: u32 = 1 << 31;

    fn leaf(i: usize) -> Ref {
        Ref(i as u32 | Self::LEAF)
    }

    fn branch(i: usize) -> Ref {
        Ref(i as u32)
    }
}

enum Kind {
    Empty,
    Leaf(usize),
    Branch(usize),
}

#[derive(Clone, Debug)]
struct Leaf {
    path: Hash,
    value: Hash,
}

/// An internal node: its children and their hashes. Keeping a child's hash
/// in its parent means proving a path reads each sibling's hash from the
/// node already loaded, instead of loading the sibling (a cache miss at a
/// million keys).
#[derive(Clone, Debug)]
struct Branch {
    children: [Ref; 2],
    hashes: [Hash; 2],
}

/// A binary sparse Merkle tree of `(path, value_hash)` leaves, canonical:
/// its root depends only on the set of leaves, never on the order of the
/// writes that made it (docs/state-tree.md).
///
/// ```
/// use verity_state_tree::{EMPTY, Tree, key_path, value_hash};
///
/// let mut tree = Tree::new();
/// assert_eq!(tree.root(), EMPTY);
/// tree.update([(key_path(b"k"), Some(value_hash(b"v")))]);
/// assert_eq!(tree.get(&key_path(b"k")), Some(value_hash(b"v")));
/// tree.update([(key_path(b"k"), None)]);
/// assert_eq!(tree.root(), EMPTY);
/// ```
#[derive(Clone, Debug)]
pub struct Tree {
    root: Ref,
    root_hash: Hash,
    leaves: Vec<Leaf>,
    branches: Vec<Branch>,
    free_leaves: Vec<u32>,
    free_branches: Vec<u32>,
    len: usize,
}

impl Default for Tree {
    fn default() -> Self {
        Tree::new()
    }
}

/// A node and its hash.
type Node = (Ref, Hash);

/// `writes` sorted by path, one per path: the last write to a path wins.
pub(crate) fn last_write_per_path(
    mut writes: Vec<(Hash, Option<Hash>)>,
) -> Vec<(Hash, Option<Hash>)> {
    // Stable: among equal paths the last write stays last.
    writes.sort_by_key(|w| w.0);
    let mut deduped: Vec<(Hash, Option<Hash>)> = Vec::with_capacity(writes.len());
    for w in writes {
        match deduped.last_mut() {
            Some(last) if last.0 == w.0 => *last = w,
            _ => deduped.push(w),
        }
    }
    deduped
}

/// The leaves of a subtree that was empty or the leaf `existing`, after
/// `writes` (sorted, one per path): the values written, and `existing`
/// unless a write names its path. Sorted by path.
fn leaves_after(writes: &[(Hash, Option<Hash>)], existing: Option<&Leaf>) -> Vec<(Hash, Hash)> {
    let mut leaves: Vec<(Hash, Hash)> = writes
        .iter()
        .filter_map(|(p, v)| Some((*p, (*v)?)))
        .collect();
    if let Some(old) = existing.filter(|old| !writes.iter().any(|(p, _)| *p == old.path)) {
        let at = leaves.partition_point(|(p, _)| *p < old.path);
        leaves.insert(at, (old.path, old.value));
    }
    leaves
}

/// What a subtree would become after writes: its kind decides whether its
/// parent collapses (a single leaf moves up), its hash the parent's hash.
#[derive(Clone, Copy)]
enum After {
    Empty,
    Leaf(Hash),
    Branch(Hash),
}

impl After {
    fn hash(self) -> Hash {
        match self {
            After::Empty => EMPTY,
            After::Leaf(h) | After::Branch(h) => h,
        }
    }
}

const EMPTY_NODE: Node = (Ref::EMPTY, EMPTY);

impl Tree {
    /// An empty tree.
    pub fn new() -> Self {
        Tree {
            root: Ref::EMPTY,
            root_hash: EMPTY,
            leaves: Vec::new(),
            branches: Vec::new(),
            free_leaves: Vec::new(),
            free_branches: Vec::new(),
            len: 0,
        }
    }

    /// Number of leaves (keys present).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the tree has no leaves.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The root hash.
    pub fn root(&self) -> Hash {
        self.root_hash
    }

    fn kind(r: Ref) -> Kind {
        if r == Ref::EMPTY {
            Kind::Empty
        } else if r.0 & Ref::LEAF != 0 {
            Kind::Leaf((r.0 & !Ref::LEAF) as usize)
        } else {
            Kind::Branch(r.0 as usize)
        }
    }

    /// The value hash under `path`, if present.
    pub fn get(&self, path: &Hash) -> Option<Hash> {
        let mut r = self.root;
        let mut depth = 0;
        loop {
            match Self::kind(r) {
                Kind::Empty => return None,
                Kind::Leaf(i) => {
                    let leaf = &self.leaves[i];
                    return (&leaf.path == path).then_some(leaf.value);
                }
                Kind::Branch(i) => {
                    r = self.branches[i].children[bit(path, depth)];
                    depth += 1;
                }
            }
        }
    }

    /// Applies writes (`Some(value_hash)` sets, `None` removes); a path
    /// written twice takes its last write. Each node on the changed paths
    /// is rehashed once.
    pub fn update(&mut self, writes: impl IntoIterator<Item = (Hash, Option<Hash>)>) {
        let writes = last_write_per_path(writes.into_iter().collect());
        (self.root, self.root_hash) = self.update_at((self.root, self.root_hash), 0, &writes);
    }

    fn update_at(&mut self, node: Node, depth: usize, writes: &[(Hash, Option<Hash>)]) -> Node {
        if writes.is_empty() {
            return node;
        }
        match Self::kind(node.0) {
            Kind::Branch(i) => {
                let split = writes.partition_point(|w| bit(&w.0, depth) == 0);
                let b = &self.branches[i];
                let (l, r) = ((b.children[0], b.hashes[0]), (b.children[1], b.hashes[1]));
                let l = self.update_at(l, depth + 1, &writes[..split]);
                let r = self.update_at(r, depth + 1, &writes[split..]);
                self.join(i, l, r)
            }
            Kind::Empty => self.build(depth, &leaves_after(writes, None), None),
            Kind::Leaf(i) => {
                let leaves = leaves_after(writes, Some(&self.leaves[i]));
                self.build(depth, &leaves, Some(i))
            }
        }
    }

    /// Branch `i` with new children, canonical: gone if both are empty, the
    /// leaf itself if the other side is empty.
    fn join(&mut self, i: usize, l: Node, r: Node) -> Node {
        let collapse = match (Self::kind(l.0), Self::kind(r.0)) {
            (Kind::Empty, Kind::Empty) => Some(EMPTY_NODE),
            (Kind::Empty, Kind::Leaf(_)) => Some(r),
            (Kind::Leaf(_), Kind::Empty) => Some(l),
            _ => None,
        };
        if let Some(c) = collapse {
            self.free_branches.push(i as u32);
            return c;
        }
        self.branches[i] = Branch {
            children: [l.0, r.0],
            hashes: [l.1, r.1],
        };
        (Ref::branch(i), node_hash(&l.1, &r.1))
    }

    /// The canonical subtree at `depth` holding `leaves` (sorted by path),
    /// reusing leaf slot `reuse` (the subtree's old leaf) if given.
    fn build(&mut self, depth: usize, leaves: &[(Hash, Hash)], reuse: Option<usize>) -> Node {
        match leaves {
            [] => {
                if let Some(i) = reuse {
                    self.free_leaf(i);
                }
                EMPTY_NODE
            }
            [(path, value)] => {
                if let Some(i) = reuse {
                    if &self.leaves[i].path == path {
                        self.leaves[i].value = *value;
                        return (Ref::leaf(i), leaf_hash(path, value));
                    }
                    self.free_leaf(i);
                }
                self.new_leaf(path, value)
            }
            _ => {
                let split = leaves.partition_point(|(p, _)| bit(p, depth) == 0);
                // The old leaf's slot goes to whichever side keeps its path.
                let reuse_left = reuse.filter(|&i| bit(&self.leaves[i].path, depth) == 0);
                let reuse_right = reuse.filter(|&i| bit(&self.leaves[i].path, depth) == 1);
                let l = self.build(depth + 1, &leaves[..split], reuse_left);
                let r = self.build(depth + 1, &leaves[split..], reuse_right);
                let branch = Branch {
                    children: [l.0, r.0],
                    hashes: [l.1, r.1],
                };
                let hash = node_hash(&l.1, &r.1);
                match self.free_branches.pop() {
                    Some(i) => {
                        self.branches[i as usize] = branch;
                        (Ref::branch(i as usize), hash)
                    }
                    None => {
                        self.branches.push(branch);
                        (Ref::branch(self.branches.len() - 1), hash)
                    }
                }
            }
        }
    }

    fn new_leaf(&mut self, path: &Hash, value: &Hash) -> Node {
        self.len += 1;
        let leaf = Leaf {
            path: *path,
            value: *value,
        };
        let hash = leaf_hash(path, value);
        match self.free_leaves.pop() {
            Some(i) => {
                self.leaves[i as usize] = leaf;
                (Ref::leaf(i as usize), hash)
            }
            None => {
                self.leaves.push(leaf);
                (Ref::leaf(self.leaves.len() - 1), hash)
            }
        }
    }

    fn free_leaf(&mut self, i: usize) {
        self.len -= 1;
        self.free_leaves.push(i as u32);
    }

    /// The root the tree would have after `writes` (`Some(value_hash)` sets,
    /// `None` removes; a path written twice takes its last write), leaving
    /// the tree as it is. It walks the written paths as
    /// [`update`](Self::update) does and hashes what would change, building
    /// nothing: what an executor does to put the post-state root in a
    /// receipt before the receipt is committed.
    ///
    /// ```
    /// use verity_state_tree::{Tree, key_path, value_hash};
    ///
    /// let mut tree = Tree::new();
    /// tree.update([(key_path(b"a"), Some(value_hash(b"1")))]);
    /// let writes = [(key_path(b"b"), Some(value_hash(b"2"))), (key_path(b"a"), None)];
    /// let after = tree.root_after(&writes);
    /// let before = tree.root();
    /// assert_eq!(tree.root(), before, "nothing changed");
    /// tree.update(writes);
    /// assert_eq!(tree.root(), after);
    /// assert_ne!(before, after);
    /// ```
    pub fn root_after(&self, writes: &[(Hash, Option<Hash>)]) -> Hash {
        if writes.is_empty() {
            return self.root();
        }
        let writes = last_write_per_path(writes.to_vec());
        self.after((self.root, self.root_hash), 0, &writes).hash()
    }

    /// What subtree `node` at `depth` becomes after `writes` (sorted, one
    /// per path), as [`update_at`](Self::update_at) would make it.
    fn after(&self, node: Node, depth: usize, writes: &[(Hash, Option<Hash>)]) -> After {
        if writes.is_empty() {
            return match Self::kind(node.0) {
                Kind::Empty => After::Empty,
                Kind::Leaf(_) => After::Leaf(node.1),
                Kind::Branch(_) => After::Branch(node.1),
            };
        }
        match Self::kind(node.0) {
            Kind::Branch(i) => {
                let split = writes.partition_point(|w| bit(&w.0, depth) == 0);
                let b = &self.branches[i];
                let l = self.after((b.children[0], b.hashes[0]), depth + 1, &writes[..split]);
                let r = self.after((b.children[1], b.hashes[1]), depth + 1, &writes[split..]);
                match (l, r) {
                    (After::Empty, After::Empty) => After::Empty,
                    (After::Empty, leaf @ After::Leaf(_))
                    | (leaf @ After::Leaf(_), After::Empty) => leaf,
                    (l, r) => After::Branch(node_hash(&l.hash(), &r.hash())),
                }
            }
            Kind::Empty => Self::built(depth, &leaves_after(writes, None)),
            Kind::Leaf(i) => Self::built(depth, &leaves_after(writes, Some(&self.leaves[i]))),
        }
    }

    /// The canonical subtree at `depth` holding `leaves` (sorted by path),
    /// as [`build`](Self::build) would make it.
    fn built(depth: usize, leaves: &[(Hash, Hash)]) -> After {
        match leaves {
            [] => After::Empty,
            [(path, value)] => After::Leaf(leaf_hash(path, value)),
            _ => {
                let split = leaves.partition_point(|(p, _)| bit(p, depth) == 0);
                let l = Self::built(depth + 1, &leaves[..split]);
                let r = Self::built(depth + 1, &leaves[split..]);
                After::Branch(node_hash(&l.hash(), &r.hash()))
            }
        }
    }

    /// The proof for `paths` (every key a transaction read or wrote, in any
    /// order), of which `removed` are removed, in its canonical encoding
    /// (docs/state-tree.md): the tree their paths cross, every other
    /// non-empty subtree summarised by its hash. Beside a removed key's
    /// path, subtrees show what they are (empty, one leaf, or an internal
    /// node with summarised children), so that a verifier sees whether a
    /// subtree that loses its neighbour is a single leaf (which then moves
    /// up). [`Proof::decode`](crate::Proof::decode) with the same key set
    /// accepts these bytes and no others.
    pub fn prove(&self, paths: &[Hash], removed: &[Hash]) -> Vec<u8> {
        let (paths, removed) = key_set(paths, removed);
        let mut out = Vec::with_capacity(33 * paths.len() * 24);
        self.prove_at((self.root, self.root_hash), 0, &paths, &removed, &mut out);
        out
    }

    fn prove_at(
        &self,
        node: Node,
        depth: usize,
        paths: &[Hash],
        removed: &[Hash],
        out: &mut Vec<u8>,
    ) {
        if paths.is_empty() {
            return self.summary(node, out);
        }
        match Self::kind(node.0) {
            Kind::Empty | Kind::Leaf(_) => self.shown(node, out),
            Kind::Branch(i) => {
                out.push(TAG_BRANCH);
                let b = &self.branches[i];
                let (l, r) = ((b.children[0], b.hashes[0]), (b.children[1], b.hashes[1]));
                let split = paths.partition_point(|p| bit(p, depth) == 0);
                let rsplit = removed.partition_point(|p| bit(p, depth) == 0);
                for (child, paths, removed, other_removed) in [
                    (l, &paths[..split], &removed[..rsplit], &removed[rsplit..]),
                    (r, &paths[split..], &removed[rsplit..], &removed[..rsplit]),
                ] {
                    if paths.is_empty() && !other_removed.is_empty() {
                        self.expanded(child, out);
                    } else {
                        self.prove_at(child, depth + 1, paths, removed, out);
                    }
                }
            }
        }
    }

    /// A subtree no proven path crosses: empty, or its hash (taken from
    /// the parent: the subtree itself is not read).
    fn summary(&self, node: Node, out: &mut Vec<u8>) {
        if let Kind::Empty = Self::kind(node.0) {
            out.push(TAG_EMPTY);
        } else {
            out.push(TAG_OPAQUE);
            out.extend_from_slice(&node.1);
        }
    }

    /// An empty subtree or a leaf, shown as what it is.
    fn shown(&self, node: Node, out: &mut Vec<u8>) {
        match Self::kind(node.0) {
            Kind::Leaf(i) => {
                let leaf = &self.leaves[i];
                out.push(TAG_LEAF);
                out.extend_from_slice(&leaf.path);
                out.extend_from_slice(&leaf.value);
            }
            _ => self.summary(node, out),
        }
    }

    /// The neighbour of a removed path: empty, its one leaf, or a branch
    /// with its children summarised.
    fn expanded(&self, node: Node, out: &mut Vec<u8>) {
        match Self::kind(node.0) {
            Kind::Branch(i) => {
                out.push(TAG_BRANCH);
                let b = &self.branches[i];
                self.summary((b.children[0], b.hashes[0]), out);
                self.summary((b.children[1], b.hashes[1]), out);
            }
            _ => self.shown(node, out),
        }
    }
}
