//! The `verity` command line as a library. The binary (`src/main.rs`) is a
//! one-line wrapper around [`cli::main`]; the library exists so that the
//! parsing of user input (`--arg`, byte arguments, receipts) can be fuzzed
//! (fuzz/fuzz_targets/cli_args.rs) and tested on its own.

pub mod cli;
