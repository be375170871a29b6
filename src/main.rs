//! `verity`: run a WebAssembly transaction deterministically and print its
//! receipt; verify a receipt by re-execution; check a module.
//!
//! Exit codes: 0 success (or verified, or accepted); 1 the transaction did
//! not succeed, the receipt did not verify, or the module was rejected;
//! 2 usage or I/O error (one line on stderr, nothing on stdout).

use std::process::ExitCode;

fn main() -> ExitCode {
    verity::cli::main()
}
