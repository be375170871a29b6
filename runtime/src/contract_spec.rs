//! Reading the interface description (`verity.spec` custom section) that
//! contracts built with the guest SDK carry.
//!
//! The section is metadata for tools: it plays no part in validation or
//! execution, so a module without one, or with a malformed one, runs all the
//! same.

use verity_host_abi::spec::{ContractSpec, MAX_SPEC_BYTES, SPEC_SECTION, SpecError};
use wasmparser::{Parser, Payload};

/// Why a module's spec could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpecReadError {
    /// The bytes are not a wasm module (as far as reading sections goes).
    #[error("not a wasm module: {0}")]
    NotWasm(String),
    /// The section is there but malformed.
    #[error(transparent)]
    Malformed(#[from] SpecError),
}

/// The contract spec in `code`, `None` if it has no `verity.spec` section.
/// Several such sections are read as one (the linker may split them), at
/// most [`MAX_SPEC_BYTES`] in all. Linear in the module's size; callers
/// that run the module read the spec only after it passed validation (the
/// CLI does).
///
/// ```
/// let wasm = verity_runtime::module_bytes(br#"(module (func (export "run")))"#)?;
/// assert_eq!(verity_runtime::contract_spec(&wasm)?, None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn contract_spec(code: &[u8]) -> Result<Option<ContractSpec>, SpecReadError> {
    let mut section: Option<Vec<u8>> = None;
    // Function bodies are skipped, not parsed (they cannot hold custom
    // sections), so this is linear in the module's size.
    for payload in Parser::new(0).parse_all(code) {
        let payload = payload.map_err(|e| SpecReadError::NotWasm(e.message().to_string()))?;
        if let Payload::CustomSection(c) = payload
            && c.name() == SPEC_SECTION
        {
            let s = section.get_or_insert_with(Vec::new);
            if s.len() + c.data().len() > MAX_SPEC_BYTES {
                return Err(SpecError::TooLarge(s.len() + c.data().len()).into());
            }
            s.extend_from_slice(c.data());
        }
    }
    section
        .map(|s| ContractSpec::decode(&s).map_err(SpecReadError::from))
        .transpose()
}
