//! Reading the interface description (`verity.spec` custom section) that
//! contracts built with the guest SDK carry.
//!
//! The section is metadata for tools: it plays no part in validation or
//! execution, so a module without one, or with a malformed one, runs all the
//! same.

use verity_host_abi::spec::{ContractSpec, SectionError, SpecError, section_of};

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
/// most [`MAX_SPEC_BYTES`](verity_host_abi::spec::MAX_SPEC_BYTES) in all
/// ([`section_of`]). Linear in the module's size; callers that run the
/// module read the spec only after it passed validation (the CLI does).
///
/// ```
/// let wasm = verity_runtime::module_bytes(br#"(module (func (export "run")))"#)?;
/// assert_eq!(verity_runtime::contract_spec(&wasm)?, None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn contract_spec(code: &[u8]) -> Result<Option<ContractSpec>, SpecReadError> {
    let section = section_of(code).map_err(|e| match e {
        SectionError::NotWasm(why) => SpecReadError::NotWasm(why),
        SectionError::TooLarge(n) => SpecReadError::Malformed(SpecError::TooLarge(n)),
    })?;
    section
        .map(|s| ContractSpec::decode(&s).map_err(SpecReadError::from))
        .transpose()
}
