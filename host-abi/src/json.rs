//! The JSON form of a receipt, for humans and tools (feature `serde`).
//!
//! Byte fields are lowercase hex strings; `status` is the status name, with
//! `message` (reverted), `trap` (trapped) or `reason` (rejected) beside it;
//! `receipt_hash` is the hash of the canonical encoding, so a reader can check
//! that the JSON and its stated hash agree.
//!
//! ```
//! use verity_host_abi::json::ReceiptJson;
//! use verity_host_abi::{Action, ContractId, Hash32, Receipt, Status};
//!
//! let receipt = Receipt {
//!     format_version: 4,
//!     profile_hash: Hash32::of(b"profile"),
//!     action: Action::Run,
//!     contract: ContractId([1; 32]),
//!     code_hash: Hash32::of(b"code"),
//!     entry: "run".into(),
//!     sender: vec![],
//!     auth: Default::default(),
//!     context: vec![],
//!     height: 7,
//!     time: 1_700_000_000,
//!     chain_id: "verity-test".into(),
//!     input: vec![1, 2],
//!     fuel_limit: 10,
//!     fuel_used: 3,
//!     status: Status::Success,
//!     pre_state_root: Hash32::default(),
//!     post_state_root: Hash32::default(),
//!     reads: vec![],
//!     writes: vec![],
//!     calls: vec![],
//!     events: vec![],
//!     output: vec![0xab],
//! };
//! let json = ReceiptJson::from(&receipt);
//! assert_eq!(json.output, "ab");
//! let (back, stated) = json.into_receipt().unwrap();
//! assert_eq!(back, receipt);
//! assert_eq!(stated, receipt.hash());
//! ```

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::auth::{Auth, Scheme, Signed};
use crate::contract::ContractId;
use crate::hash::Hash32;
use crate::receipt::{Action, CallEntry, Event, ReadEntry, Receipt, WriteEntry};
use crate::status::{Status, TrapKind};

/// A key and an optional value, both hex.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyValueJson {
    /// Hex key.
    pub key: String,
    /// Hex value; `null` when absent (reads) or removed (writes).
    pub value: Option<String>,
}

/// A call of the call tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallJson {
    /// Depth (1 for a call by the transaction's contract).
    pub depth: u32,
    /// The calling contract, hex.
    pub caller: String,
    /// The called contract, hex.
    pub callee: String,
    /// The entry called.
    pub entry: String,
    /// SHA-256 of the input, hex.
    pub input_hash: String,
    /// `success`, `reverted`, `trapped` or `out_of_fuel`.
    pub status: String,
    /// The callee's message, for `reverted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The trap kind, for `trapped`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trap: Option<String>,
    /// Fuel used.
    pub fuel_used: u64,
}

/// An event: its contract, hex topic and data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventJson {
    /// The contract that emitted it, hex.
    pub contract: String,
    /// Hex topic.
    pub topic: String,
    /// Hex data.
    pub data: String,
}

/// How the sender was authorized: `{"kind": "asserted"}`, or `signed`
/// with the scheme, hex key and signature, nonce and validity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthJson {
    /// `asserted` or `signed`.
    pub kind: String,
    /// `ed25519` or `p256` (signed only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// The public key, hex (signed only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// The nonce (signed only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<u64>,
    /// The last valid height (signed only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<u64>,
    /// The signature, hex (signed only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// The transaction hash the signature is over, hex (signed only;
    /// derived from the other fields, checked when read back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_hash: Option<String>,
}

fn auth_json(r: &Receipt) -> AuthJson {
    match &r.auth {
        Auth::Asserted => AuthJson {
            kind: "asserted".into(),
            scheme: None,
            public_key: None,
            nonce: None,
            valid_until: None,
            signature: None,
            tx_hash: None,
        },
        Auth::Signed(s) => AuthJson {
            kind: "signed".into(),
            scheme: Some(s.scheme.name().into()),
            public_key: Some(hex::encode(&s.public_key)),
            nonce: Some(s.nonce),
            valid_until: Some(s.valid_until),
            signature: Some(hex::encode(&s.signature)),
            tx_hash: r.tx_hash().map(|h| h.to_hex()),
        },
    }
}

fn auth_from(a: &AuthJson) -> Result<Auth, JsonError> {
    let need = |v: Option<&str>, f: &str| {
        v.map(str::to_string)
            .ok_or_else(|| JsonError(format!("a signed `auth` needs `{f}`")))
    };
    match a.kind.as_str() {
        "asserted" => {
            let any = a.scheme.is_some()
                || a.public_key.is_some()
                || a.nonce.is_some()
                || a.valid_until.is_some()
                || a.signature.is_some()
                || a.tx_hash.is_some();
            if any {
                return Err(JsonError("an asserted `auth` has no other fields".into()));
            }
            Ok(Auth::Asserted)
        }
        "signed" => {
            let name = need(a.scheme.as_deref(), "scheme")?;
            let scheme = Scheme::from_name(&name)
                .ok_or_else(|| JsonError(format!("unknown scheme `{name}`")))?;
            Ok(Auth::Signed(Signed {
                scheme,
                public_key: unhex("auth", &need(a.public_key.as_deref(), "public_key")?)?,
                nonce: a
                    .nonce
                    .ok_or_else(|| JsonError("a signed `auth` needs `nonce`".into()))?,
                valid_until: a
                    .valid_until
                    .ok_or_else(|| JsonError("a signed `auth` needs `valid_until`".into()))?,
                signature: unhex("auth", &need(a.signature.as_deref(), "signature")?)?,
            }))
        }
        other => Err(JsonError(format!("unknown `auth` kind `{other}`"))),
    }
}

/// The JSON document of a receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptJson {
    /// Hash of the canonical encoding, lowercase hex.
    pub receipt_hash: String,
    /// Receipt format version.
    pub format_version: u32,
    /// Profile hash, hex.
    pub profile_hash: String,
    /// `run`, `deploy` or `call`.
    pub action: String,
    /// The deploy's salt, hex (deploys only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
    /// The contract's address, hex.
    pub contract: String,
    /// Code hash, hex.
    pub code_hash: String,
    /// Entry point name.
    pub entry: String,
    /// Sender, hex.
    pub sender: String,
    /// How the sender was authorized.
    pub auth: AuthJson,
    /// Context blob, hex.
    pub context: String,
    /// Block height.
    pub height: u64,
    /// Block time.
    pub time: u64,
    /// Chain id (text).
    pub chain_id: String,
    /// Input, hex.
    pub input: String,
    /// Fuel limit.
    pub fuel_limit: u64,
    /// Fuel used.
    pub fuel_used: u64,
    /// `success`, `reverted`, `trapped`, `out_of_fuel` or `rejected`.
    pub status: String,
    /// The guest's message, for `reverted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The trap kind, for `trapped`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trap: Option<String>,
    /// The reason, for `rejected`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// State root before, hex.
    pub pre_state_root: String,
    /// State root after, hex.
    pub post_state_root: String,
    /// Read set.
    pub reads: Vec<KeyValueJson>,
    /// Write set.
    pub writes: Vec<KeyValueJson>,
    /// The call tree, in pre-order.
    pub calls: Vec<CallJson>,
    /// Events.
    pub events: Vec<EventJson>,
    /// Output, hex.
    pub output: String,
}

/// Why a JSON document is not a receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonError(pub String);

impl core::fmt::Display for JsonError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

impl core::error::Error for JsonError {}

fn unhex(field: &str, s: &str) -> Result<Vec<u8>, JsonError> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(JsonError(format!("`{field}` must be lowercase hex")));
    }
    hex::decode(s).map_err(|e| JsonError(format!("`{field}` is not hex: {e}")))
}

fn unhash(field: &str, s: &str) -> Result<Hash32, JsonError> {
    let b = unhex(field, s)?;
    let a: [u8; 32] = b
        .try_into()
        .map_err(|_| JsonError(format!("`{field}` must be 32 bytes")))?;
    Ok(Hash32(a))
}

fn kv_json(key: &[u8], value: Option<&[u8]>) -> KeyValueJson {
    KeyValueJson {
        key: hex::encode(key),
        value: value.map(hex::encode),
    }
}

fn kv_from(field: &str, kv: &KeyValueJson) -> Result<(Vec<u8>, Option<Vec<u8>>), JsonError> {
    let key = unhex(field, &kv.key)?;
    let value = kv.value.as_deref().map(|v| unhex(field, v)).transpose()?;
    Ok((key, value))
}

/// A status's details as JSON fields: (message, trap, reason).
type Details = (Option<String>, Option<String>, Option<String>);

fn details(status: &Status) -> Details {
    match status {
        Status::Reverted { message } => (Some(message.clone()), None, None),
        Status::Trapped { trap } => (None, Some(trap.name().to_string()), None),
        Status::Rejected { reason } => (None, None, Some(reason.clone())),
        Status::Success | Status::OutOfFuel => (None, None, None),
    }
}

/// The status named `name` with the details given, each of which must be
/// present exactly when the status has it.
fn status_from(name: &str, (message, trap, reason): Details) -> Result<Status, JsonError> {
    let extra = match name {
        "reverted" => [false, true, true],
        "trapped" => [true, false, true],
        "rejected" => [true, true, false],
        _ => [true, true, true],
    };
    for (present, (field, must_be_absent)) in [message.is_some(), trap.is_some(), reason.is_some()]
        .into_iter()
        .zip([
            ("message", extra[0]),
            ("trap", extra[1]),
            ("reason", extra[2]),
        ])
    {
        if present && must_be_absent {
            return Err(JsonError(format!("status `{name}` has no field `{field}`")));
        }
    }
    let detail = |field: &str, v: Option<String>| {
        v.ok_or_else(|| JsonError(format!("status `{name}` needs the field `{field}`")))
    };
    Ok(match name {
        "success" => Status::Success,
        "out_of_fuel" => Status::OutOfFuel,
        "reverted" => Status::Reverted {
            message: detail("message", message)?,
        },
        "trapped" => {
            let kind = detail("trap", trap)?;
            let trap = TrapKind::from_name(&kind)
                .ok_or_else(|| JsonError(format!("unknown trap kind `{kind}`")))?;
            Status::Trapped { trap }
        }
        "rejected" => Status::Rejected {
            reason: detail("reason", reason)?,
        },
        other => return Err(JsonError(format!("unknown status `{other}`"))),
    })
}

fn call_json(c: &CallEntry) -> CallJson {
    let (message, trap, _) = details(&c.status);
    CallJson {
        depth: c.depth,
        caller: Hash32(c.caller.0).to_hex(),
        callee: Hash32(c.callee.0).to_hex(),
        entry: c.entry.clone(),
        input_hash: c.input_hash.to_hex(),
        status: c.status.name().to_string(),
        message,
        trap,
        fuel_used: c.fuel_used,
    }
}

fn call_from(c: &CallJson) -> Result<CallEntry, JsonError> {
    Ok(CallEntry {
        depth: c.depth,
        caller: ContractId(unhash("calls", &c.caller)?.0),
        callee: ContractId(unhash("calls", &c.callee)?.0),
        entry: c.entry.clone(),
        input_hash: unhash("calls", &c.input_hash)?,
        status: status_from(&c.status, (c.message.clone(), c.trap.clone(), None))?,
        fuel_used: c.fuel_used,
    })
}

impl From<&Receipt> for ReceiptJson {
    fn from(r: &Receipt) -> Self {
        let (message, trap, reason) = details(&r.status);
        ReceiptJson {
            receipt_hash: r.hash().to_hex(),
            format_version: r.format_version,
            profile_hash: r.profile_hash.to_hex(),
            action: r.action.name().to_string(),
            salt: match &r.action {
                Action::Deploy { salt } => Some(salt.to_hex()),
                _ => None,
            },
            contract: Hash32(r.contract.0).to_hex(),
            code_hash: r.code_hash.to_hex(),
            entry: r.entry.clone(),
            sender: hex::encode(&r.sender),
            auth: auth_json(r),
            context: hex::encode(&r.context),
            height: r.height,
            time: r.time,
            chain_id: r.chain_id.clone(),
            input: hex::encode(&r.input),
            fuel_limit: r.fuel_limit,
            fuel_used: r.fuel_used,
            status: r.status.name().to_string(),
            message,
            trap,
            reason,
            pre_state_root: r.pre_state_root.to_hex(),
            post_state_root: r.post_state_root.to_hex(),
            reads: r
                .reads
                .iter()
                .map(|e| kv_json(&e.key, e.value.as_deref()))
                .collect(),
            writes: r
                .writes
                .iter()
                .map(|e| kv_json(&e.key, e.value.as_deref()))
                .collect(),
            calls: r.calls.iter().map(call_json).collect(),
            events: r
                .events
                .iter()
                .map(|e| EventJson {
                    contract: Hash32(e.contract.0).to_hex(),
                    topic: hex::encode(&e.topic),
                    data: hex::encode(&e.data),
                })
                .collect(),
            output: hex::encode(&r.output),
        }
    }
}

impl ReceiptJson {
    /// Converts back to a [`Receipt`], returning it with the hash the JSON
    /// states. The caller decides what a stated hash that differs from
    /// [`Receipt::hash`] means (the CLI's `verify` calls it a mismatch).
    ///
    /// The receipt is also round-tripped through the canonical encoding, so
    /// anything the decoder would refuse (unsorted keys, a failed run with
    /// writes, an unsupported version) is refused here too.
    pub fn into_receipt(self) -> Result<(Receipt, Hash32), JsonError> {
        let stated = unhash("receipt_hash", &self.receipt_hash)?;
        let status = status_from(
            &self.status,
            (self.message.clone(), self.trap.clone(), self.reason.clone()),
        )?;
        let reads = self
            .reads
            .iter()
            .map(|kv| kv_from("reads", kv).map(|(key, value)| ReadEntry { key, value }))
            .collect::<Result<Vec<_>, _>>()?;
        let writes = self
            .writes
            .iter()
            .map(|kv| kv_from("writes", kv).map(|(key, value)| WriteEntry { key, value }))
            .collect::<Result<Vec<_>, _>>()?;
        let events = self
            .events
            .iter()
            .map(|e| {
                Ok(Event {
                    contract: ContractId(unhash("events", &e.contract)?.0),
                    topic: unhex("events", &e.topic)?,
                    data: unhex("events", &e.data)?,
                })
            })
            .collect::<Result<Vec<_>, JsonError>>()?;
        let action = match (self.action.as_str(), &self.salt) {
            ("run", None) => Action::Run,
            ("deploy", Some(salt)) => Action::Deploy {
                salt: unhash("salt", salt)?,
            },
            ("call", None) => Action::Call,
            ("upload", None) => Action::Upload,
            ("deploy", None) => return Err(JsonError("a deploy needs the field `salt`".into())),
            ("run" | "call" | "upload", Some(_)) => {
                return Err(JsonError(format!("a {} has no field `salt`", self.action)));
            }
            (other, _) => return Err(JsonError(format!("unknown action `{other}`"))),
        };
        let receipt = Receipt {
            format_version: self.format_version,
            profile_hash: unhash("profile_hash", &self.profile_hash)?,
            action,
            contract: ContractId(unhash("contract", &self.contract)?.0),
            code_hash: unhash("code_hash", &self.code_hash)?,
            entry: self.entry,
            sender: unhex("sender", &self.sender)?,
            auth: auth_from(&self.auth)?,
            context: unhex("context", &self.context)?,
            height: self.height,
            time: self.time,
            chain_id: self.chain_id.clone(),
            input: unhex("input", &self.input)?,
            fuel_limit: self.fuel_limit,
            fuel_used: self.fuel_used,
            status,
            pre_state_root: unhash("pre_state_root", &self.pre_state_root)?,
            post_state_root: unhash("post_state_root", &self.post_state_root)?,
            reads,
            writes,
            calls: self.calls.iter().map(call_from).collect::<Result<_, _>>()?,
            events,
            output: unhex("output", &self.output)?,
        };
        let canonical = Receipt::decode(&receipt.encode())
            .map_err(|e| JsonError(format!("not a canonical receipt: {e}")))?;
        if self.auth.tx_hash != auth_json(&canonical).tx_hash {
            return Err(JsonError(
                "`auth.tx_hash` is not the hash of the transaction the receipt holds".into(),
            ));
        }
        Ok((canonical, stated))
    }
}
