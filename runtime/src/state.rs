//! State: the backend an embedder provides, an in-memory one, and the
//! witness verification re-executes against. They are defined in
//! `verity-host-core`, beside the overlay that buffers a run's reads and
//! writes, and re-exported here.

pub use verity_host_core::state::{
    MemoryState, StaleReceipt, StateBackend, StateError, StateRoots, StateView, Transition,
    TransitionCheckError, WitnessState, check_receipt_transition,
};
