//! Procedural macros of `verity-sdk`. Use them through `verity_sdk`
//! (`#[verity_sdk::contract]`, `#[verity_sdk::contracttype]`,
//! `#[verity_sdk::contractevent]`, `#[derive(verity_sdk::ContractError)]`);
//! the generated code names `::verity_sdk` paths.
//!
//! Each macro also writes the item's description into the `verity.spec`
//! custom section (see `verity_host_abi::spec`), so tools encode arguments
//! and decode outputs and events without the source.

use proc_macro::TokenStream;
use proc_macro2::Span;

mod client;
mod contract;
mod error;
mod spec_items;
mod types;

/// Turns every `pub fn` of an inherent `impl` block into a contract entry
/// point.
///
/// For `pub fn transfer(to: Address, amount: u64) -> Result<(), TokenError>`
/// it generates a wasm export `transfer: () -> ()` that decodes `(to, amount)`
/// from the transaction input (postcard), calls the method, and on `Ok(v)`
/// sets the postcard encoding of `v` as output; on `Err(e)` it reverts with
/// `error <code>: <message>`. It also writes the entries' descriptions (in
/// declaration order, with the first paragraph of each doc comment and the
/// error type's name) into the `verity.spec` custom section and implements
/// `verity_sdk::Contract` (used by the native test environment to call
/// entries by name).
///
/// Entry points take no `self`: a contract's state lives in storage. Methods
/// that are not `pub` are ordinary helpers. An entry without arguments does
/// not decode the input; it may read it raw with `verity_sdk::env::with_input`.
#[proc_macro_attribute]
pub fn contract(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        return syn::Error::new(Span::call_site(), "#[contract] takes no arguments")
            .to_compile_error()
            .into();
    }
    let item = syn::parse_macro_input!(item as syn::ItemImpl);
    match contract::expand_contract(&item) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// Makes a struct or an enum a contract type: usable as an argument, a
/// return value, a stored value or event data, and described in the
/// contract spec (fields or variants with their types and doc summaries),
/// so `verity run --arg name=JSON` encodes it and outputs print decoded.
///
/// It derives `Serialize` and `Deserialize` through the SDK's serde (do not
/// derive them yourself). `#[serde(...)]` attributes are refused: renaming,
/// skipping or flattening would make the spec describe another encoding
/// than the one the contract uses. Generic types are refused too.
#[proc_macro_attribute]
pub fn contracttype(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        return syn::Error::new(Span::call_site(), "#[contracttype] takes no arguments")
            .to_compile_error()
            .into();
    }
    let item = syn::parse_macro_input!(item as syn::DeriveInput);
    match types::expand_contracttype(&item, None) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// Declares an event: a struct that is a [`macro@contracttype`] and whose
/// values `verity_sdk::events::publish` emits under one topic, declared in
/// the contract spec so tools print its data decoded (as Soroban's
/// `#[contractevent]`).
///
/// The topic is the struct's name in snake case (`Transfer` is `transfer`,
/// `OwnerChanged` is `owner_changed`) unless given:
/// `#[contractevent(topic = "xfer")]`.
#[proc_macro_attribute]
pub fn contractevent(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item = syn::parse_macro_input!(item as syn::DeriveInput);
    let topic = match types::event_topic(attr.into(), &item.ident) {
        Ok(t) => t,
        Err(e) => return e.to_compile_error().into(),
    };
    match types::expand_contracttype(&item, Some(topic)) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// Implements `verity_sdk::ContractError` for a fieldless enum and
/// describes it in the contract spec (variant names, codes, messages).
///
/// Each variant needs `#[error("message")]`; its code is its discriminant
/// (explicit `= N` or the previous code plus one, from 0, as Rust counts).
/// An `Err(e)` returned from an entry point reverts the run with the message
/// `error <code>: <message>`.
#[proc_macro_derive(ContractError, attributes(error))]
pub fn derive_contract_error(item: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(item as syn::DeriveInput);
    match error::expand_contract_error(&input) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// A typed client of another contract, made from its spec: a committed
/// `verity.spec` file (`verity inspect FILE.wasm --spec-out FILE`) or the
/// `.wasm` itself, a path relative to the crate's manifest. Optionally
/// pinned to the `.wasm`'s code hash (SHA-256, hex): the build fails if the
/// file has another. See `verity_sdk::contractclient!` for the full story.
#[proc_macro]
pub fn contractclient(input: TokenStream) -> TokenStream {
    let args = syn::parse_macro_input!(input as client::ClientArgs);
    match client::expand_client(&args) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

#[cfg(test)]
mod tests;
