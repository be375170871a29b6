//! Raw imports of host ABI v1, generated from the one ABI table in
//! `verity-host-abi` ([`for_each_host_fn!`](verity_host_abi::for_each_host_fn)),
//! the same table the host's linker is generated from.
//!
//! Contracts never call these: every pointer passed here comes from a Rust
//! slice in this crate's safe wrappers ([`crate::host`]).

macro_rules! imports {
    ($( $(#[$meta:meta])* fn $name:ident ( $($p:ident : $t:ident),* ) $(-> $r:ident)?,
        cost = $cost:ident, bytes = $bytes:literal; )*) => {
        // The literal must equal `verity_host_abi::IMPORT_MODULE`; a test
        // in host.rs checks it.
        #[link(wasm_import_module = "verity")]
        unsafe extern "C" {
            $( $(#[$meta])* pub fn $name($($p: $t),*) $(-> $r)?; )*
        }
    };
}

verity_host_abi::for_each_host_fn!(imports);
