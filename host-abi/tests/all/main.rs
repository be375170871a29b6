//! host-abi's integration tests, in one binary: the canonical encoding,
//! the contract spec, and the docs that describe them.

mod docs;
mod encoding;
mod spec;
