//! The command line: argument parsing and the subcommands.

/// `print!` to standard output, returning an error (exit 2) instead of
/// panicking when it is closed or full. Commands deliver their output
/// before any state is committed, so a failure here leaves nothing done.
macro_rules! out {
    ($($t:tt)*) => {
        $crate::cli::write_stdout(format_args!($($t)*))?
    };
}

/// `println!` with [`out!`]'s error handling.
macro_rules! outln {
    ($($t:tt)*) => {
        $crate::cli::write_stdout(format_args!("{}\n", format_args!($($t)*)))?
    };
}

pub mod args;
mod build;
mod check;
pub mod inputs;
mod inspect;
mod key;
mod new;
mod print;
mod profile;
mod receipt;
mod run;
mod state;
mod strict_json;
mod tx;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The compiler flag of `run` and `verify`.
#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum CompilerArg {
    /// Optimising (default).
    Cranelift,
    /// Baseline.
    Winch,
}

impl From<CompilerArg> for verity_runtime::Compiler {
    fn from(c: CompilerArg) -> Self {
        match c {
            CompilerArg::Cranelift => verity_runtime::Compiler::Cranelift,
            CompilerArg::Winch => verity_runtime::Compiler::Winch,
        }
    }
}

/// The runtime of a command that runs one module and exits: no instance
/// pool (reserving one would cost more than the single run it serves), and
/// the user's artifact cache, so code compiled once is loaded next time.
pub(crate) fn one_shot_runtime(
    compiler: CompilerArg,
) -> Result<verity_runtime::Runtime, verity_runtime::RuntimeError> {
    let mut builder = verity_runtime::Runtime::builder(verity_runtime::Profile::default())
        .compiler(compiler.into())
        .allocation(verity_runtime::Allocation::OnDemand);
    if let Some(dir) = artifact_dir() {
        // A cache that cannot be made costs a compile per command, nothing
        // else: the command goes on without it.
        match private_dir(&dir) {
            Ok(()) => builder = builder.artifact_cache_path(&dir)?,
            Err(e) => eprintln!(
                "verity: no artifact cache ({}: {e}); modules are compiled on every command",
                dir.display()
            ),
        }
    }
    builder.build()
}

/// Where compiled modules are kept between commands: `$VERITY_CACHE_DIR`
/// (empty: no cache), else `$XDG_CACHE_HOME/verity/artifacts`, else
/// `$HOME/.cache/verity/artifacts`. A per-user directory, not the state
/// directory: loading an artifact runs its machine code, so it must come
/// from a directory only this user writes, and a state directory may have
/// come from anyone (docs/costs.md, "Preparing a module is charged").
pub(crate) fn artifact_dir() -> Option<std::path::PathBuf> {
    use std::path::PathBuf;
    let set = |name: &str| std::env::var_os(name);
    if let Some(dir) = set("VERITY_CACHE_DIR") {
        return (!dir.is_empty()).then(|| PathBuf::from(dir));
    }
    let base = set("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            set("HOME")
                .filter(|d| !d.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })?;
    Some(base.join("verity").join("artifacts"))
}

/// Creates `dir` (and its parents) readable and writable by this user
/// only, and refuses one that others may write.
pub(crate) fn private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let meta = std::fs::symlink_metadata(dir)?;
    if !meta.is_dir() {
        return Err(std::io::Error::other("not a directory"));
    }
    if meta.mode() & 0o022 != 0 || meta.uid() != rustix::process::geteuid().as_raw() {
        return Err(std::io::Error::other(
            "others may write to it, and its machine code would run here",
        ));
    }
    Ok(())
}

/// Writes to standard output and flushes, so that a closed pipe is an
/// error here, not a panic later.
pub(crate) fn write_stdout(args: std::fmt::Arguments<'_>) -> anyhow::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_fmt(args)
        .and_then(|()| stdout.flush())
        .map_err(|e| anyhow::anyhow!("cannot write to standard output: {e}"))
}

/// clap's usage error (an `error:` line, a tip, the usage, a pointer to
/// --help) as the one line the README promises: the error, its tip, and
/// where the usage is.
fn one_line_usage_error(rendered: &str) -> String {
    let mut out = String::new();
    let lines = rendered
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty());
    for line in lines {
        match line.strip_prefix("tip: ") {
            Some(tip) => out += &format!(" ({tip})"),
            None if out.is_empty() => out += line,
            None => out += &format!(" {line}"),
        }
    }
    if out.is_empty() {
        out += "error: invalid arguments";
    }
    out + "; see --help"
}

/// Refuses to go on when standard output was closed: std's runtime
/// reopens a closed descriptor onto `/dev/null` (read-write) before `main`,
/// so a receipt printed there would vanish while the transaction committed.
/// A shell's `>/dev/null` opens it write-only and is not refused: there the
/// user chose to discard the receipt.
pub(crate) fn require_stdout() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use rustix::fs::{FileType, OFlags, fcntl_getfl, fstat, major, minor};
        use std::os::fd::AsFd;
        let stdout = std::io::stdout();
        let fd = stdout.as_fd();
        let closed = match (fcntl_getfl(fd), fstat(fd)) {
            (Ok(flags), Ok(st)) => {
                flags & OFlags::RWMODE == OFlags::RDWR
                    && FileType::from_raw_mode(st.st_mode) == FileType::CharacterDevice
                    && (major(st.st_rdev), minor(st.st_rdev)) == (1, 3)
            }
            _ => true,
        };
        if closed {
            anyhow::bail!(
                "standard output is closed, so the receipt could not be printed: nothing was run (use >/dev/null to discard it)"
            );
        }
    }
    Ok(())
}

/// An error after the transaction's writes were committed: the process
/// exits 3, so that a caller does not run the transaction again.
#[derive(Debug)]
pub(crate) struct AfterCommit(pub String);

impl std::fmt::Display for AfterCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the transaction was committed, but {}", self.0)
    }
}

impl std::error::Error for AfterCommit {}

/// What a command ended in; maps to the process exit code.
pub(crate) enum Outcome {
    /// Exit 0.
    Ok,
    /// Exit 1: the transaction failed, the receipt did not verify, the
    /// module was rejected.
    Failed,
}

#[derive(Parser)]
#[command(
    name = "verity",
    version,
    about = "Deterministic WebAssembly sandbox for verifiable execution",
    long_about = "Runs a wasm transaction with fuel metering against a key-value state and prints \
its execution receipt; verifies a receipt by re-execution.\n\nExit codes: 0 success, 1 failed \
transaction / verification mismatch / rejected module, 2 usage or I/O error (nothing was \
committed), 3 the transaction was committed but its receipt could not be delivered."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a module once (as its own contract) and print the receipt.
    Run(run::RunArgs),
    /// Deploy a module as a contract at an address from the sender and a salt.
    Deploy(run::DeployArgs),
    /// Store a module's code under its hash, creating no contract: the code
    /// a contract can then switch to (`update_current_contract_code`).
    Upload(run::UploadArgs),
    /// Call a deployed contract.
    Call(run::CallArgs),
    /// Re-execute a receipt and check that it reproduces byte for byte.
    Verify(verify::VerifyArgs),
    /// Validate a module against the profile without running it.
    Check(check::CheckArgs),
    /// Build contract crates for wasm, reproducibly (each package alone, a
    /// 64 KiB stack, paths remapped), and check what was built.
    Build(build::BuildArgs),
    /// Make a new contract crate from a template.
    New(new::NewArgs),
    /// Print the determinism profile and its hash.
    Profile(profile::ProfileArgs),
    /// Print a contract's entry points and argument types (its verity.spec).
    Inspect(inspect::InspectArgs),
    /// Make a state directory (`verity state init DIR`).
    State(state::StateArgs),
    /// Make and show account keys that sign transactions (`--key`).
    Key(key::KeyArgs),
    /// Read a receipt file back (`verity receipt show FILE`).
    Receipt(receipt::ReceiptArgs),
    /// Sign, show and submit transaction envelopes made with `--envelope`
    /// (a signer elsewhere: openssl, a hardware key).
    Tx(tx::TxArgs),
}

/// Parses the arguments, runs the command and maps the outcome to an exit
/// code. Errors become one line on stderr and exit 2.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => {
            eprintln!("{}", one_line_usage_error(&e.render().to_string()));
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Deploy(args) => run::deploy(args),
        Command::Upload(args) => run::upload(args),
        Command::Call(args) => run::call(args),
        Command::Verify(args) => verify::verify(args),
        Command::Check(args) => check::check(args),
        Command::Build(args) => build::build(args),
        Command::New(args) => new::new(args),
        Command::Profile(args) => profile::profile(args),
        Command::Inspect(args) => inspect::inspect(args),
        Command::State(args) => state::state(args),
        Command::Key(args) => key::key(args),
        Command::Tx(args) => tx::tx(args),
        Command::Receipt(args) => receipt::receipt(args),
    };
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Failed) => ExitCode::from(1),
        Err(e) => {
            // One line, whatever the error's source printed.
            let text = format!("{e:#}");
            let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
            eprintln!("verity: error: {line}");
            if e.is::<AfterCommit>() {
                ExitCode::from(3)
            } else {
                ExitCode::from(2)
            }
        }
    }
}
