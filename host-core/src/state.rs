//! State: the backend an embedder provides, an in-memory one, and the
//! witness a verifier re-executes against.

use std::collections::{BTreeMap, HashMap};

use verity_host_abi::{Hash32, Receipt, WriteEntry};
use verity_state_tree::{TransitionError, Tree, check_transition, key_path, value_hash};

/// Why a state backend could not answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The backend holds no answer for this key: a verification witness
    /// lacks it. Verification fails naming the key.
    #[error("the run read key {} which the witness does not hold", hex(.0))]
    NotInWitness(Vec<u8>),
    /// The backend itself failed (I/O, corruption, ...): its own error is
    /// the source.
    ///
    /// ```
    /// use std::error::Error;
    /// use verity_host_core::StateError;
    ///
    /// let io = std::io::Error::other("disk on fire");
    /// let e = StateError::Backend(Box::new(io));
    /// assert_eq!(e.to_string(), "state backend failed");
    /// assert_eq!(e.source().unwrap().to_string(), "disk on fire");
    /// ```
    #[error("state backend failed")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A read-only view of the pre-state a transaction runs against: what
/// execution needs, and all it may touch. Embedders implement `get` for
/// their store; writes are the runtime's business: they come back in the
/// execution and the embedder commits them on success.
///
/// A view is `Send + Sync`: many transactions may run at once, on many
/// threads, against one view (a block executed in parallel), and none of
/// them changes it. A view must be deterministic: the same key gives the
/// same answer for as long as runs read it.
///
/// ```
/// use verity_host_core::{MemoryState, StateView};
///
/// let state: MemoryState = [(b"k".to_vec(), b"v".to_vec())].into_iter().collect();
/// let view: &dyn StateView = &state;
/// std::thread::scope(|s| {
///     let a = s.spawn(|| view.get(b"k").unwrap());
///     let b = s.spawn(|| view.get(b"k").unwrap());
///     assert_eq!(a.join().unwrap(), b.join().unwrap());
/// });
/// ```
pub trait StateView: Send + Sync {
    /// The value stored under `key`, or `None` if it is absent.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError>;
}

/// A view that also commits to its state by a root: what sealing an
/// execution into a receipt needs (its two state roots), and what the
/// runtime's `execute` takes to do both at once.
///
/// A store that commits receipts must apply a receipt's writes only to the
/// state it was made against: if the receipt's `pre_state_root` is not the
/// store's root when it commits, the commit fails and changes nothing
/// ([`MemoryState::commit`] returns [`StaleReceipt`]). Two receipts made
/// against the same state (two transfers of one whole balance) cannot both
/// commit; the second must be executed again.
pub trait StateBackend: StateView {
    /// The state's root, and the root it has once `writes` (a run's write
    /// set, sorted by key) are applied, without applying them. Both go into
    /// the receipt. A failed run asks with no writes: its roots are equal.
    ///
    /// Verity's own states commit with the state tree of
    /// docs/state-tree.md, which is what `verity verify --witness` checks;
    /// a backend may commit another way, and then its own verifier checks
    /// its roots.
    fn roots(&self, writes: &[WriteEntry]) -> Result<StateRoots, StateError>;
}

/// A run's state roots: before it, and after its writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StateRoots {
    /// The pre-state root.
    pub pre: Hash32,
    /// The post-state root.
    pub post: Hash32,
}

/// A borrowed view is a view: the runtime's host holds `&dyn StateView`,
/// the SDK's test environment its own state.
impl<T: StateView + ?Sized> StateView for &T {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        (**self).get(key)
    }
}

impl<T: StateBackend + ?Sized> StateBackend for &T {
    fn roots(&self, writes: &[WriteEntry]) -> Result<StateRoots, StateError> {
        (**self).roots(writes)
    }
}

/// A write set as the state tree takes it: paths and value hashes.
pub fn tree_writes(writes: &[WriteEntry]) -> Vec<([u8; 32], Option<[u8; 32]>)> {
    writes
        .iter()
        .map(|w| (key_path(&w.key), w.value.as_deref().map(value_hash)))
        .collect()
}

/// What committing one receipt did to a [`MemoryState`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// The root before the transaction.
    pub pre_root: Hash32,
    /// The root after it (the pre-state root if the run failed).
    pub post_root: Hash32,
    /// The proof of every key the transaction read or wrote, against
    /// `pre_root` (docs/state-tree.md's encoding): the receipt's witness.
    pub witness: Vec<u8>,
}

/// A receipt made against another state than the one it is committed to:
/// nothing was committed.
///
/// ```
/// use verity_host_core::{MemoryState, StaleReceipt};
/// # use verity_host_abi::*;
/// # let receipt = Receipt { format_version: 4, profile_hash: Hash32::default(),
/// #     action: Action::Run, contract: ContractId::default(), code_hash: Hash32::default(),
/// #     entry: "run".into(), sender: vec![], auth: Default::default(), context: vec![], height: 0, time: 0,
/// #     chain_id: String::new(), input: vec![], fuel_limit: 1, fuel_used: 0,
/// #     status: Status::Success, pre_state_root: Hash32([7; 32]),
/// #     post_state_root: Hash32::default(), calls: vec![], events: vec![], output: vec![],
/// #     reads: vec![], writes: vec![] };
/// let mut state = MemoryState::default();
/// let err = state.commit(&receipt).unwrap_err();
/// assert_eq!(err, StaleReceipt { receipt: Hash32([7; 32]), state: state.root() });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the receipt was made against state root {receipt}, but the state's root is {state}: nothing was committed"
)]
pub struct StaleReceipt {
    /// The receipt's pre-state root.
    pub receipt: Hash32,
    /// The state's root when the commit was asked for.
    pub state: Hash32,
}

/// Why a receipt's state transition does not check.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransitionCheckError {
    /// The witness, or a read, does not check against the pre-state root.
    #[error(transparent)]
    Witness(#[from] TransitionError),
    /// The writes lead to another root than the one claimed.
    #[error("the writes lead to post-state root {computed}, not the receipt's {claimed}")]
    PostRoot {
        /// The root the witness and the writes give.
        computed: Hash32,
        /// The root claimed.
        claimed: Hash32,
    },
}

/// Checks, with no state, that `receipt`'s reads hold in the state of its
/// `pre_state_root` as `witness` proves it, and that its writes (none
/// unless it succeeded) lead to its `post_state_root`.
///
/// ```
/// use verity_host_core::{MemoryState, check_receipt_transition};
/// # use verity_host_abi::*;
/// # let mut state = MemoryState::default();
/// # state.insert(b"k".to_vec(), b"v".to_vec());
/// # let mut receipt = Receipt { format_version: 4, profile_hash: Hash32::default(),
/// #     action: Action::Run, contract: ContractId::default(), code_hash: Hash32::default(),
/// #     entry: "run".into(), sender: vec![], auth: Default::default(), context: vec![], height: 0, time: 0,
/// #     chain_id: String::new(), input: vec![], fuel_limit: 1,
/// #     fuel_used: 0, status: Status::Success, pre_state_root: Hash32::default(),
/// #     post_state_root: Hash32::default(), calls: vec![], events: vec![], output: vec![],
/// #     reads: vec![ReadEntry { key: b"k".to_vec(), value: Some(b"v".to_vec()) }],
/// #     writes: vec![WriteEntry { key: b"k".to_vec(), value: None }] };
/// # let roots = verity_host_core::StateBackend::roots(&state, &receipt.writes)?;
/// # receipt.pre_state_root = roots.pre;
/// # receipt.post_state_root = roots.post;
/// let transition = state.commit(&receipt)?;
/// check_receipt_transition(&receipt, &transition.witness)?;
/// receipt.reads[0].value = Some(b"lie".to_vec());
/// assert!(check_receipt_transition(&receipt, &transition.witness).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn check_receipt_transition(
    receipt: &Receipt,
    witness: &[u8],
) -> Result<(), TransitionCheckError> {
    let reads: Vec<(&[u8], Option<&[u8]>)> = receipt
        .reads
        .iter()
        .map(|r| (r.key.as_slice(), r.value.as_deref()))
        .collect();
    let writes: Vec<(&[u8], Option<&[u8]>)> = committed(receipt)
        .iter()
        .map(|w| (w.key.as_slice(), w.value.as_deref()))
        .collect();
    let computed = Hash32(check_transition(
        &receipt.pre_state_root.0,
        witness,
        &reads,
        &writes,
    )?);
    if computed != receipt.post_state_root {
        return Err(TransitionCheckError::PostRoot {
            computed,
            claimed: receipt.post_state_root,
        });
    }
    Ok(())
}

/// The paths a receipt's witness proves (every key it read or wrote) and,
/// of them, the paths its writes remove: what a state proves to make the
/// witness (docs/state-tree.md, "Proofs").
///
/// ```
/// use verity_host_abi::Receipt;
/// use verity_host_core::state::witness_paths;
///
/// // A removed key is proved, and named as removed.
/// fn removes_all_it_proves(receipt: &Receipt) -> bool {
///     let (paths, removed) = witness_paths(receipt);
///     paths.len() == removed.len()
/// }
/// ```
pub fn witness_paths(receipt: &Receipt) -> (Vec<[u8; 32]>, Vec<[u8; 32]>) {
    let mut paths: Vec<[u8; 32]> = receipt.reads.iter().map(|r| key_path(&r.key)).collect();
    let writes = committed(receipt);
    paths.extend(writes.iter().map(|w| key_path(&w.key)));
    let removed: Vec<[u8; 32]> = writes
        .iter()
        .filter(|w| w.value.is_none())
        .map(|w| key_path(&w.key))
        .collect();
    (paths, removed)
}

/// The writes a receipt commits: all of them if it succeeded, none if not.
fn committed(receipt: &Receipt) -> &[WriteEntry] {
    // A failed run's writes are empty, but a signed transaction's nonce
    // (docs/auth.md): it is committed whatever the run did.
    &receipt.writes
}

/// A sorted in-memory key-value state, committed by the state tree
/// (docs/state-tree.md): it has a root, and proves what a transaction read
/// and wrote.
///
/// ```
/// use verity_host_core::{MemoryState, StateView};
///
/// let mut state = MemoryState::default();
/// assert_eq!(state.root(), verity_host_abi::Hash32::default()); // empty
/// state.insert(b"k".to_vec(), b"v".to_vec());
/// assert_eq!(state.get(b"k").unwrap(), Some(b"v".to_vec()));
/// assert_eq!(state.get(b"x").unwrap(), None);
/// assert_ne!(state.root(), verity_host_abi::Hash32::default());
/// ```
#[derive(Clone, Debug, Default)]
pub struct MemoryState {
    /// Hashed, not sorted: at a million keys a sorted map's lookup chases a
    /// pointer to every key it compares (docs/performance.md).
    entries: HashMap<Vec<u8>, Vec<u8>>,
    tree: Tree,
}

/// Two states are equal when they hold the same entries (the tree is a
/// function of them).
impl PartialEq for MemoryState {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

impl Eq for MemoryState {}

impl MemoryState {
    /// Sets `key` to `value`.
    pub fn insert(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.tree
            .update([(key_path(&key), Some(value_hash(&value)))]);
        self.entries.insert(key, value);
    }

    /// The state root.
    pub fn root(&self) -> Hash32 {
        Hash32(self.tree.root())
    }

    /// The witness of `receipt` against this state: the proof of every key
    /// it read or wrote (docs/state-tree.md), which
    /// [`check_receipt_transition`] checks. Made before the receipt is
    /// committed.
    pub fn witness(&self, receipt: &Receipt) -> Vec<u8> {
        let (paths, removed) = witness_paths(receipt);
        self.tree.prove(&paths, &removed)
    }

    /// The proof of `keys` (present or absent) against [`root`](Self::root),
    /// in docs/state-tree.md's encoding: membership and non-membership.
    ///
    /// ```
    /// use verity_host_core::MemoryState;
    /// use verity_state_tree::{Proof, key_path, value_hash};
    ///
    /// let state: MemoryState = [(b"a".to_vec(), b"1".to_vec())].into_iter().collect();
    /// let keys = [key_path(b"a"), key_path(b"b")];
    /// let mut proof = Proof::decode(&state.prove(&[b"a", b"b"].map(|k| &k[..])), &keys, &[])?;
    /// proof.check_root(&state.root().0)?;
    /// assert_eq!(proof.get(&key_path(b"a"))?, Some(value_hash(b"1")));
    /// assert_eq!(proof.get(&key_path(b"b"))?, None); // proven absent
    /// # Ok::<(), verity_state_tree::ProofError>(())
    /// ```
    pub fn prove(&self, keys: &[&[u8]]) -> Vec<u8> {
        let paths: Vec<[u8; 32]> = keys.iter().map(|k| key_path(k)).collect();
        self.tree.prove(&paths, &[])
    }

    /// Applies a write set: `Some` sets, `None` removes.
    pub fn apply(&mut self, writes: &[WriteEntry]) {
        self.tree.update(tree_writes(writes));
        for w in writes {
            match &w.value {
                Some(v) => {
                    self.entries.insert(w.key.clone(), v.clone());
                }
                None => {
                    self.entries.remove(&w.key);
                }
            }
        }
    }

    /// Commits a receipt's writes if, and only if, the run succeeded, and
    /// returns the transition: both roots and the receipt's witness. A
    /// receipt made against another state (its pre-state root is not this
    /// state's root) commits nothing, whatever its status.
    pub fn commit(&mut self, receipt: &Receipt) -> Result<Transition, StaleReceipt> {
        let pre_root = self.root();
        if receipt.pre_state_root != pre_root {
            return Err(StaleReceipt {
                receipt: receipt.pre_state_root,
                state: pre_root,
            });
        }
        let witness = self.witness(receipt);
        self.apply(committed(receipt));
        Ok(Transition {
            pre_root,
            post_root: self.root(),
            witness,
        })
    }

    /// The value stored under `key`.
    pub fn value(&self, key: &[u8]) -> Option<&[u8]> {
        self.entries.get(key).map(Vec::as_slice)
    }

    /// The entries, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        let mut sorted: Vec<(&[u8], &[u8])> = self
            .entries
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
            .collect();
        sorted.sort_unstable();
        sorted.into_iter()
    }

    /// Every contract code the state stores (the values under
    /// [`code_key`](verity_host_abi::contract::code_key)), in no particular
    /// order: what a node readies at start-up so that no call compiles.
    ///
    /// ```
    /// use verity_host_abi::{Hash32, WriteEntry};
    /// use verity_host_abi::contract::code_key;
    /// use verity_host_core::MemoryState;
    ///
    /// let mut state = MemoryState::default();
    /// let code = b"\0asm\x01\0\0\0".to_vec();
    /// state.apply(&[
    ///     WriteEntry { key: code_key(&Hash32::of(&code)).to_vec(), value: Some(code.clone()) },
    ///     WriteEntry { key: b"\x02other".to_vec(), value: Some(b"x".to_vec()) },
    /// ]);
    /// assert_eq!(state.codes().collect::<Vec<_>>(), [code.as_slice()]);
    /// ```
    pub fn codes(&self) -> impl Iterator<Item = &[u8]> {
        use verity_host_abi::contract::CODE_KIND;
        self.entries
            .iter()
            .filter(|(k, _)| k.len() == 33 && k[0] == CODE_KIND)
            .map(|(_, v)| v.as_slice())
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl FromIterator<(Vec<u8>, Vec<u8>)> for MemoryState {
    fn from_iter<I: IntoIterator<Item = (Vec<u8>, Vec<u8>)>>(iter: I) -> Self {
        let entries: HashMap<Vec<u8>, Vec<u8>> = iter.into_iter().collect();
        let mut tree = Tree::new();
        tree.update(
            entries
                .iter()
                .map(|(k, v)| (key_path(k), Some(value_hash(v)))),
        );
        MemoryState { entries, tree }
    }
}

impl StateView for MemoryState {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.entries.get(key).cloned())
    }
}

impl StateBackend for MemoryState {
    fn roots(&self, writes: &[WriteEntry]) -> Result<StateRoots, StateError> {
        Ok(StateRoots {
            pre: self.root(),
            post: Hash32(self.tree.root_after(&tree_writes(writes))),
        })
    }
}

/// The state a receipt claims: its read set and its roots. Verification
/// re-executes against it; any read outside it is
/// [`StateError::NotInWitness`]. It authenticates nothing by itself:
/// [`check_receipt_transition`] checks the claims against a witness.
#[derive(Clone, Debug, Default)]
pub struct WitnessState {
    reads: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    roots: StateRoots,
}

impl WitnessState {
    /// The state held by `receipt`'s read set and roots.
    pub fn from_receipt(receipt: &Receipt) -> Self {
        WitnessState {
            reads: receipt
                .reads
                .iter()
                .map(|r| (r.key.clone(), r.value.clone()))
                .collect(),
            roots: StateRoots {
                pre: receipt.pre_state_root,
                post: receipt.post_state_root,
            },
        }
    }
}

impl StateView for WitnessState {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.reads
            .get(key)
            .cloned()
            .ok_or_else(|| StateError::NotInWitness(key.to_vec()))
    }
}

impl StateBackend for WitnessState {
    /// The claimed roots; a run without writes leaves the pre-state root.
    fn roots(&self, writes: &[WriteEntry]) -> Result<StateRoots, StateError> {
        Ok(StateRoots {
            pre: self.roots.pre,
            post: if writes.is_empty() {
                self.roots.pre
            } else {
                self.roots.post
            },
        })
    }
}
