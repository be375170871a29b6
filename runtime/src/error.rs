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
    /// The on-disk artifact cache directory could not be opened.
    #[error("artifact cache: {0}")]
    ArtifactCache(#[source] std::io::Error),
}

impl RuntimeError {
    pub(crate) fn engine(e: impl std::fmt::Display) -> Self {
        RuntimeError::Engine(e.to_string())
    }
}
