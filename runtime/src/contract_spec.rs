//! Reading the interface description (`verity.spec` custom section) that
//! contracts built with the guest SDK carry.
//!
//! The section is metadata for tools: it plays no part in validation or
//! execution, so a module without one, or with a malformed one, runs all the
//! same.

use verity_host_abi::spec::{ContractSpec, SPEC_SECTION, SpecError};
use wasmparser::{Parser, Payload};

/// Why a module's spec could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpecReadError {
    /// The bytes are not a wasm module (as far as reading sections goes).
    #[error("not a wasm module: {0}")]
    NotWasm(String),
    /// The section is there but malformed.
    #[error("{0}")]
    Malformed(SpecError),
}

/// The contract spec in `code`, `None` if it has no `verity.spec` section.
/// Several such sections are read as one (the linker may split them).
///
/// ```
/// let wasm = verity_runtime::module_bytes(br#"(module (func (export "run")))"#)?;
/// assert_eq!(verity_runtime::contract_spec(&wasm)?, None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn contract_spec(code: &[u8]) -> Result<Option<ContractSpec>, SpecReadError> {
    let mut section: Option<Vec<u8>> = None;
    for payload in Parser::new(0).parse_all(code) {
        match payload.map_err(|e| SpecReadError::NotWasm(e.message().to_string()))? {
            Payload::CustomSection(c) if c.name() == SPEC_SECTION => {
                section
                    .get_or_insert_with(Vec::new)
                    .extend_from_slice(c.data());
            }
            // Function bodies cannot hold custom sections: skip parsing them.
            Payload::CodeSectionStart { .. } | Payload::CodeSectionEntry(_) => {}
            _ => {}
        }
    }
    section
        .map(|s| ContractSpec::decode(&s).map_err(SpecReadError::Malformed))
        .transpose()
}
