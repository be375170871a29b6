//! The runtime's integration tests, in one binary (one link of wasmtime
//! instead of one per file). Each module is one subject; its header says
//! what it proves.

mod allocation;
mod auth;
mod calls;
mod contracts;
mod differential;
mod engines;
mod fuel_profile;
mod host_functions;
mod mutation;
mod prepared;
mod spec_json;
mod spec_testsuite;
mod state_semantics;
mod transitions;
mod two_phase;
mod upgrade;
mod validation;
