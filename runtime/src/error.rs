//! What can go wrong in the host itself (as opposed to the guest, whose
//! every outcome is a receipt).

use crate::state::StateError;

/// A failure of the host itself: the transaction has no outcome. Every
/// outcome of the guest, including rejection, is an `Ok(Receipt)` instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// wasmtime could not be configured or failed outside the guest's control.
    #[error("engine error: {0}")]
    Engine(String),
    /// The state backend failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// A [`PreparedModule`](crate::PreparedModule) was passed to a runtime other than the one that
    /// prepared it.
    #[error("the prepared module belongs to another runtime")]
    ForeignModule,
    /// A call was given code other than the code its contract runs.
    #[error("contract {contract} runs code {expected}, but the code given has hash {given}")]
    WrongCode {
        /// The contract called.
        contract: verity_host_abi::ContractId,
        /// The code hash its record names.
        expected: verity_host_abi::Hash32,
        /// The hash of the code given.
        given: verity_host_abi::Hash32,
    },
    /// A deploy was asked of a prepared module, which does not keep the
    /// bytes a deploy stores: deploy with [`Runtime::execute`](crate::Runtime::execute).
    #[error("a deploy needs the module's bytes: use Runtime::execute, not execute_prepared")]
    DeployNeedsCode,
    /// A call's contract runs code that the state does not hold (a broken
    /// state: a deploy always stores the code it names).
    #[error("contract {contract} runs code {code_hash}, which the state does not hold")]
    MissingCode {
        /// The contract called.
        contract: verity_host_abi::ContractId,
        /// The code hash its record names.
        code_hash: verity_host_abi::Hash32,
    },
    /// The state breaks an invariant the host keeps: a contract record
    /// that does not decode, or code stored under another hash.
    #[error("the state is corrupt: {0}")]
    CorruptState(String),
    /// A run or a deploy was asked without code.
    #[error("a one-shot run or a deploy brings its code: use Runtime::execute")]
    CodeNeeded,
    /// The on-disk artifact cache directory could not be opened.
    #[error("artifact cache: {0}")]
    ArtifactCache(#[source] std::io::Error),
}

impl RuntimeError {
    pub(crate) fn engine(e: impl std::fmt::Display) -> Self {
        RuntimeError::Engine(e.to_string())
    }
}
