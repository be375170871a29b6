//! Run a compiled contract in the real Verity runtime from a Rust test.
//!
//! The guest SDK's `testing` module runs contract source natively; this
//! crate runs the `.wasm` it compiles to, through wasmtime with fuel, limits
//! and receipts, exactly as `verity run` does. A [`Harness`] keeps the state
//! between calls (committing a call's writes only when it succeeds) and
//! encodes arguments with the same codec as the SDK (postcard).
//!
//! ```
//! use verity_testkit::Harness;
//!
//! // Any module works; contracts built with verity-sdk are the usual case.
//! let wasm = wat::parse_str(r#"(module
//!   (import "verity" "output_set" (func $out (param i32 i32)))
//!   (memory (export "memory") 1)
//!   (data (i32.const 0) "\2a")
//!   (func (export "answer") (call $out (i32.const 0) (i32.const 1))))"#)?;
//! let mut h = Harness::new(&wasm)?;
//! let call = h.call("answer", &())?;
//! assert!(call.is_success());
//! assert_eq!(call.output::<u8>()?, 42);
//! h.verify(&call)?; // re-execution reproduces the receipt
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

use serde::Serialize;
use serde::de::DeserializeOwned;
pub use verity_runtime::ChainContext;
use verity_runtime::{
    AccountKey, Action, ContractId, Hash32, MemoryState, Profile, Receipt, Runtime, RuntimeError,
    StaleReceipt, Status, Transaction, VerifyError,
};

/// What can go wrong driving a contract (as opposed to the contract's own
/// failures, which are statuses in the receipt).
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The runtime could not be built or could not run the transaction.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// Re-execution did not reproduce the receipt.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// Arguments could not be encoded, or the output is not the requested type.
    #[error("codec: {0}")]
    Codec(#[from] postcard::Error),
    /// The output was asked for but the run did not succeed.
    #[error("the run ended with status {0}, not success")]
    NotSuccess(String),
    /// The receipt was made against another state than the harness holds.
    #[error(transparent)]
    Stale(#[from] StaleReceipt),
}

/// A contract module, a runtime, and the state its calls build up; other
/// contracts deployed into that state ([`Harness::deploy`]) can be called
/// directly ([`Harness::call_at`]) and by each other.
pub struct Harness {
    runtime: Runtime,
    code: Vec<u8>,
    /// Every module deployed through the harness, for verification.
    deployed: Vec<Vec<u8>>,
    state: MemoryState,
    sender: Vec<u8>,
    /// The key that signs the following calls.
    signer: Option<AccountKey>,
    /// The nonces each key signed with, the last one.
    nonces: std::collections::BTreeMap<[u8; 32], u64>,
    context: Vec<u8>,
    chain: ChainContext,
    fuel: u64,
}

/// One call's receipt.
#[derive(Clone, Debug)]
pub struct Call {
    /// The receipt the runtime produced.
    pub receipt: Receipt,
    /// The run's debug log lines, in order (not part of the receipt).
    pub logs: Vec<String>,
    /// The receipt's witness: the proof of every key it read or wrote
    /// against its pre-state root, with which [`Harness::verify`]
    /// authenticates the state transition.
    pub witness: Vec<u8>,
}

impl Call {
    /// Whether the run succeeded.
    pub fn is_success(&self) -> bool {
        self.receipt.status.is_success()
    }

    /// The output decoded as `T` (the SDK encodes return values with
    /// postcard).
    pub fn output<T: DeserializeOwned>(&self) -> Result<T, HarnessError> {
        if !self.is_success() {
            return Err(HarnessError::NotSuccess(self.receipt.status.to_string()));
        }
        Ok(postcard::from_bytes(&self.receipt.output)?)
    }

    /// The revert message, if the run reverted.
    pub fn revert_message(&self) -> Option<&str> {
        match &self.receipt.status {
            Status::Reverted { message } => Some(message),
            _ => None,
        }
    }
}

impl Harness {
    /// A harness for `code` under the default profile, with empty state,
    /// no sender (calls are anonymous until [`set_signer`](Self::set_signer)),
    /// empty context, and the default fuel limit.
    pub fn new(code: &[u8]) -> Result<Harness, HarnessError> {
        Harness::with_profile(code, Profile::default())
    }

    /// A harness under `profile`.
    pub fn with_profile(code: &[u8], profile: Profile) -> Result<Harness, HarnessError> {
        Ok(Harness::with_runtime(code, Runtime::new(profile)?))
    }

    /// A harness on `runtime` (another compiler, a pool of another size).
    pub fn with_runtime(code: &[u8], runtime: Runtime) -> Harness {
        Harness {
            runtime,
            code: code.to_vec(),
            deployed: Vec::new(),
            state: MemoryState::default(),
            sender: Vec::new(),
            signer: None,
            nonces: Default::default(),
            context: Vec::new(),
            chain: ChainContext::default(),
            fuel: Transaction::DEFAULT_FUEL,
        }
    }

    /// Sets the sender of the following calls, asserted, not signed: the
    /// default profile rejects such calls (`auth_unsigned`), so use it under
    /// [`Profile::asserted_senders`] (an embedder that authenticates
    /// senders itself), or sign with [`set_signer`](Self::set_signer).
    ///
    /// ```
    /// use verity_runtime::Profile;
    /// use verity_testkit::Harness;
    ///
    /// let wasm = wat::parse_str(r#"(module (func (export "run")))"#)?;
    /// let mut h = Harness::new(&wasm)?;
    /// h.set_sender(&[7; 32]);
    /// assert_eq!(h.call("run", &())?.receipt.status.name(), "rejected");
    /// let mut h = Harness::with_profile(&wasm, Profile::asserted_senders())?;
    /// h.set_sender(&[7; 32]);
    /// assert!(h.call("run", &())?.is_success());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_sender(&mut self, sender: &[u8]) -> &mut Self {
        self.sender = sender.to_vec();
        self.signer = None;
        self
    }

    /// Signs the following calls with `key`: their sender is its address,
    /// each takes the key's next nonce in this harness (from 1) and is
    /// valid until the chain context's height, as a wallet would sign them.
    ///
    /// ```
    /// use verity_runtime::{AccountKey, Scheme};
    /// use verity_testkit::Harness;
    ///
    /// let wasm = wat::parse_str(r#"(module (func (export "run")))"#)?;
    /// let alice = AccountKey::from_secret(Scheme::Ed25519, &[1; 32]).unwrap();
    /// let mut h = Harness::new(&wasm)?;
    /// h.set_signer(&alice);
    /// let call = h.call("run", &())?;
    /// assert!(call.is_success());
    /// assert_eq!(call.receipt.sender, alice.address());
    /// h.verify(&call)?; // the signature too, with no database
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_signer(&mut self, key: &AccountKey) -> &mut Self {
        self.sender = key.address().to_vec();
        self.signer = Some(key.clone());
        self
    }

    /// Sets the context blob of the following calls.
    pub fn set_context(&mut self, context: &[u8]) -> &mut Self {
        self.context = context.to_vec();
        self
    }

    /// Sets the chain context (height, time, chain id) of the following
    /// calls.
    pub fn set_chain(&mut self, chain: ChainContext) -> &mut Self {
        self.chain = chain;
        self
    }

    /// Sets the fuel limit of the following calls.
    pub fn set_fuel(&mut self, fuel: u64) -> &mut Self {
        self.fuel = fuel;
        self
    }

    /// The committed state.
    pub fn state(&self) -> &MemoryState {
        &self.state
    }

    /// The runtime (for its profile hash, or to run other modules).
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Calls `entry` with `args` (a tuple, postcard-encoded as the SDK's
    /// `#[contract]` entries expect); commits the writes if it succeeds.
    pub fn call(&mut self, entry: &str, args: &impl Serialize) -> Result<Call, HarnessError> {
        let input = postcard::to_allocvec(args)?;
        self.call_raw(entry, &input)
    }

    /// Like [`call`](Self::call) with raw input bytes.
    pub fn call_raw(&mut self, entry: &str, input: &[u8]) -> Result<Call, HarnessError> {
        let code = self.code.clone();
        self.transact(Some(&code), Transaction::new(entry), input)
    }

    /// Deploys `code` as a contract of the sender (its address is the
    /// receipt's `contract`; the salt is the number of deploys before, so
    /// one module can be deployed many times), running `init` with `args`
    /// unless `init` is empty; commits if it succeeds.
    ///
    /// ```
    /// use verity_testkit::Harness;
    ///
    /// let counter = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/wasm/counter.wasm"))?;
    /// let mut h = Harness::new(&counter)?;
    /// let deployed = h.deploy(&counter, "", &())?;
    /// let call = h.call_at(deployed.receipt.contract, "add", &(2u64,))?;
    /// assert!(call.is_success());
    /// h.verify(&call)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn deploy(
        &mut self,
        code: &[u8],
        init: &str,
        args: &impl Serialize,
    ) -> Result<Call, HarnessError> {
        let mut salt = Hash32::default();
        salt.0[..8].copy_from_slice(&(self.deployed.len() as u64).to_be_bytes());
        let input = postcard::to_allocvec(args)?;
        let tx = Transaction::deploy(salt).with_entry(init);
        let call = self.transact(Some(code), tx, &input)?;
        if call.is_success() {
            self.deployed.push(code.to_vec());
        }
        Ok(call)
    }

    /// Calls `entry` of the deployed contract at `contract` with `args`;
    /// commits if it succeeds.
    pub fn call_at(
        &mut self,
        contract: ContractId,
        entry: &str,
        args: &impl Serialize,
    ) -> Result<Call, HarnessError> {
        let input = postcard::to_allocvec(args)?;
        self.transact(None, Transaction::call(contract, entry), &input)
    }

    fn transact(
        &mut self,
        code: Option<&[u8]>,
        tx: Transaction,
        input: &[u8],
    ) -> Result<Call, HarnessError> {
        let tx = tx
            .with_input(input.to_vec())
            .with_sender(self.sender.clone())
            .with_context(self.context.clone())
            .with_height(self.chain.height)
            .with_time(self.chain.time)
            .with_chain_id(self.chain.chain_id.clone())
            .with_fuel(self.fuel);
        let tx = match &self.signer {
            Some(key) => {
                let nonce = self.nonces.entry(key.address()).or_default();
                *nonce += 1;
                self.runtime.sign(tx, key, *nonce, self.chain.height, code)
            }
            None => tx,
        };
        let run = self.runtime.execute_debug(code, &tx, &self.state)?;
        let witness = self.state.commit(&run.receipt)?.witness;
        Ok(Call {
            receipt: run.receipt,
            logs: run.logs,
            witness,
        })
    }

    /// Re-executes `call` from its receipt, its witness and the code of
    /// every contract it ran (which the harness knows), checking it byte
    /// for byte and its state transition against the receipt's roots.
    pub fn verify(&self, call: &Call) -> Result<(), HarnessError> {
        let receipt = &call.receipt;
        let known: Vec<&[u8]> = std::iter::once(&self.code)
            .chain(&self.deployed)
            .map(Vec::as_slice)
            .collect();
        let code = match receipt.action {
            Action::Deploy { .. } | Action::Upload => None,
            _ => known
                .iter()
                .copied()
                .find(|c| Hash32::of(c) == receipt.code_hash),
        };
        let verified = self
            .runtime
            .verify_tree(receipt, code, &known, Some(&call.witness))?;
        debug_assert!(verified.state_authenticated);
        Ok(())
    }
}
