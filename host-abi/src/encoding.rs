//! The canonical binary encoding of receipts (specified in docs/receipt.md).
//!
//! All integers are little-endian. `bytes` is a `u32` length followed by that
//! many bytes; `string` is `bytes` holding UTF-8; `option<bytes>` is a `u8`
//! (0 absent, 1 present) followed, when present, by `bytes`; a list is a
//! `u32` count followed by its items. Decoding is strict: every accepted
//! byte string re-encodes to itself.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::contract::ContractId;
use crate::hash::Hash32;
use crate::receipt::{Action, Event, FORMAT_VERSION, ReadEntry, Receipt, WriteEntry};
use crate::status::{Status, TrapKind};

/// Why a byte string is not a canonical receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended inside the named field.
    Truncated {
        /// The field being read.
        field: &'static str,
    },
    /// The receipt's format version is not one this decoder reads.
    UnsupportedVersion(u32),
    /// A field held a value outside its domain.
    Invalid {
        /// The field.
        field: &'static str,
        /// What was wrong with it.
        reason: &'static str,
    },
    /// Bytes remained after the last field.
    TrailingBytes(usize),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated { field } => write!(f, "receipt is truncated inside `{field}`"),
            DecodeError::UnsupportedVersion(v) => {
                write!(
                    f,
                    "receipt format version {v} is not supported (expected {FORMAT_VERSION})"
                )
            }
            DecodeError::Invalid { field, reason } => write!(f, "invalid `{field}`: {reason}"),
            DecodeError::TrailingBytes(n) => write!(f, "{n} unexpected bytes after the receipt"),
        }
    }
}

impl core::error::Error for DecodeError {}

/// Where an encoding goes: a buffer, or straight into a hash.
pub(crate) trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Feeds SHA-256 in 512-byte chunks gathered on the stack: hashing a receipt
/// needs no heap buffer, and the hasher is not called once per field.
pub(crate) struct HashSink {
    hasher: sha2::Sha256,
    buf: [u8; 512],
    len: usize,
}

impl HashSink {
    pub(crate) fn new(domain: &[u8]) -> Self {
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        hasher.update(domain);
        HashSink {
            hasher,
            buf: [0; 512],
            len: 0,
        }
    }

    pub(crate) fn finish(mut self) -> [u8; 32] {
        use sha2::Digest;
        self.hasher.update(&self.buf[..self.len]);
        self.hasher.finalize().into()
    }
}

impl Sink for HashSink {
    fn put(&mut self, bytes: &[u8]) {
        use sha2::Digest;
        if self.len + bytes.len() > self.buf.len() {
            self.hasher.update(&self.buf[..self.len]);
            self.len = 0;
            if bytes.len() > self.buf.len() {
                self.hasher.update(bytes);
                return;
            }
        }
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }
}

struct Writer<'s, S: Sink>(&'s mut S);

impl<S: Sink> Writer<'_, S> {
    fn raw(&mut self, v: &[u8]) {
        self.0.put(v);
    }
    fn u8(&mut self, v: u8) {
        self.0.put(&[v]);
    }
    fn u32(&mut self, v: u32) {
        self.0.put(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.put(&v.to_le_bytes());
    }
    /// A length or count: `u32`, or for one of 2³² − 1 or more (which no
    /// receipt within the profile holds, but a receipt built by hand may)
    /// `u32::MAX` then the `u64`, so that encoding is total and still one
    /// byte string per value.
    fn len(&mut self, n: usize) {
        match u32::try_from(n) {
            Ok(short) if short != u32::MAX => self.u32(short),
            _ => {
                self.u32(u32::MAX);
                self.u64(n as u64);
            }
        }
    }
    fn bytes(&mut self, v: &[u8]) {
        self.len(v.len());
        self.0.put(v);
    }
    fn opt_bytes(&mut self, v: Option<&[u8]>) {
        match v {
            None => self.u8(0),
            Some(b) => {
                self.u8(1);
                self.bytes(b);
            }
        }
    }
}

/// Canonical encoding of `r`.
pub fn encode(r: &Receipt) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + r.input.len() + r.output.len());
    encode_into(r, &mut out);
    out
}

/// Writes the canonical encoding of `r` to `sink`.
pub(crate) fn encode_into<S: Sink>(r: &Receipt, sink: &mut S) {
    let mut w = Writer(sink);
    w.u32(r.format_version);
    w.raw(&r.profile_hash.0);
    w.u8(r.action.tag());
    if let Action::Deploy { salt } = &r.action {
        w.raw(&salt.0);
    }
    w.raw(&r.contract.0);
    w.raw(&r.code_hash.0);
    w.bytes(r.entry.as_bytes());
    w.bytes(&r.sender);
    w.bytes(&r.context);
    w.u64(r.height);
    w.u64(r.time);
    w.bytes(r.chain_id.as_bytes());
    w.bytes(&r.input);
    w.u64(r.fuel_limit);
    w.u64(r.fuel_used);
    w.u8(r.status.tag());
    match &r.status {
        Status::Success | Status::OutOfFuel => {}
        Status::Reverted { message } => w.bytes(message.as_bytes()),
        Status::Trapped { trap } => w.bytes(trap.name().as_bytes()),
        Status::Rejected { reason } => w.bytes(reason.as_bytes()),
    }
    w.raw(&r.pre_state_root.0);
    w.raw(&r.post_state_root.0);
    w.len(r.reads.len());
    for e in &r.reads {
        w.bytes(&e.key);
        w.opt_bytes(e.value.as_deref());
    }
    w.len(r.writes.len());
    for e in &r.writes {
        w.bytes(&e.key);
        w.opt_bytes(e.value.as_deref());
    }
    w.len(r.events.len());
    for e in &r.events {
        w.bytes(&e.topic);
        w.bytes(&e.data);
    }
    w.bytes(&r.output);
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.rest.len() < n {
            return Err(DecodeError::Truncated { field });
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }
    fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, field)?[0])
    }
    fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        let b = self.take(4, field)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8, field)?);
        Ok(u64::from_le_bytes(a))
    }
    fn hash(&mut self, field: &'static str) -> Result<Hash32, DecodeError> {
        let mut a = [0u8; 32];
        a.copy_from_slice(self.take(32, field)?);
        Ok(Hash32(a))
    }
    /// A length or count, as [`Writer::len`] writes it: the long form
    /// only for values that need it.
    fn len(&mut self, field: &'static str) -> Result<usize, DecodeError> {
        let short = self.u32(field)?;
        if short != u32::MAX {
            return Ok(short as usize);
        }
        let long = self.u64(field)?;
        if long < u64::from(u32::MAX) {
            return Err(DecodeError::Invalid {
                field,
                reason: "a long length form for a length that fits in u32",
            });
        }
        usize::try_from(long).map_err(|_| DecodeError::Truncated { field })
    }
    fn bytes(&mut self, field: &'static str) -> Result<Vec<u8>, DecodeError> {
        let n = self.len(field)?;
        Ok(self.take(n, field)?.to_vec())
    }
    fn string(&mut self, field: &'static str) -> Result<String, DecodeError> {
        String::from_utf8(self.bytes(field)?).map_err(|_| DecodeError::Invalid {
            field,
            reason: "not UTF-8",
        })
    }
    fn opt_bytes(&mut self, field: &'static str) -> Result<Option<Vec<u8>>, DecodeError> {
        match self.u8(field)? {
            0 => Ok(None),
            1 => Ok(Some(self.bytes(field)?)),
            _ => Err(DecodeError::Invalid {
                field,
                reason: "presence flag is neither 0 nor 1",
            }),
        }
    }
    /// A list count, checked against the bytes left so a hostile count cannot
    /// make the decoder loop or allocate beyond the input's size.
    fn count(&mut self, min_item_bytes: usize, field: &'static str) -> Result<usize, DecodeError> {
        let n = self.len(field)?;
        if n.saturating_mul(min_item_bytes) > self.rest.len() {
            return Err(DecodeError::Truncated { field });
        }
        Ok(n)
    }
}

/// A key and an optional value, as reads and writes hold them.
type KeyValue = (Vec<u8>, Option<Vec<u8>>);

fn key_values(r: &mut Reader<'_>, field: &'static str) -> Result<Vec<KeyValue>, DecodeError> {
    let n = r.count(5, field)?;
    let mut out: Vec<KeyValue> = Vec::with_capacity(n);
    for _ in 0..n {
        let key = r.bytes(field)?;
        if out.last().is_some_and(|(prev, _)| *prev >= key) {
            return Err(DecodeError::Invalid {
                field,
                reason: "keys are not strictly ascending",
            });
        }
        let value = r.opt_bytes(field)?;
        out.push((key, value));
    }
    Ok(out)
}

/// Decodes a canonical receipt encoding.
pub fn decode(bytes: &[u8]) -> Result<Receipt, DecodeError> {
    let mut r = Reader { rest: bytes };
    let format_version = r.u32("format_version")?;
    if format_version != FORMAT_VERSION {
        return Err(DecodeError::UnsupportedVersion(format_version));
    }
    let profile_hash = r.hash("profile_hash")?;
    let action = match r.u8("action")? {
        0 => Action::Run,
        1 => Action::Deploy {
            salt: r.hash("action")?,
        },
        2 => Action::Call,
        _ => {
            return Err(DecodeError::Invalid {
                field: "action",
                reason: "unknown action tag",
            });
        }
    };
    let contract = ContractId(r.hash("contract")?.0);
    let code_hash = r.hash("code_hash")?;
    let entry = r.string("entry")?;
    let sender = r.bytes("sender")?;
    let context = r.bytes("context")?;
    let height = r.u64("height")?;
    let time = r.u64("time")?;
    let chain_id = r.string("chain_id")?;
    let input = r.bytes("input")?;
    let fuel_limit = r.u64("fuel_limit")?;
    let fuel_used = r.u64("fuel_used")?;
    if fuel_used > fuel_limit {
        return Err(DecodeError::Invalid {
            field: "fuel_used",
            reason: "greater than fuel_limit",
        });
    }
    let status = match r.u8("status")? {
        0 => Status::Success,
        1 => Status::Reverted {
            message: r.string("status")?,
        },
        2 => {
            let name = r.string("status")?;
            let trap = TrapKind::from_name(&name).ok_or(DecodeError::Invalid {
                field: "status",
                reason: "unknown trap kind",
            })?;
            Status::Trapped { trap }
        }
        3 => Status::OutOfFuel,
        4 => Status::Rejected {
            reason: r.string("status")?,
        },
        _ => {
            return Err(DecodeError::Invalid {
                field: "status",
                reason: "unknown status tag",
            });
        }
    };
    let pre_state_root = r.hash("pre_state_root")?;
    let post_state_root = r.hash("post_state_root")?;
    let reads = key_values(&mut r, "reads")?
        .into_iter()
        .map(|(key, value)| ReadEntry { key, value })
        .collect();
    let writes: Vec<WriteEntry> = key_values(&mut r, "writes")?
        .into_iter()
        .map(|(key, value)| WriteEntry { key, value })
        .collect();
    let n_events = r.count(8, "events")?;
    let mut events = Vec::with_capacity(n_events);
    for _ in 0..n_events {
        let topic = r.bytes("events")?;
        let data = r.bytes("events")?;
        events.push(Event { topic, data });
    }
    let output = r.bytes("output")?;
    if !r.rest.is_empty() {
        return Err(DecodeError::TrailingBytes(r.rest.len()));
    }
    if !status.is_success() && (!writes.is_empty() || !events.is_empty() || !output.is_empty()) {
        return Err(DecodeError::Invalid {
            field: "status",
            reason: "a failed run has writes, events or output",
        });
    }
    if !status.is_success() && post_state_root != pre_state_root {
        return Err(DecodeError::Invalid {
            field: "post_state_root",
            reason: "a failed run changed the state root",
        });
    }
    Ok(Receipt {
        format_version,
        profile_hash,
        action,
        contract,
        code_hash,
        entry,
        sender,
        context,
        height,
        time,
        chain_id,
        input,
        fuel_limit,
        fuel_used,
        status,
        pre_state_root,
        post_state_root,
        reads,
        writes,
        events,
        output,
    })
}
