//! Contract resolution, in one place: from an address to its record, its
//! code and the compiled module, as the transaction sees the state (its own
//! writes over the pre-state), and the writes a deploy makes.
//!
//! Every path that needs a contract's code comes here: a call's target
//! today, a callee and an upgraded contract later. The record is a recorded
//! read (the witness proves it); the code it names is read unrecorded, by
//! hash: the record's code hash authenticates it, and a verifier is given
//! the code instead of finding it in the receipt.

use std::sync::Arc;

use verity_host_abi::contract::{ContractRecord, code_key, record_key};
use verity_host_abi::{ContractId, Hash32};
use verity_host_core::TxRejection;

use crate::error::RuntimeError;
use crate::host::RunHost;
use crate::prepared::PreparedModule;
use crate::runtime::Runtime;
use crate::validate::Rejection;

/// Where a transaction's code comes from.
pub(crate) enum CodeSource<'a> {
    /// Bytes the caller gave, with their hash.
    Bytes {
        /// The module.
        code: &'a [u8],
        /// Its SHA-256.
        hash: Hash32,
    },
    /// A module this runtime prepared.
    Prepared(&'a PreparedModule),
    /// The state: the code the called contract's record names.
    State,
}

impl CodeSource<'_> {
    /// The hash of the code the caller gave, if it gave any.
    pub(crate) fn hash(&self) -> Option<Hash32> {
        match self {
            CodeSource::Bytes { hash, .. } => Some(*hash),
            CodeSource::Prepared(m) => Some(m.code_hash),
            CodeSource::State => None,
        }
    }
}

/// A module ready to run: one the caller prepared, or a cached one.
pub(crate) enum Ready<'a> {
    Borrowed(&'a PreparedModule),
    Shared(Arc<PreparedModule>),
}

impl std::ops::Deref for Ready<'_> {
    type Target = PreparedModule;
    fn deref(&self) -> &PreparedModule {
        match self {
            Ready::Borrowed(m) => m,
            Ready::Shared(m) => m,
        }
    }
}

/// A contract found: the code hash its record names, and its module (or
/// why the module cannot run).
pub(crate) struct Resolved<'a> {
    pub(crate) code_hash: Hash32,
    pub(crate) module: Result<Ready<'a>, Rejection>,
}

impl Runtime {
    /// The record of `contract` as the transaction sees it: written earlier
    /// in the transaction, or else in the pre-state (a recorded read).
    pub(crate) fn record(
        &self,
        host: &mut RunHost,
        contract: &ContractId,
    ) -> Result<Option<ContractRecord>, RuntimeError> {
        let Some(bytes) = host.system_read(&record_key(contract))? else {
            return Ok(None);
        };
        ContractRecord::decode(&bytes).map(Some).ok_or_else(|| {
            RuntimeError::CorruptState(format!("the record of contract {contract} does not decode"))
        })
    }

    /// The contract at `contract`, with its module taken from `source` if
    /// the caller brought code (which must be the code the record names:
    /// [`RuntimeError::WrongCode`] if not), or else found by the record's
    /// code hash. A refusal (no contract there, a module that does not
    /// validate) is the `Err` inside.
    pub(crate) fn resolve<'a>(
        &self,
        host: &mut RunHost,
        contract: ContractId,
        source: &CodeSource<'a>,
    ) -> Result<Result<Resolved<'a>, Rejection>, RuntimeError> {
        let Some(record) = self.record(host, &contract)? else {
            return Ok(Err(TxRejection::NoContract(contract).into()));
        };
        let code_hash = record.code_hash;
        if let Some(given) = source.hash().filter(|g| *g != code_hash) {
            return Err(RuntimeError::WrongCode {
                contract,
                expected: code_hash,
                given,
            });
        }
        let module = self.module(source, contract, code_hash, host)?;
        Ok(Ok(Resolved { code_hash, module }))
    }

    /// The module of `code_hash`, from `source` or, when the caller brought
    /// none, from the memory cache or the code as the transaction sees it.
    pub(crate) fn module<'a>(
        &self,
        source: &CodeSource<'a>,
        contract: ContractId,
        code_hash: Hash32,
        host: &RunHost,
    ) -> Result<Result<Ready<'a>, Rejection>, RuntimeError> {
        Ok(match source {
            CodeSource::Prepared(m) => Ok(Ready::Borrowed(m)),
            CodeSource::Bytes { code, hash } => self.prepare_hashed(code, *hash).map(Ready::Shared),
            CodeSource::State => {
                // Code is addressed by its hash: a cached module is the
                // module of any code stored under that hash.
                if let Some(hit) = self.modules.cached(&code_hash) {
                    return Ok(hit.map(Ready::Shared));
                }
                let code = self.stored_code(host, contract, code_hash)?;
                self.prepare_hashed(&code, code_hash).map(Ready::Shared)
            }
        })
    }

    /// The code stored under `code_hash`, as the transaction sees the
    /// state, checked against its hash; `contract` is the one whose record
    /// names it (for the error if it is missing).
    pub(crate) fn stored_code(
        &self,
        host: &RunHost,
        contract: ContractId,
        code_hash: Hash32,
    ) -> Result<Vec<u8>, RuntimeError> {
        let code = host
            .system_peek(&code_key(&code_hash))?
            .ok_or(RuntimeError::MissingCode {
                contract,
                code_hash,
            })?;
        if Hash32::of(&code) != code_hash {
            return Err(RuntimeError::CorruptState(format!(
                "the code stored under {code_hash} has another hash"
            )));
        }
        Ok(code)
    }

    /// An upload's write: the code under its hash.
    pub(crate) fn store_code(&self, host: &mut RunHost, code: &[u8], code_hash: Hash32) {
        host.system_write(code_key(&code_hash).to_vec(), code.to_vec());
    }

    /// A deploy's writes: the code under its hash, and the record of
    /// `contract` naming it, with `admin`.
    pub(crate) fn store_contract(
        &self,
        host: &mut RunHost,
        contract: &ContractId,
        code: &[u8],
        code_hash: Hash32,
        admin: Vec<u8>,
    ) {
        self.store_code(host, code, code_hash);
        let record = ContractRecord::new(code_hash, admin);
        host.system_write(record_key(contract).to_vec(), record.encode());
    }
}
