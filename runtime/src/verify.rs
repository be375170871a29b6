//! Verification: re-execute a receipt's transaction against its own read
//! set and compare the result field by field.

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};

use verity_host_abi::contract::code_key;
use verity_host_abi::receipt::FieldValue;
use verity_host_abi::{Action, Hash32, Receipt};

use crate::error::RuntimeError;
use crate::prepared::PreparedModule;
use crate::resolve::CodeSource;
use crate::runtime::Runtime;
use crate::state::{
    StateBackend, StateError, StateRoots, StateView, TransitionCheckError, WitnessState,
    check_receipt_transition,
};
use crate::transaction::{Target, Transaction};

/// What a successful verification established.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub struct Verified {
    /// Whether the state transition was checked against the roots (a
    /// witness was given). Without it, the receipt's read set was taken on
    /// trust: the computation is verified, the pre-state is not.
    pub state_authenticated: bool,
}

/// One field whose value in the receipt differs from the re-execution's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldMismatch {
    /// The receipt field (`status`, `writes`, `fuel_used`, ...).
    pub field: &'static str,
    /// What the receipt says.
    pub claimed: String,
    /// What it should be: what re-execution produced.
    pub actual: String,
}

impl fmt::Display for FieldMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: receipt has {}, expected {}",
            self.field, self.claimed, self.actual
        )
    }
}

/// Why a receipt does not verify.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The receipt was made under another profile; this runtime refuses to
    /// judge it.
    #[error(
        "the receipt was made under profile {receipt}, but this runtime runs profile {runtime}"
    )]
    ProfileMismatch {
        /// The receipt's profile hash.
        receipt: Hash32,
        /// This runtime's profile hash.
        runtime: Hash32,
    },
    /// The receipt says a signed transaction ran, but its signature does
    /// not verify for the transaction its fields make (docs/auth.md).
    #[error("the receipt's signature does not authorize its transaction: {0}")]
    Unauthorized(verity_host_abi::auth::AuthRejection),
    /// The module given is not the one the receipt names.
    #[error("the module's hash is {module}, but the receipt's code_hash is {receipt}")]
    CodeMismatch {
        /// The receipt's code hash.
        receipt: Hash32,
        /// SHA-256 of the module given.
        module: Hash32,
    },
    /// Re-execution read a key the receipt's read set does not hold.
    #[error(
        "re-execution read key {} which the receipt's read set does not hold",
        hex(key)
    )]
    ReadOutsideWitness {
        /// The key.
        key: Vec<u8>,
    },
    /// The witness does not prove the receipt's reads against its
    /// pre-state root, or its writes do not lead to its post-state root.
    #[error("the state transition does not check: {0}")]
    Transition(#[from] TransitionCheckError),
    /// The receipt runs code that was not given.
    #[error("the receipt runs code {code_hash}, which was not given (pass the module)")]
    MissingCode {
        /// The code hash the receipt names.
        code_hash: Hash32,
    },
    /// Re-execution produced a different receipt.
    #[error("{} field(s) differ: {}", .0.len(), list(.0))]
    Mismatch(Vec<FieldMismatch>),
    /// Re-execution against the receipt's own read set found the read set
    /// at odds with the receipt: a contract record that does not decode,
    /// or one that names other code than the receipt's `code_hash`. The
    /// receipt is wrong, not the host.
    #[error("the receipt's read set does not agree with it: {0}")]
    InconsistentReads(RuntimeError),
    /// The host failed while re-executing.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}

fn list(m: &[FieldMismatch]) -> String {
    m.iter().map(|m| m.field).collect::<Vec<_>>().join(", ")
}

fn short(s: String) -> String {
    const MAX: usize = 96;
    if s.len() <= MAX {
        return s;
    }
    let cut = (0..=MAX)
        .rev()
        .find(|i| s.is_char_boundary(*i))
        .unwrap_or(0);
    format!("{}… ({} chars)", &s[..cut], s.len())
}

fn hex(b: &[u8]) -> String {
    if b.is_empty() {
        return "(empty)".into();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Bytes shown in hex around a position: up to 8 bytes before `at` and 24
/// from it, with `…` where bytes are left out, and the length.
fn hex_window(b: &[u8], at: usize) -> String {
    if b.is_empty() {
        return "(empty)".into();
    }
    let start = at.saturating_sub(8).min(b.len());
    let end = (at + 24).min(b.len());
    let mut s = String::new();
    if start > 0 {
        s.push('…');
    }
    s.push_str(&hex(&b[start..end]));
    if end < b.len() {
        s.push('…');
    }
    format!("{s} ({} bytes)", b.len())
}

/// Where two byte strings or lists first differ (the shorter one's length
/// if one is a prefix of the other).
fn first_difference<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()))
}

/// A byte field of two receipts, each shown around their first difference.
fn bytes_mismatch(claimed: &[u8], actual: &[u8]) -> (String, String) {
    let at = first_difference(claimed, actual);
    (
        format!(
            "{} (first difference at byte {at:#x})",
            hex_window(claimed, at)
        ),
        hex_window(actual, at),
    )
}

/// The byte parts of one entry of a receipt list, by name; `None` for an
/// absent value.
type Parts<'a> = Vec<(&'static str, Option<&'a [u8]>)>;

fn read_parts(e: &verity_host_abi::ReadEntry) -> Parts<'_> {
    vec![("key", Some(&e.key)), ("value", e.value.as_deref())]
}

fn write_parts(e: &verity_host_abi::WriteEntry) -> Parts<'_> {
    vec![("key", Some(&e.key)), ("value", e.value.as_deref())]
}

fn event_parts(e: &verity_host_abi::Event) -> Parts<'_> {
    vec![
        ("contract", Some(&e.contract.0)),
        ("topic", Some(&e.topic)),
        ("data", Some(&e.data)),
    ]
}

/// Two call trees: the first call that differs, in full.
fn calls_mismatch(
    claimed: &[verity_host_abi::CallEntry],
    actual: &[verity_host_abi::CallEntry],
) -> (String, String) {
    let i = first_difference(claimed, actual);
    let show = |list: &[verity_host_abi::CallEntry]| match list.get(i) {
        None => format!("{} calls, no call {i}", list.len()),
        Some(c) => format!(
            "{} calls, call {i}: depth {} {} -> {} {:?} {} fuel {}",
            list.len(),
            c.depth,
            c.caller,
            c.callee,
            c.entry,
            c.status,
            c.fuel_used
        ),
    };
    (show(claimed), show(actual))
}

/// A list field of two receipts: the first entry that differs, each part
/// in hex around the first differing byte.
fn list_mismatch<T: PartialEq>(
    claimed: &[T],
    actual: &[T],
    parts: impl for<'a> Fn(&'a T) -> Parts<'a>,
) -> (String, String) {
    let i = first_difference(claimed, actual);
    // The part and byte where the entries first differ.
    let mut at: Option<(&'static str, usize)> = None;
    if let (Some(a), Some(b)) = (claimed.get(i), actual.get(i)) {
        for ((name, x), (_, y)) in parts(a).into_iter().zip(parts(b)) {
            if x != y {
                let offset = match (x, y) {
                    (Some(x), Some(y)) => first_difference(x, y),
                    _ => 0,
                };
                at = Some((name, offset));
                break;
            }
        }
    }
    let show = |list: &[T]| -> String {
        let head = format!("{} entries", list.len());
        let Some(entry) = list.get(i) else {
            return format!("{head}, no entry {i}");
        };
        let body: Vec<String> = parts(entry)
            .into_iter()
            .map(|(name, bytes)| {
                let offset = match at {
                    Some((n, o)) if n == name => o,
                    _ => 0,
                };
                match bytes {
                    Some(b) => format!("{name} {}", hex_window(b, offset)),
                    None => format!("{name} absent"),
                }
            })
            .collect();
        format!("{head}, entry {i}: {}", body.join(", "))
    };
    let mut claimed_text = show(claimed);
    if let Some((name, offset)) = at {
        claimed_text.push_str(&format!(" (first difference: {name} byte {offset:#x})"));
    }
    (claimed_text, show(actual))
}

/// Every field of `claimed` that differs from `actual`.
///
/// Byte fields and lists are shown around their first difference, in hex:
/// for a list, the first entry that differs and the offset of the first
/// differing byte in it.
pub fn diff(claimed: &Receipt, actual: &Receipt) -> Vec<FieldMismatch> {
    // Walks the receipt's one field table; fields are formatted only when
    // they differ, so verifying a matching receipt formats nothing.
    claimed
        .fields()
        .into_iter()
        .zip(actual.fields())
        .filter(|((_, c), (_, a))| c != a)
        .map(|((field, c), (_, a))| {
            let (claimed, actual) = mismatch(c, a);
            FieldMismatch {
                field,
                claimed,
                actual,
            }
        })
        .collect()
}

/// Two differing values of one field, each as text.
fn mismatch(claimed: FieldValue<'_>, actual: FieldValue<'_>) -> (String, String) {
    use FieldValue as F;
    let one = |v: FieldValue<'_>| -> String {
        match v {
            F::U32(n) => n.to_string(),
            F::U64(n) => n.to_string(),
            F::Hash(h) => h.to_hex(),
            F::Contract(c) => c.to_string(),
            F::Text(t) => format!("{t:?}"),
            F::Action(a) => format!("{a:?}"),
            F::Status(s) => s.to_string(),
            F::Bytes(b) => hex_window(b, 0),
            F::Auth(a) => match a {
                verity_host_abi::auth::Auth::Signed(s) => format!(
                    "{} (signature {})",
                    verity_host_abi::auth::describe(a),
                    hex_window(&s.signature, 0)
                ),
                _ => verity_host_abi::auth::describe(a),
            },
            F::Reads(_) | F::Writes(_) | F::Events(_) | F::Calls(_) => String::new(),
        }
    };
    // Bytes and lists are shown around their first difference already;
    // scalars are cut to a line.
    match (claimed, actual) {
        (F::Bytes(c), F::Bytes(a)) => bytes_mismatch(c, a),
        (F::Reads(c), F::Reads(a)) => list_mismatch(c, a, read_parts),
        (F::Writes(c), F::Writes(a)) => list_mismatch(c, a, write_parts),
        (F::Events(c), F::Events(a)) => list_mismatch(c, a, event_parts),
        (F::Calls(c), F::Calls(a)) => calls_mismatch(c, a),
        (c, a) => (short(one(c)), short(one(a))),
    }
}

impl Runtime {
    /// Re-executes `receipt`'s transaction on `code` with the receipt's read
    /// set as the only state, and checks that it reproduces the receipt
    /// exactly.
    ///
    /// ```
    /// use verity_runtime::{MemoryState, Profile, Runtime, Transaction};
    ///
    /// let runtime = Runtime::new(Profile::default())?;
    /// let wasm = wat::parse_str(r#"(module (func (export "run")))"#)?;
    /// let mut receipt = runtime.execute(&wasm, &Transaction::new("run"), &MemoryState::default())?;
    /// runtime.verify(&wasm, &receipt)?;
    /// receipt.fuel_used += 1;
    /// assert!(runtime.verify(&wasm, &receipt).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify(&self, code: &[u8], receipt: &Receipt) -> Result<(), VerifyError> {
        self.verify_receipt(receipt, Some(code), None).map(drop)
    }

    /// Verifies `receipt`, and with a `witness` its state transition too,
    /// with no state database:
    ///
    /// 1. with a witness, every read is checked against the receipt's
    ///    `pre_state_root` and the post-state root is recomputed from the
    ///    proof and the write set ([`check_receipt_transition`]): a read
    ///    the pre-state does not hold fails naming its key;
    /// 2. the transaction is re-executed against the receipt's read set and
    ///    must reproduce the receipt byte for byte.
    ///
    /// `code` is the module the receipt ran. It may be left out for a
    /// deploy (the code is in its write set) and for a call of an address
    /// where no contract was; otherwise its absence is
    /// [`VerifyError::MissingCode`], naming the code hash.
    ///
    /// ```
    /// use verity_runtime::{Hash32, MemoryState, Profile, Runtime, Transaction};
    ///
    /// let runtime = Runtime::new(Profile::default())?;
    /// let wasm = wat::parse_str(r#"(module
    ///   (import "verity" "storage_write" (func $w (param i32 i32 i32 i32)))
    ///   (memory (export "memory") 1)
    ///   (data (i32.const 0) "keyvalue")
    ///   (func (export "run") (call $w (i32.const 0) (i32.const 3) (i32.const 3) (i32.const 5))))"#)?;
    /// let mut state = MemoryState::default();
    /// let receipt = runtime.execute(&wasm, &Transaction::new("run"), &state)?;
    /// let witness = state.commit(&receipt)?.witness;
    /// let checked = runtime.verify_receipt(&receipt, Some(&wasm), Some(&witness))?;
    /// assert!(checked.state_authenticated);
    /// // A receipt claiming another post-state root fails.
    /// let mut lie = receipt.clone();
    /// lie.post_state_root = Hash32([1; 32]);
    /// assert!(runtime.verify_receipt(&lie, Some(&wasm), Some(&witness)).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify_receipt(
        &self,
        receipt: &Receipt,
        code: Option<&[u8]>,
        witness: Option<&[u8]>,
    ) -> Result<Verified, VerifyError> {
        self.verify_tree(receipt, code, &[], witness)
    }

    /// [`Runtime::verify_receipt`] for a transaction whose contracts call
    /// contracts: `callees` holds the code of every contract its call tree
    /// ran (in any order; each is found by its hash, which the callee's
    /// record in the read set names, so code that is not the callee's is
    /// never used). A callee's code missing is [`VerifyError::MissingCode`]
    /// naming its hash.
    ///
    /// ```
    /// use verity_runtime::{Hash32, MemoryState, Profile, Runtime, Transaction};
    ///
    /// let runtime = Runtime::new(Profile::default())?;
    /// let callee = wat::parse_str(r#"(module (func (export "hi")))"#)?;
    /// let caller = wat::parse_str(r#"(module
    ///   (import "verity" "input_read" (func $in (param i32)))
    ///   (import "verity" "call" (func $call (param i32 i32 i32 i32 i32 i64) (result i32)))
    ///   (memory (export "memory") 1)
    ///   (data (i32.const 40) "hi")
    ///   (func (export "run") (call $in (i32.const 0))
    ///     (drop (call $call (i32.const 0) (i32.const 40) (i32.const 2) (i32.const 0) (i32.const 0) (i64.const 0)))))"#)?;
    /// let mut state = MemoryState::default();
    /// let deploy = Transaction::deploy(Hash32::of(b"salt"));
    /// let deployed = runtime.execute(&callee, &deploy, &state)?;
    /// state.commit(&deployed)?;
    /// let tx = Transaction::new("run").with_input(deployed.contract.0.to_vec());
    /// let receipt = runtime.execute(&caller, &tx, &state)?;
    /// assert_eq!(receipt.calls.len(), 1);
    /// let witness = state.commit(&receipt)?.witness;
    /// // A verifier elsewhere, with nothing cached: it needs the callee's code.
    /// let verifier = Runtime::new(Profile::default())?;
    /// assert!(verifier.verify_tree(&receipt, Some(&caller), &[], None).is_err());
    /// verifier.verify_tree(&receipt, Some(&caller), &[&callee], Some(&witness))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify_tree(
        &self,
        receipt: &Receipt,
        code: Option<&[u8]>,
        callees: &[&[u8]],
        witness: Option<&[u8]>,
    ) -> Result<Verified, VerifyError> {
        self.check_profile(receipt)?;
        // A signed receipt's sender is checked before anything runs: its
        // key's address, and the signature over the transaction hash.
        if let (verity_host_abi::auth::Auth::Signed(s), false) = (
            &receipt.auth,
            matches!(receipt.status, verity_host_abi::Status::Rejected { .. }),
        ) {
            use verity_host_abi::auth::AuthRejection;
            s.sender_of(&receipt.sender)
                .map_err(VerifyError::Unauthorized)?;
            let hash = receipt
                .tx_hash()
                .ok_or(VerifyError::Unauthorized(AuthRejection::BadKey))?;
            verity_host_core::verify_tx_signature(s.scheme, &s.public_key, &hash.0, &s.signature)
                .map_err(VerifyError::Unauthorized)?;
        }
        // A deploy's code is in its write set. A call refused before its
        // contract was resolved (at the transaction's limits) names no code
        // and runs none: code given for it is not needed.
        let unresolved_call =
            receipt.action == Action::Call && receipt.code_hash == Hash32::default();
        let code = match (code, &receipt.action) {
            (Some(_), _) if unresolved_call => None,
            (Some(code), _) => Some(code),
            (None, Action::Deploy { .. } | Action::Upload) => receipt
                .writes
                .iter()
                .find(|w| w.key[..] == code_key(&receipt.code_hash)[..])
                .and_then(|w| w.value.as_deref()),
            (None, _) => None,
        };
        let source = match code {
            Some(code) => {
                let hash = self.code_hash(code);
                if hash != receipt.code_hash {
                    return Err(VerifyError::CodeMismatch {
                        receipt: receipt.code_hash,
                        module: hash,
                    });
                }
                CodeSource::Bytes { code, hash }
            }
            // A call of an address with no contract runs no code.
            None if unresolved_call => CodeSource::State,
            None => {
                return Err(VerifyError::MissingCode {
                    code_hash: receipt.code_hash,
                });
            }
        };
        if let Some(witness) = witness {
            check_receipt_transition(receipt, witness)?;
        }
        let state = WithCode {
            reads: WitnessState::from_receipt(receipt),
            code: callees
                .iter()
                .map(|c| (code_key(&Hash32::of(c)), *c))
                .collect(),
        };
        let actual = self.receipt_of(source, &replay(receipt), &state);
        compare(receipt, actual)?;
        Ok(Verified {
            state_authenticated: witness.is_some(),
        })
    }

    /// [`Runtime::verify`] for a module this runtime prepared: no hashing of
    /// the module, no cache lookup. A verifier checking many receipts of one
    /// contract, on as many threads as it has cores, uses this.
    ///
    /// ```
    /// use verity_runtime::{MemoryState, Profile, Runtime, Transaction};
    ///
    /// let runtime = Runtime::new(Profile::default())?;
    /// let wasm = wat::parse_str(r#"(module (func (export "run")))"#)?;
    /// let module = runtime.prepare(&wasm)?;
    /// let receipt = runtime.execute_prepared(&module, &Transaction::new("run"), &MemoryState::default())?;
    /// runtime.verify_prepared(&module, &receipt)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify_prepared(
        &self,
        module: &PreparedModule,
        receipt: &Receipt,
    ) -> Result<(), VerifyError> {
        self.check_profile(receipt)?;
        if module.code_hash() != receipt.code_hash {
            return Err(VerifyError::CodeMismatch {
                receipt: receipt.code_hash,
                module: module.code_hash(),
            });
        }
        let witness = WitnessState::from_receipt(receipt);
        let actual = self.execute_prepared(module, &replay(receipt), &witness);
        compare(receipt, actual)
    }

    /// [`Runtime::verify_prepared`] for many receipts at once, on up to
    /// `threads` threads (each receipt verifies independently). Returns one
    /// result per item, in the items' order: the outcome does not depend
    /// on `threads`, only the time does.
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use verity_runtime::{MemoryState, Profile, Runtime, Transaction};
    ///
    /// let runtime = Runtime::new(Profile::default())?;
    /// let wasm = wat::parse_str(r#"(module (func (export "run")))"#)?;
    /// let module = runtime.prepare(&wasm)?;
    /// let good = runtime.execute_prepared(&module, &Transaction::new("run"), &MemoryState::default())?;
    /// let mut bad = good.clone();
    /// bad.fuel_used += 1;
    /// let cores = std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN);
    /// let results = runtime.verify_batch(&[(&*module, &good), (&*module, &bad)], cores);
    /// assert!(results[0].is_ok() && results[1].is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify_batch(
        &self,
        items: &[(&PreparedModule, &Receipt)],
        threads: NonZeroUsize,
    ) -> Vec<Result<(), VerifyError>> {
        let threads = threads.get().min(items.len());
        if threads <= 1 {
            return items
                .iter()
                .map(|(module, receipt)| self.verify_prepared(module, receipt))
                .collect();
        }
        // Threads take the next unclaimed item, so a slow receipt does not
        // hold up a fixed share of the batch.
        let next = AtomicUsize::new(0);
        let worker = || {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((module, receipt)) = items.get(i) else {
                    return done;
                };
                done.push((i, self.verify_prepared(module, receipt)));
            }
        };
        let mut slots: Vec<Option<Result<(), VerifyError>>> =
            std::iter::repeat_with(|| None).take(items.len()).collect();
        std::thread::scope(|scope| {
            let handles: Vec<_> = (1..threads).map(|_| scope.spawn(worker)).collect();
            let mine = worker();
            for part in handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .chain([mine])
            {
                for (i, result) in part {
                    slots[i] = Some(result);
                }
            }
        });
        slots
            .into_iter()
            .map(|r| r.expect("every item was claimed by exactly one thread"))
            .collect()
    }

    fn check_profile(&self, receipt: &Receipt) -> Result<(), VerifyError> {
        if receipt.profile_hash != self.profile_hash() {
            return Err(VerifyError::ProfileMismatch {
                receipt: receipt.profile_hash,
                runtime: self.profile_hash(),
            });
        }
        Ok(())
    }
}

/// The transaction a receipt records.
fn replay(receipt: &Receipt) -> Transaction {
    Transaction {
        target: match receipt.action {
            Action::Run => Target::Run,
            Action::Deploy { salt } => Target::Deploy { salt },
            Action::Upload => Target::Upload,
            Action::Call => Target::Call {
                contract: receipt.contract,
            },
        },
        entry: receipt.entry.clone(),
        input: receipt.input.clone(),
        sender: receipt.sender.clone(),
        context: receipt.context.clone(),
        chain: crate::ChainContext {
            height: receipt.height,
            time: receipt.time,
            chain_id: receipt.chain_id.clone(),
        },
        fuel_limit: receipt.fuel_limit,
        auth: receipt.auth.clone(),
    }
}

/// Compares a claimed receipt with the result of re-executing it.
/// The state a call tree is re-executed against: the receipt's read set
/// and roots, and the callees' code by its key. Code is read unrecorded:
/// the callee's record (a recorded read) names the hash, and the runtime
/// checks the code against it.
struct WithCode<'a> {
    reads: WitnessState,
    code: std::collections::BTreeMap<[u8; 33], &'a [u8]>,
}

impl StateView for WithCode<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        if let Some(code) = <&[u8; 33]>::try_from(key)
            .ok()
            .and_then(|k| self.code.get(k))
        {
            return Ok(Some(code.to_vec()));
        }
        self.reads.get(key)
    }
}

impl StateBackend for WithCode<'_> {
    fn roots(&self, writes: &[verity_host_abi::WriteEntry]) -> Result<StateRoots, StateError> {
        self.reads.roots(writes)
    }
}

fn compare(claimed: &Receipt, actual: Result<Receipt, RuntimeError>) -> Result<(), VerifyError> {
    let actual = actual.map_err(|e| match e {
        // A callee's code that was not given.
        RuntimeError::State(StateError::NotInWitness(key))
            if key.len() == 33 && key[0] == verity_host_abi::contract::CODE_KIND =>
        {
            let mut hash = [0u8; 32];
            hash.copy_from_slice(&key[1..]);
            VerifyError::MissingCode {
                code_hash: Hash32(hash),
            }
        }
        RuntimeError::State(StateError::NotInWitness(key)) => {
            VerifyError::ReadOutsideWitness { key }
        }
        // The state re-executed against is the receipt's read set: what
        // it breaks is the receipt's fault.
        e @ (RuntimeError::WrongCode { .. }
        | RuntimeError::MissingCode { .. }
        | RuntimeError::CorruptState(_)) => VerifyError::InconsistentReads(e),
        other => VerifyError::Runtime(other),
    })?;
    let mismatches = diff(claimed, &actual);
    if mismatches.is_empty() {
        Ok(())
    } else {
        Err(VerifyError::Mismatch(mismatches))
    }
}

#[cfg(test)]
mod diff_tests {
    use super::*;
    use verity_host_abi::{Event, Status, WriteEntry};

    fn receipt() -> Receipt {
        Receipt {
            format_version: 4,
            profile_hash: Hash32::default(),
            action: Action::Run,
            contract: verity_host_abi::ContractId::default(),
            code_hash: Hash32::default(),
            entry: "run".into(),
            sender: vec![],
            auth: Default::default(),
            context: vec![],
            height: 0,
            time: 0,
            chain_id: String::new(),
            input: vec![],
            fuel_limit: 10,
            fuel_used: 3,
            status: Status::Success,
            pre_state_root: Hash32::default(),
            post_state_root: Hash32::default(),
            reads: vec![],
            writes: vec![],
            calls: vec![],
            events: vec![],
            output: vec![],
        }
    }

    #[test]
    fn a_tampered_event_is_shown_at_its_first_differing_byte_in_hex() {
        let mut a = receipt();
        let data: Vec<u8> = (0..200).collect();
        a.events = vec![
            Event {
                contract: verity_host_abi::ContractId([3; 32]),
                topic: b"t".to_vec(),
                data: data.clone(),
            };
            3
        ];
        let mut b = a.clone();
        b.events[2].data[150] ^= 0xff;
        let m = diff(&b, &a);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].field, "events");
        // Entry 2, byte 150 = 0x96, shown in hex around it on both sides.
        assert!(m[0].claimed.contains("entry 2"), "{}", m[0].claimed);
        assert!(m[0].claimed.contains("data byte 0x96"), "{}", m[0].claimed);
        assert!(m[0].claimed.contains("69"), "{}", m[0].claimed); // 0x96 ^ 0xff
        assert!(m[0].actual.contains("96"), "{}", m[0].actual);
        assert!(
            !m[0].claimed.contains(", 1"),
            "decimal bytes: {}",
            m[0].claimed
        );
    }

    #[test]
    fn a_missing_write_names_the_entry_count_and_index() {
        let mut a = receipt();
        a.writes = vec![WriteEntry {
            key: b"k".to_vec(),
            value: Some(b"v".to_vec()),
        }];
        let b = receipt();
        let m = diff(&b, &a);
        assert_eq!(m[0].claimed, "0 entries, no entry 0");
        assert_eq!(
            m[0].actual,
            "1 entries, entry 0: key 6b (1 bytes), value 76 (1 bytes)"
        );
    }

    #[test]
    fn a_long_output_is_shown_where_it_differs() {
        let mut a = receipt();
        a.output = vec![0xab; 4096];
        let mut b = a.clone();
        b.output[3000] = 0;
        let m = diff(&b, &a);
        assert!(
            m[0].claimed.contains("first difference at byte 0xbb8"),
            "{}",
            m[0].claimed
        );
        assert!(m[0].claimed.contains("abab00abab"), "{}", m[0].claimed);
    }
}
