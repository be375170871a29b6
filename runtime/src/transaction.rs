//! Transactions: what a caller asks the runtime to run.

/// A call of one entry point of a module, with its input, sender, context
/// and fuel limit. Everything here is committed in the receipt.
///
/// ```
/// use verity_runtime::Transaction;
///
/// let tx = Transaction::new("transfer")
///     .with_input(vec![1, 2, 3])
///     .with_sender(b"alice".to_vec())
///     .with_fuel(1_000_000);
/// assert_eq!(tx.entry, "transfer");
/// assert_eq!(tx.fuel_limit, 1_000_000);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    /// The exported `() -> ()` function to call.
    pub entry: String,
    /// Input bytes, read by the guest with `input_read`.
    pub input: Vec<u8>,
    /// Who sent the transaction: opaque bytes the embedder authenticated.
    pub sender: Vec<u8>,
    /// An embedder-supplied context blob (e.g. a block height).
    pub context: Vec<u8>,
    /// The most fuel the run may consume.
    pub fuel_limit: u64,
}

impl Transaction {
    /// Fuel limit of [`Transaction::new`].
    pub const DEFAULT_FUEL: u64 = verity_host_core::DEFAULT_FUEL;

    /// A transaction calling `entry` with empty input, sender and context and
    /// [`Transaction::DEFAULT_FUEL`].
    pub fn new(entry: impl Into<String>) -> Self {
        Transaction {
            entry: entry.into(),
            input: Vec::new(),
            sender: Vec::new(),
            context: Vec::new(),
            fuel_limit: Self::DEFAULT_FUEL,
        }
    }

    /// Sets the input.
    pub fn with_input(mut self, input: Vec<u8>) -> Self {
        self.input = input;
        self
    }

    /// Sets the sender.
    pub fn with_sender(mut self, sender: Vec<u8>) -> Self {
        self.sender = sender;
        self
    }

    /// Sets the context blob.
    pub fn with_context(mut self, context: Vec<u8>) -> Self {
        self.context = context;
        self
    }

    /// Sets the fuel limit.
    pub fn with_fuel(mut self, fuel_limit: u64) -> Self {
        self.fuel_limit = fuel_limit;
        self
    }
}
