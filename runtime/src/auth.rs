//! Admitting a transaction by its sender's authorization (docs/auth.md):
//! the checks a signed transaction passes before anything of it runs, in
//! order and charged from the cost table, and the nonce it consumes.

use verity_host_abi::auth::{Auth, AuthRejection, Signed, TxBody, network_id, signed_target};
use verity_host_abi::{Action, ContractId, Hash32};

use crate::error::RuntimeError;
use crate::host::RunHost;
use crate::transaction::{Target, Transaction};

/// An admitted transaction: the fuel its checks took, and for a signed one
/// the nonce key and value it writes whatever its run does.
#[derive(Default)]
pub(crate) struct Admission {
    pub(crate) fuel: u64,
    pub(crate) nonce: Option<(Vec<u8>, Vec<u8>)>,
}

/// The body `tx` signs, sent by `sender` with `signed`'s key, nonce and
/// validity, for `profile_hash` and (a run, deploy or upload) the code
/// `code_hash`.
pub(crate) fn body<'a>(
    tx: &'a Transaction,
    signed: &'a Signed,
    sender: [u8; 32],
    profile_hash: Hash32,
    code_hash: Hash32,
) -> TxBody<'a> {
    let (action, contract) = match tx.target {
        Target::Run => (Action::Run, ContractId::default()),
        Target::Deploy { salt } => (Action::Deploy { salt }, ContractId::default()),
        Target::Upload => (Action::Upload, ContractId::default()),
        Target::Call { contract } => (Action::Call, contract),
    };
    let (contract, code_hash) = signed_target(&action, contract, code_hash);
    TxBody {
        network: network_id(&tx.chain.chain_id),
        profile_hash,
        sender,
        scheme: signed.scheme,
        public_key: &signed.public_key,
        nonce: signed.nonce,
        valid_until: signed.valid_until,
        fuel_limit: tx.fuel_limit,
        action,
        contract,
        code_hash,
        entry: &tx.entry,
        input: &tx.input,
    }
}

impl crate::Runtime {
    /// Admits `tx` or says why not, in this order: an unsigned one with a
    /// sender by the profile (an anonymous one always); a signed one by its fuel (the checks must be paid for),
    /// key, sender, validity, signature and nonce. The nonce key's read is
    /// a recorded read of `host` (its absence is proven by the witness).
    pub(crate) fn admit(
        &self,
        tx: &Transaction,
        code_hash: Hash32,
        host: &mut RunHost,
    ) -> Result<Result<Admission, AuthRejection>, RuntimeError> {
        let limits = &self.profile.limits;
        let signed = match &tx.auth {
            // An empty sender claims nobody: `require_auth` passes for no
            // address at the transaction's own frame.
            Auth::Asserted if limits.admit_asserted == 0 && !tx.sender.is_empty() => {
                return Ok(Err(AuthRejection::Unsigned));
            }
            Auth::Asserted => return Ok(Ok(Admission::default())),
            Auth::Signed(signed) => signed,
        };
        let fuel = verity_host_core::admission_fuel(&self.profile.costs, signed.scheme);
        if fuel > tx.fuel_limit {
            return Ok(Err(AuthRejection::FuelTooLow));
        }
        let address = match signed.sender_of(&tx.sender) {
            Ok(address) => address,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let height = tx.chain.height;
        if signed.valid_until < height {
            return Ok(Err(AuthRejection::Expired));
        }
        if signed.valid_until - height > limits.max_validity_blocks {
            return Ok(Err(AuthRejection::TooFarAhead));
        }
        let hash = body(tx, signed, address, self.profile_hash, code_hash).hash();
        if let Err(e) = verity_host_core::verify_tx_signature(
            signed.scheme,
            &signed.public_key,
            &hash.0,
            &signed.signature,
        ) {
            return Ok(Err(e));
        }
        let (key, entry) = signed.nonce_entry(&address);
        let used = host.system_read(&key)?;
        // A nonce is taken while the transaction that took it is valid;
        // after that its envelope is expired, and the nonce is free again.
        if let Some(value) = used {
            let until = <[u8; 8]>::try_from(value.as_slice())
                .map(u64::from_le_bytes)
                .map_err(|_| RuntimeError::CorruptState(format!("nonce entry {key:02x?}")))?;
            if until >= height {
                return Ok(Err(AuthRejection::NonceUsed));
            }
        }
        Ok(Ok(Admission {
            fuel,
            nonce: Some((key.to_vec(), entry.to_vec())),
        }))
    }
}

impl crate::Runtime {
    /// `tx` signed by `key` with `nonce`, valid until height
    /// `valid_until`, for this runtime's profile: its sender becomes the
    /// key's address. A run, deploy or upload signs the hash of the code it
    /// brings, `code` (`None` for a call). Change nothing of the result but
    /// the chain context's time and context blob, or the signature no
    /// longer verifies.
    ///
    /// ```
    /// use verity_runtime::{AccountKey, MemoryState, Profile, Runtime, Scheme, Transaction};
    ///
    /// let runtime = Runtime::new(Profile::default())?;
    /// let wasm = wat::parse_str(r#"(module (func (export "run")))"#)?;
    /// let key = AccountKey::from_secret(Scheme::Ed25519, &[1; 32]).unwrap();
    /// let tx = runtime.sign(Transaction::new("run").with_height(5), &key, 1, 10, Some(&wasm));
    /// let receipt = runtime.execute(&wasm, &tx, &MemoryState::default())?;
    /// assert!(receipt.status.is_success());
    /// assert_eq!(receipt.sender, key.address());
    /// assert!(receipt.tx_hash().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sign(
        &self,
        tx: Transaction,
        key: &verity_host_core::AccountKey,
        nonce: u64,
        valid_until: u64,
        code: Option<&[u8]>,
    ) -> Transaction {
        let code_hash = code.map(Hash32::of).unwrap_or_default();
        let mut signed = Signed {
            scheme: key.scheme(),
            public_key: key.public_key(),
            nonce,
            valid_until,
            signature: Vec::new(),
        };
        let address = key.address();
        let mut tx = tx.with_sender(address.to_vec());
        let hash = body(&tx, &signed, address, self.profile_hash(), code_hash).hash();
        signed.signature = key.sign(&hash.0).to_vec();
        tx.auth = Auth::Signed(signed);
        tx
    }
}
