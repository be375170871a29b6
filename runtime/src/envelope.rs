//! Transaction envelopes (docs/auth.md, "Envelopes"): a signed
//! transaction as one canonical byte string, for a signer that is not the
//! submitter (a hardware key, openssl, a wallet on another machine) and
//! for nodes that receive transactions from others.
//!
//! An envelope is the chain id, the body a sender signs
//! ([`TxBody`](verity_host_abi::auth::TxBody)) and the signature, which is
//! empty until the envelope is signed:
//!
//! | field | encoding |
//! |---|---|
//! | magic | `verity.envelope.v1\0` |
//! | chain id | u32le length, UTF-8 (its hash is the body's network) |
//! | body | the signed body, byte for byte |
//! | signature | u32le length (0 unsigned, or 64), bytes |
//!
//! Decoding accepts exactly the bytes [`Envelope::encode`] gives: every
//! length is checked, every tag known, the key has its scheme's size, the
//! sender is the key's address, a call names no code and anything else no
//! contract, and nothing follows.

use verity_host_abi::auth::{
    Auth, AuthRejection, SIGNATURE_BYTES, Scheme, Signed, TxBody, account_address, network_id,
    signed_target,
};
use verity_host_abi::{Action, ContractId, Hash32};

use crate::transaction::{Target, Transaction};

/// The magic bytes an envelope starts with.
pub const ENVELOPE_MAGIC: &[u8] = b"verity.envelope.v1\0";

/// A transaction as a signer signs it and a node receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// The chain id the transaction is for (its hash is the signed
    /// network).
    pub chain_id: String,
    /// The profile the transaction is for.
    pub profile_hash: Hash32,
    /// The signing key's scheme.
    pub scheme: Scheme,
    /// The signing key; the sender is its address.
    pub public_key: Vec<u8>,
    /// The nonce.
    pub nonce: u64,
    /// The last height the transaction may run at.
    pub valid_until: u64,
    /// The fuel limit.
    pub fuel_limit: u64,
    /// Run, deploy (with its salt), call or upload.
    pub action: Action,
    /// The called contract (zero unless a call).
    pub contract: ContractId,
    /// The code a run, deploy or upload brings (zero for a call).
    pub code_hash: Hash32,
    /// The entry.
    pub entry: String,
    /// The input.
    pub input: Vec<u8>,
    /// The signature over [`tx_hash`](Self::tx_hash): empty until signed.
    pub signature: Vec<u8>,
}

/// Why bytes are not an envelope.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// The bytes end before the field.
    #[error("the envelope ends inside its {0}")]
    Truncated(&'static str),
    /// Bytes follow the signature.
    #[error("{0} bytes follow the envelope's signature")]
    Trailing(usize),
    /// The field's value is not one an envelope can hold.
    #[error("the envelope's {0} is not valid")]
    Invalid(&'static str),
    /// The body's network is not the hash of the chain id.
    #[error("the envelope's body is signed for another network than its chain id `{0}`")]
    Network(String),
    /// The body's sender is not the key's address.
    #[error("the envelope's sender is not the address of its key")]
    Sender,
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], EnvelopeError> {
        if self.0.len() < n {
            return Err(EnvelopeError::Truncated(what));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], EnvelopeError> {
        Ok(self.take(N, what)?.try_into().expect("N bytes"))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, EnvelopeError> {
        self.array(what).map(u64::from_le_bytes)
    }

    fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], EnvelopeError> {
        let len = u32::from_le_bytes(self.array(what)?) as usize;
        self.take(len, what)
    }

    fn string(&mut self, what: &'static str) -> Result<String, EnvelopeError> {
        let b = self.bytes(what)?;
        std::str::from_utf8(b)
            .map(str::to_string)
            .map_err(|_| EnvelopeError::Invalid(what))
    }
}

impl Envelope {
    /// The sender: the address of the key.
    pub fn sender(&self) -> [u8; 32] {
        account_address(self.scheme, &self.public_key)
    }

    /// The body the sender signs.
    pub fn body(&self) -> TxBody<'_> {
        TxBody {
            network: network_id(&self.chain_id),
            profile_hash: self.profile_hash,
            sender: self.sender(),
            scheme: self.scheme,
            public_key: &self.public_key,
            nonce: self.nonce,
            valid_until: self.valid_until,
            fuel_limit: self.fuel_limit,
            action: self.action,
            contract: self.contract,
            code_hash: self.code_hash,
            entry: &self.entry,
            input: &self.input,
        }
    }

    /// The transaction hash, which the signature signs.
    pub fn tx_hash(&self) -> Hash32 {
        self.body().hash()
    }

    /// Sets the signature after checking it: a signature that does not
    /// verify for this envelope's key is refused, and the envelope keeps
    /// the one it had.
    pub fn attach(&mut self, signature: &[u8]) -> Result<(), AuthRejection> {
        verity_host_core::verify_tx_signature(
            self.scheme,
            &self.public_key,
            &self.tx_hash().0,
            signature,
        )?;
        self.signature = signature.to_vec();
        Ok(())
    }

    /// The transaction it carries, to run with the chain context's height
    /// and time and a context blob the submitter gives. Its sender is the
    /// key's address and its authorization the envelope's signature (empty
    /// if unsigned, which admission refuses).
    pub fn transaction(&self) -> Transaction {
        let target = match self.action {
            Action::Run => Target::Run,
            Action::Deploy { salt } => Target::Deploy { salt },
            Action::Upload => Target::Upload,
            Action::Call => Target::Call {
                contract: self.contract,
            },
        };
        let mut tx = Transaction::new(self.entry.clone())
            .with_input(self.input.clone())
            .with_sender(self.sender().to_vec())
            .with_chain_id(self.chain_id.clone())
            .with_fuel(self.fuel_limit);
        tx.target = target;
        tx.auth = Auth::Signed(Signed {
            scheme: self.scheme,
            public_key: self.public_key.clone(),
            nonce: self.nonce,
            valid_until: self.valid_until,
            signature: self.signature.clone(),
        });
        tx
    }

    /// The envelope's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let body = self.body().encode();
        let mut out = Vec::with_capacity(
            ENVELOPE_MAGIC.len() + 8 + self.chain_id.len() + body.len() + self.signature.len(),
        );
        out.extend_from_slice(ENVELOPE_MAGIC);
        out.extend_from_slice(&(self.chain_id.len() as u32).to_le_bytes());
        out.extend_from_slice(self.chain_id.as_bytes());
        out.extend_from_slice(&body);
        out.extend_from_slice(&(self.signature.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.signature);
        out
    }

    /// Decodes the bytes [`encode`](Self::encode) gives, and no others.
    ///
    /// ```
    /// use verity_runtime::{AccountKey, ContractId, Envelope, Profile, Runtime, Scheme, Transaction};
    ///
    /// let runtime = Runtime::new(Profile::default())?;
    /// let key = AccountKey::from_secret(Scheme::Ed25519, &[3; 32]).unwrap();
    /// let tx = Transaction::call(ContractId([7; 32]), "transfer").with_chain_id("test-1");
    /// let mut envelope = runtime.envelope(&tx, key.scheme(), &key.public_key(), 1, 10, None);
    /// envelope.attach(&key.sign(&envelope.tx_hash().0)).expect("its own key signs");
    /// let bytes = envelope.encode();
    /// assert_eq!(Envelope::decode(&bytes)?, envelope);
    /// assert!(Envelope::decode(&[bytes.as_slice(), &[0]].concat()).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn decode(bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
        let mut r = Reader(bytes);
        if r.take(ENVELOPE_MAGIC.len(), "magic")? != ENVELOPE_MAGIC {
            return Err(EnvelopeError::Invalid("magic"));
        }
        let chain_id = r.string("chain id")?;
        let network = Hash32(r.array("network")?);
        if network != network_id(&chain_id) {
            return Err(EnvelopeError::Network(chain_id));
        }
        let profile_hash = Hash32(r.array("profile hash")?);
        let sender: [u8; 32] = r.array("sender")?;
        let [tag] = r.array("scheme")?;
        let scheme = Scheme::from_tag(tag).ok_or(EnvelopeError::Invalid("scheme"))?;
        let public_key = r.bytes("public key")?.to_vec();
        if public_key.len() != scheme.key_bytes() {
            return Err(EnvelopeError::Invalid("public key"));
        }
        if sender != account_address(scheme, &public_key) {
            return Err(EnvelopeError::Sender);
        }
        let nonce = r.u64("nonce")?;
        let valid_until = r.u64("valid until")?;
        let fuel_limit = r.u64("fuel limit")?;
        let [tag] = r.array("action")?;
        let action = match tag {
            0 => Action::Run,
            1 => Action::Deploy {
                salt: Hash32(r.array("salt")?),
            },
            2 => Action::Call,
            3 => Action::Upload,
            _ => return Err(EnvelopeError::Invalid("action")),
        };
        let contract = ContractId(r.array("contract")?);
        let code_hash = Hash32(r.array("code hash")?);
        if signed_target(&action, contract, code_hash) != (contract, code_hash) {
            return Err(EnvelopeError::Invalid(
                "target (a call names no code, the rest no contract)",
            ));
        }
        let entry = r.string("entry")?;
        let input = r.bytes("input")?.to_vec();
        let signature = r.bytes("signature")?.to_vec();
        if !(signature.is_empty() || signature.len() == SIGNATURE_BYTES) {
            return Err(EnvelopeError::Invalid("signature"));
        }
        if !r.0.is_empty() {
            return Err(EnvelopeError::Trailing(r.0.len()));
        }
        let envelope = Envelope {
            chain_id,
            profile_hash,
            scheme,
            public_key,
            nonce,
            valid_until,
            fuel_limit,
            action,
            contract,
            code_hash,
            entry,
            input,
            signature,
        };
        debug_assert_eq!(envelope.encode(), bytes, "one encoding per envelope");
        Ok(envelope)
    }
}

impl crate::Runtime {
    /// The unsigned envelope of `tx`, for this runtime's profile, to be
    /// signed by the key `public_key` of `scheme` with `nonce`, valid until
    /// height `valid_until`. A run, deploy or upload names the hash of the
    /// code it brings, `code` (`None` for a call). `tx`'s sender and
    /// authorization are not used: the key's address is the sender.
    pub fn envelope(
        &self,
        tx: &Transaction,
        scheme: Scheme,
        public_key: &[u8],
        nonce: u64,
        valid_until: u64,
        code: Option<&[u8]>,
    ) -> Envelope {
        let (action, contract) = match tx.target {
            Target::Run => (Action::Run, ContractId::default()),
            Target::Deploy { salt } => (Action::Deploy { salt }, ContractId::default()),
            Target::Upload => (Action::Upload, ContractId::default()),
            Target::Call { contract } => (Action::Call, contract),
        };
        let code_hash = code.map(Hash32::of).unwrap_or_default();
        let (contract, code_hash) = signed_target(&action, contract, code_hash);
        Envelope {
            chain_id: tx.chain.chain_id.clone(),
            profile_hash: self.profile_hash(),
            scheme,
            public_key: public_key.to_vec(),
            nonce,
            valid_until,
            fuel_limit: tx.fuel_limit,
            action,
            contract,
            code_hash,
            entry: tx.entry.clone(),
            input: tx.input.clone(),
            signature: Vec::new(),
        }
    }
}
