//! Why a host call ends a run.

use std::string::String;

use verity_host_abi::{Status, TrapKind};

use crate::state::StateError;

/// Why a host call ended the run. The runtime carries it through wasmtime as
/// the host function's error; the SDK's test environment unwinds with it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostExit {
    /// The guest broke a rule of the ABI or a run limit.
    #[error("trap: {0}")]
    Trap(TrapKind),
    /// A host call's cost exceeded the remaining fuel.
    #[error("out of fuel in a host call")]
    OutOfFuel,
    /// The guest called `abort`: the message, cut to the profile's limit.
    #[error("abort: {0}")]
    Abort(String),
    /// The state backend failed: not a guest outcome.
    #[error(transparent)]
    State(#[from] StateError),
}

impl HostExit {
    /// The run's status, or the backend's failure (which is not the guest's
    /// doing and makes no receipt).
    ///
    /// ```
    /// use verity_host_abi::{Status, TrapKind};
    /// use verity_host_core::HostExit;
    ///
    /// let status = HostExit::Abort("no".into()).into_status().unwrap();
    /// assert_eq!(status, Status::Reverted { message: "no".into() });
    /// let status = HostExit::Trap(TrapKind::KeyTooLong).into_status().unwrap();
    /// assert_eq!(status, Status::Trapped { trap: TrapKind::KeyTooLong });
    /// ```
    pub fn into_status(self) -> Result<Status, StateError> {
        Ok(match self {
            HostExit::Trap(trap) => Status::Trapped { trap },
            HostExit::OutOfFuel => Status::OutOfFuel,
            HostExit::Abort(message) => Status::Reverted { message },
            HostExit::State(e) => return Err(e),
        })
    }
}
