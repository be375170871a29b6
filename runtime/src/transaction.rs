//! Transactions: what a caller asks the runtime to run.

use verity_host_abi::auth::Auth;
use verity_host_abi::{ContractId, Hash32};
pub use verity_host_core::ChainContext;

/// What a transaction does: run a module once, deploy one, or call a
/// contract (docs/state.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Target {
    /// Run the given module once, as the contract
    /// [`ContractId::one_shot`] of its code hash (its own storage, shared
    /// only with other runs of the same module).
    #[default]
    Run,
    /// Store the given module, create a contract running it at
    /// [`ContractId::deployed`] of the sender and `salt`, and run the
    /// entry as its constructor (none when the entry is empty). Refused
    /// when a contract exists at that address.
    Deploy {
        /// The deployer's salt: one deployer makes many contracts.
        salt: Hash32,
    },
    /// Call the contract at this address with the code its record names.
    Call {
        /// The contract.
        contract: ContractId,
    },
    /// Store the given module under its hash, for contracts to switch to
    /// (`update_current_contract_code`): no contract is created and no
    /// entry runs (an entry given is refused). Storing code that is there
    /// already changes nothing.
    Upload,
}

/// A transaction: what it does ([`Target`]), the entry point, its input,
/// sender, context and fuel limit. Everything here is committed in the
/// receipt.
///
/// ```
/// use verity_runtime::{ContractId, Transaction};
///
/// let tx = Transaction::call(ContractId([7; 32]), "transfer")
///     .with_input(vec![1, 2, 3])
///     .with_sender(b"alice".to_vec())
///     .with_fuel(1_000_000);
/// assert_eq!(tx.entry, "transfer");
/// assert_eq!(tx.fuel_limit, 1_000_000);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    /// Run, deploy or call.
    pub target: Target,
    /// The exported `() -> ()` function to call (for a deploy: the
    /// constructor, or empty for none).
    pub entry: String,
    /// Input bytes, read by the guest with `input_read`.
    pub input: Vec<u8>,
    /// Who sent the transaction: a signing key's address
    /// ([`Runtime::sign`](crate::Runtime::sign)), bytes the embedder
    /// asserts (admitted only by a profile with `admit_asserted`, such as
    /// [`Profile::asserted_senders`](crate::Profile::asserted_senders)), or
    /// empty (anonymous).
    pub sender: Vec<u8>,
    /// An embedder-supplied opaque context blob.
    pub context: Vec<u8>,
    /// Where and when it runs: block height, block time, chain id.
    pub chain: ChainContext,
    /// The most fuel the run may consume.
    pub fuel_limit: u64,
    /// How the sender is authorized: asserted by the embedder, or signed
    /// ([`Runtime::sign`](crate::Runtime::sign), docs/auth.md).
    pub auth: Auth,
}

impl Transaction {
    /// Fuel limit of [`Transaction::new`].
    pub const DEFAULT_FUEL: u64 = verity_host_core::DEFAULT_FUEL;

    /// A one-shot run ([`Target::Run`]) of `entry` with empty input,
    /// sender and context and [`Transaction::DEFAULT_FUEL`].
    pub fn new(entry: impl Into<String>) -> Self {
        Transaction {
            target: Target::Run,
            entry: entry.into(),
            input: Vec::new(),
            sender: Vec::new(),
            context: Vec::new(),
            chain: ChainContext::default(),
            fuel_limit: Self::DEFAULT_FUEL,
            auth: Auth::Asserted,
        }
    }

    /// A call of `entry` of the contract at `contract`.
    pub fn call(contract: ContractId, entry: impl Into<String>) -> Self {
        Transaction {
            target: Target::Call { contract },
            ..Transaction::new(entry)
        }
    }

    /// A deploy with `salt` and no constructor (set one with
    /// [`Transaction::with_entry`]).
    pub fn deploy(salt: Hash32) -> Self {
        Transaction {
            target: Target::Deploy { salt },
            ..Transaction::new("")
        }
    }

    /// An upload of code (given to the runtime with the transaction), for
    /// contracts to run later; it creates no contract and runs nothing.
    pub fn upload() -> Self {
        Transaction {
            target: Target::Upload,
            ..Transaction::new("")
        }
    }

    /// Sets the entry point.
    pub fn with_entry(mut self, entry: impl Into<String>) -> Self {
        self.entry = entry.into();
        self
    }

    /// The address of the contract this transaction runs, given the hash
    /// of the code it brings (runs and deploys); none (zero) for an upload.
    pub fn contract(&self, code_hash: &Hash32) -> ContractId {
        match self.target {
            Target::Upload => ContractId::default(),
            Target::Run => ContractId::one_shot(code_hash),
            Target::Deploy { salt } => ContractId::deployed(&self.sender, &salt),
            Target::Call { contract } => contract,
        }
    }

    /// Sets the input.
    pub fn with_input(mut self, input: Vec<u8>) -> Self {
        self.input = input;
        self
    }

    /// Sets the sender, asserted by the embedder: the default profile
    /// refuses the transaction (`auth_unsigned`) unless it is signed
    /// ([`Runtime::sign`](crate::Runtime::sign) sets the sender itself).
    pub fn with_sender(mut self, sender: Vec<u8>) -> Self {
        self.sender = sender;
        self
    }

    /// Sets the context blob.
    pub fn with_context(mut self, context: Vec<u8>) -> Self {
        self.context = context;
        self
    }

    /// Sets the block height of the chain context.
    pub fn with_height(mut self, height: u64) -> Self {
        self.chain.height = height;
        self
    }

    /// Sets the block time of the chain context.
    pub fn with_time(mut self, time: u64) -> Self {
        self.chain.time = time;
        self
    }

    /// Sets the chain id of the chain context.
    pub fn with_chain_id(mut self, chain_id: impl Into<String>) -> Self {
        self.chain.chain_id = chain_id.into();
        self
    }

    /// Sets the fuel limit.
    pub fn with_fuel(mut self, fuel_limit: u64) -> Self {
        self.fuel_limit = fuel_limit;
        self
    }
}
