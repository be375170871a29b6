//! Verification: re-execute a receipt's transaction against its own read
//! set and compare the result field by field.

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};

use verity_host_abi::{Hash32, Receipt};

use crate::runtime::{PreparedModule, Runtime, RuntimeError};
use crate::state::{StateError, WitnessState};
use crate::transaction::Transaction;

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
    /// The module given is not the one the receipt names.
    #[error("the module's hash is {module}, but the receipt's code_hash is {receipt}")]
    CodeMismatch {
        /// The receipt's code hash.
        receipt: Hash32,
        /// SHA-256 of the module given.
        module: Hash32,
    },
    /// Re-execution read a key the receipt's read set does not hold.
    #[error("re-execution read key {key} which the receipt's read set does not hold")]
    ReadOutsideWitness {
        /// The key, hex.
        key: String,
    },
    /// Re-execution produced a different receipt.
    #[error("{} field(s) differ: {}", .0.len(), list(.0))]
    Mismatch(Vec<FieldMismatch>),
    /// The host failed while re-executing.
    #[error(transparent)]
    Runtime(RuntimeError),
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

/// Every field of `claimed` that differs from `actual`.
pub fn diff(claimed: &Receipt, actual: &Receipt) -> Vec<FieldMismatch> {
    let mut out = Vec::new();
    // Fields are formatted only when they differ: verifying a matching
    // receipt formats nothing.
    macro_rules! field {
        ($name:ident, $show:expr) => {
            if claimed.$name != actual.$name {
                out.push(FieldMismatch {
                    field: stringify!($name),
                    claimed: short($show(&claimed.$name)),
                    actual: short($show(&actual.$name)),
                });
            }
        };
    }
    let dbg = |v: &dyn fmt::Debug| format!("{v:?}");
    field!(format_version, |v: &u32| v.to_string());
    field!(profile_hash, |v: &Hash32| v.to_hex());
    field!(code_hash, |v: &Hash32| v.to_hex());
    field!(entry, |v: &String| format!("{v:?}"));
    field!(sender, |v: &Vec<u8>| hex(v));
    field!(context, |v: &Vec<u8>| hex(v));
    field!(input, |v: &Vec<u8>| hex(v));
    field!(fuel_limit, |v: &u64| v.to_string());
    field!(fuel_used, |v: &u64| v.to_string());
    field!(status, |v: &verity_host_abi::Status| v.to_string());
    field!(reads, |v: &Vec<_>| dbg(v));
    field!(writes, |v: &Vec<_>| dbg(v));
    field!(events, |v: &Vec<_>| dbg(v));
    field!(output, |v: &Vec<u8>| hex(v));
    out
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
        self.check_profile(receipt)?;
        let module = self.code_hash(code);
        if module != receipt.code_hash {
            return Err(VerifyError::CodeMismatch {
                receipt: receipt.code_hash,
                module,
            });
        }
        let witness = WitnessState::from_receipt(receipt);
        let actual = self.execute_hashed(code, module, &replay(receipt), &witness);
        compare(receipt, actual)
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
        entry: receipt.entry.clone(),
        input: receipt.input.clone(),
        sender: receipt.sender.clone(),
        context: receipt.context.clone(),
        fuel_limit: receipt.fuel_limit,
    }
}

/// Compares a claimed receipt with the result of re-executing it.
fn compare(claimed: &Receipt, actual: Result<Receipt, RuntimeError>) -> Result<(), VerifyError> {
    let actual = actual.map_err(|e| match e {
        RuntimeError::State(StateError::NotInWitness(key)) => {
            VerifyError::ReadOutsideWitness { key: hex(&key) }
        }
        other => VerifyError::Runtime(other),
    })?;
    let mismatches = diff(claimed, &actual);
    if mismatches.is_empty() {
        Ok(())
    } else {
        Err(VerifyError::Mismatch(mismatches))
    }
}
