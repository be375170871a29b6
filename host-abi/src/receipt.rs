//! Execution receipts: everything that determined and resulted from a run.

use alloc::string::String;
use alloc::vec::Vec;

use crate::auth::Auth;
use crate::contract::ContractId;
use crate::encoding::{self, Canonical, DecodeError, Reader, Sink, Writer};
use crate::hash::{Hash32, RECEIPT_DOMAIN};
use crate::status::Status;

/// The receipt format this crate writes and reads.
pub const FORMAT_VERSION: u32 = 4;

/// What a transaction did with its code (docs/receipt.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Ran a module once as the contract at
    /// [`ContractId::one_shot`] of its code hash.
    Run,
    /// Stored the code, created the contract at
    /// [`ContractId::deployed`] of the sender and `salt`, and ran the entry
    /// as its constructor (none when the entry is empty).
    Deploy {
        /// The deployer's salt.
        salt: Hash32,
    },
    /// Called an existing contract.
    Call,
    /// Stored the code under its hash, for contracts to run later
    /// (`update_current_contract_code`), creating no contract and running
    /// nothing.
    Upload,
}

impl Action {
    /// `run`, `deploy`, `call` or `upload`.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Run => "run",
            Action::Deploy { .. } => "deploy",
            Action::Call => "call",
            Action::Upload => "upload",
        }
    }

    /// The encoding's tag: 0 run, 1 deploy, 2 call, 3 upload.
    pub fn tag(&self) -> u8 {
        match self {
            Action::Run => 0,
            Action::Deploy { .. } => 1,
            Action::Call => 2,
            Action::Upload => 3,
        }
    }
}

/// A key the run read from the pre-state, with the value it saw.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReadEntry {
    /// The storage key.
    pub key: Vec<u8>,
    /// The value seen, or `None` when the key was absent.
    pub value: Option<Vec<u8>>,
}

/// A change the run made to the state.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WriteEntry {
    /// The storage key.
    pub key: Vec<u8>,
    /// The new value, or `None` when the key was removed.
    pub value: Option<Vec<u8>>,
}

/// An event a contract emitted.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Event {
    /// The contract that emitted it: set by the host, so no contract can
    /// emit an event in another's name.
    pub contract: ContractId,
    /// What the event is about.
    pub topic: Vec<u8>,
    /// Its payload.
    pub data: Vec<u8>,
}

/// One call between contracts, as the receipt's call tree holds it (in
/// pre-order: the order the calls began; docs/calls.md).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CallEntry {
    /// The callee's depth: 1 for a call by the transaction's contract.
    pub depth: u32,
    /// The calling contract.
    pub caller: ContractId,
    /// The called contract.
    pub callee: ContractId,
    /// The entry called.
    pub entry: String,
    /// SHA-256 of the call's input.
    pub input_hash: Hash32,
    /// How the callee ended: `success`, `reverted`, `trapped` or
    /// `out_of_fuel` (a refused call opens no frame and is not recorded).
    pub status: Status,
    /// The fuel the call used, its own calls included.
    pub fuel_used: u64,
}

/// Defines [`Receipt`] from its one field table: the struct, its field
/// names in encoding order ([`Receipt::FIELDS`]), a typed view of every
/// field ([`Receipt::fields`], which `verify`'s diff and the JSON form
/// walk), and the encoder and decoder, which write and read each field with
/// its type's [`Canonical`](crate::encoding) rule in table order. Adding a
/// field is one line here; tests check that docs/receipt.md, the JSON form
/// and tests/receipt_hash.py list the same fields in the same order.
macro_rules! receipt_table {
    (
        $(#[$meta:meta])*
        pub struct Receipt {
            $( $(#[doc = $doc:literal])* $name:ident : $ty:ty, )*
        }
    ) => {
        $(#[$meta])*
        pub struct Receipt {
            $( $(#[doc = $doc])* pub $name: $ty, )*
        }

        impl Receipt {
            /// The field names, in encoding order (docs/receipt.md).
            pub const FIELDS: &'static [&'static str] = &[$(stringify!($name)),*];

            /// Every field with its name, in encoding order.
            ///
            /// ```
            /// # use verity_host_abi::receipt::{FieldValue, Receipt};
            /// # fn show(r: &Receipt) {
            /// for (name, value) in r.fields() {
            ///     println!("{name} ({}): {value:?}", value.kind());
            /// }
            /// # }
            /// ```
            pub fn fields(&self) -> [(&'static str, FieldValue<'_>); FIELD_COUNT] {
                [$( (stringify!($name), View::view(&self.$name)) ),*]
            }
        }

        /// The number of receipt fields.
        pub const FIELD_COUNT: usize = [$(stringify!($name)),*].len();

        /// Writes every field in table order.
        pub(crate) fn encode_fields<S: Sink>(r: &Receipt, w: &mut Writer<'_, S>) {
            $( Canonical::encode(&r.$name, w); )*
        }

        /// Reads every field in table order (no cross-field checks).
        pub(crate) fn decode_fields(rd: &mut Reader<'_>) -> Result<Receipt, DecodeError> {
            $( let $name = <$ty as Canonical>::decode(rd, stringify!($name))?; )*
            Ok(Receipt { $($name),* })
        }
    };
}

receipt_table! {
    /// The canonical record of one transaction.
    ///
    /// Invariants (checked by [`Receipt::decode`], kept by the runtime):
    /// `reads` and `writes` are sorted by key with no key twice; `calls` is
    /// a pre-order tree (the first at depth 1, each at most one deeper than
    /// the one before); on any status but `success`, `writes`, `calls`,
    /// `events` and `output` are empty.
    #[derive(Clone, Debug, PartialEq, Eq, Hash)]
    pub struct Receipt {
        /// Receipt format version ([`FORMAT_VERSION`]).
        format_version: u32,
        /// Hash of the determinism profile the run used.
        profile_hash: Hash32,
        /// Run, deploy or call.
        action: Action,
        /// The contract that ran (the address a deploy created).
        contract: ContractId,
        /// SHA-256 of the module binary (zero when a call names no contract).
        code_hash: Hash32,
        /// The exported function that was called.
        entry: String,
        /// The sender: a key account's address when signed, otherwise
        /// opaque bytes the embedder authenticated.
        sender: Vec<u8>,
        /// How the sender was authorized (docs/auth.md).
        auth: Auth,
        /// Opaque context blob from the embedder.
        context: Vec<u8>,
        /// The block height the embedder ran the transaction at.
        height: u64,
        /// The block time the embedder ran the transaction at (seconds since
        /// the Unix epoch, by convention).
        time: u64,
        /// The chain the transaction belongs to.
        chain_id: String,
        /// Transaction input.
        input: Vec<u8>,
        /// Fuel the transaction was allowed.
        fuel_limit: u64,
        /// Fuel the run consumed (equal to `fuel_limit` on `out_of_fuel`).
        fuel_used: u64,
        /// How the run ended.
        status: Status,
        /// The state root before the transaction.
        pre_state_root: Hash32,
        /// The state root after it: `pre_state_root` unless it succeeded.
        post_state_root: Hash32,
        /// Keys read from the pre-state, sorted by key.
        reads: Vec<ReadEntry>,
        /// State changes, sorted by key; empty unless the run succeeded.
        writes: Vec<WriteEntry>,
        /// The calls between contracts, in pre-order; empty unless the run
        /// succeeded.
        calls: Vec<CallEntry>,
        /// Events in emission order, each naming its contract; events of a
        /// callee that failed are not here; empty unless the run succeeded.
        events: Vec<Event>,
        /// The output; empty unless the run succeeded.
        output: Vec<u8>,
    }
}

/// One receipt field's value, by the type its encoding has
/// (docs/receipt.md, the "type" column: [`FieldValue::kind`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldValue<'a> {
    /// A `u32`.
    U32(u32),
    /// A `u64`.
    U64(u64),
    /// A 32-byte hash.
    Hash(&'a Hash32),
    /// A 32-byte contract address.
    Contract(&'a ContractId),
    /// A UTF-8 string.
    Text(&'a str),
    /// A byte string.
    Bytes(&'a [u8]),
    /// The action.
    Action(&'a Action),
    /// The status.
    Status(&'a Status),
    /// The read set.
    Reads(&'a [ReadEntry]),
    /// The write set.
    Writes(&'a [WriteEntry]),
    /// The call tree.
    Calls(&'a [CallEntry]),
    /// The events.
    Events(&'a [Event]),
    /// The authorization.
    Auth(&'a Auth),
}

impl FieldValue<'_> {
    /// The type as docs/receipt.md's field table names it.
    pub fn kind(&self) -> &'static str {
        match self {
            FieldValue::U32(_) => "u32",
            FieldValue::U64(_) => "u64",
            FieldValue::Hash(_) | FieldValue::Contract(_) => "32 bytes",
            FieldValue::Text(_) => "string",
            FieldValue::Bytes(_) => "bytes",
            FieldValue::Action(_) => "action",
            FieldValue::Status(_) => "status",
            FieldValue::Reads(_) | FieldValue::Writes(_) => {
                "list of (bytes key, option bytes value)"
            }
            FieldValue::Calls(_) => "list of call",
            FieldValue::Events(_) => "list of (32 bytes contract, bytes topic, bytes data)",
            FieldValue::Auth(_) => "auth",
        }
    }
}

/// A field type's [`FieldValue`].
trait View {
    fn view(&self) -> FieldValue<'_>;
}

macro_rules! view {
    ($($ty:ty => |$v:ident| $e:expr;)*) => {
        $(impl View for $ty {
            fn view(&self) -> FieldValue<'_> {
                let $v = self;
                $e
            }
        })*
    };
}

view! {
    u32 => |v| FieldValue::U32(*v);
    u64 => |v| FieldValue::U64(*v);
    Hash32 => |v| FieldValue::Hash(v);
    ContractId => |v| FieldValue::Contract(v);
    String => |v| FieldValue::Text(v);
    Vec<u8> => |v| FieldValue::Bytes(v);
    Action => |v| FieldValue::Action(v);
    Status => |v| FieldValue::Status(v);
    Vec<ReadEntry> => |v| FieldValue::Reads(v);
    Vec<WriteEntry> => |v| FieldValue::Writes(v);
    Vec<CallEntry> => |v| FieldValue::Calls(v);
    Vec<Event> => |v| FieldValue::Events(v);
    Auth => |v| FieldValue::Auth(v);
}

impl Receipt {
    /// The canonical encoding (docs/receipt.md): one byte string per receipt.
    pub fn encode(&self) -> Vec<u8> {
        encoding::encode(self)
    }

    /// Decodes a canonical encoding, refusing anything that is not one.
    pub fn decode(bytes: &[u8]) -> Result<Receipt, DecodeError> {
        encoding::decode(bytes)
    }

    /// SHA-256 over [`RECEIPT_DOMAIN`] and the canonical encoding, hashed
    /// as it is encoded (no intermediate buffer).
    ///
    /// ```
    /// # use verity_host_abi::{Action, ContractId, Hash32, Receipt, Status};
    /// # use verity_host_abi::hash::RECEIPT_DOMAIN;
    /// # let r = Receipt { format_version: 4, profile_hash: Hash32::default(),
    /// #     action: Action::Run, contract: ContractId::default(),
    /// #     pre_state_root: Hash32::default(), post_state_root: Hash32::default(),
    /// #     code_hash: Hash32::default(), entry: "run".into(), sender: vec![], auth: Default::default(),
    /// #     context: vec![], height: 0, time: 0, chain_id: String::new(), input: vec![1, 2], fuel_limit: 10, fuel_used: 3,
    /// #     status: Status::Success, reads: vec![], writes: vec![], calls: vec![], events: vec![],
    /// #     output: vec![] };
    /// assert_eq!(r.hash(), Hash32::of_tagged(RECEIPT_DOMAIN, &r.encode()));
    /// ```
    pub fn hash(&self) -> Hash32 {
        let mut sink = encoding::HashSink::new(RECEIPT_DOMAIN);
        encoding::encode_into(self, &mut sink);
        Hash32(sink.finish())
    }

    /// The hash of the transaction a signed receipt records, the message
    /// its sender signed ([`TxBody::hash`](crate::auth::TxBody::hash));
    /// `None` unless signed or unless the sender is 32 bytes.
    pub fn tx_hash(&self) -> Option<Hash32> {
        let Auth::Signed(s) = &self.auth else {
            return None;
        };
        let sender = crate::auth::sender_address(&self.sender)?;
        let (contract, code_hash) =
            crate::auth::signed_target(&self.action, self.contract, self.code_hash);
        let body = crate::auth::TxBody {
            network: crate::auth::network_id(&self.chain_id),
            profile_hash: self.profile_hash,
            sender,
            scheme: s.scheme,
            public_key: &s.public_key,
            nonce: s.nonce,
            valid_until: s.valid_until,
            fuel_limit: self.fuel_limit,
            action: self.action,
            contract,
            code_hash,
            entry: &self.entry,
            input: &self.input,
        };
        Some(body.hash())
    }

    /// The value this receipt saw for `key` in the pre-state: `None` if the
    /// run did not read the key, `Some(None)` if it read it and it was absent.
    pub fn read_value(&self, key: &[u8]) -> Option<Option<&[u8]>> {
        self.reads
            .binary_search_by(|r| r.key.as_slice().cmp(key))
            .ok()
            .map(|i| self.reads[i].value.as_deref())
    }
}
