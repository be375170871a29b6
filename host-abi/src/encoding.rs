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

use crate::auth::{Auth, Scheme, Signed};
use crate::contract::ContractId;
use crate::hash::Hash32;
use crate::receipt::{Action, CallEntry, Event, FORMAT_VERSION, ReadEntry, Receipt, WriteEntry};
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

pub(crate) struct Writer<'s, S: Sink>(pub(crate) &'s mut S);

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

/// Writes the canonical encoding of `r` to `sink`: its fields in table
/// order ([`Receipt::FIELDS`]), each in its type's encoding.
pub(crate) fn encode_into<S: Sink>(r: &Receipt, sink: &mut S) {
    crate::receipt::encode_fields(r, &mut Writer(sink));
}

pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }
    pub(crate) fn remaining(&self) -> usize {
        self.rest.len()
    }
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

/// A receipt field's type: how it is written and read (docs/receipt.md,
/// "Encoding"). Every value has exactly one encoding, and `decode` accepts
/// nothing else.
pub(crate) trait Canonical: Sized {
    fn encode<S: Sink>(&self, w: &mut Writer<'_, S>);
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError>;
}

impl Canonical for u32 {
    fn encode<S: Sink>(&self, w: &mut Writer<'_, S>) {
        w.u32(*self);
    }
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        r.u32(field)
    }
}

impl Canonical for u64 {
    fn encode<S: Sink>(&self, w: &mut Writer<'_, S>) {
        w.u64(*self);
    }
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        r.u64(field)
    }
}

impl Canonical for Hash32 {
    fn encode<S: Sink>(&self, w: &mut Writer<'_, S>) {
        w.raw(&self.0);
    }
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        r.hash(field)
    }
}

impl Canonical for ContractId {
    fn encode<S: Sink>(&self, w: &mut Writer<'_, S>) {
        w.raw(&self.0);
    }
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        Ok(ContractId(r.hash(field)?.0))
    }
}

impl Canonical for String {
    fn encode<S: Sink>(&self, w: &mut Writer<'_, S>) {
        w.bytes(self.as_bytes());
    }
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        r.string(field)
    }
}

impl Canonical for Vec<u8> {
    fn encode<S: Sink>(&self, w: &mut Writer<'_, S>) {
        w.bytes(self);
    }
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        r.bytes(field)
    }
}

impl Canonical for Action {
    fn encode<S: Sink>(&self, w: &mut Writer<'_, S>) {
        w.u8(self.tag());
        if let Action::Deploy { salt } = self {
            w.raw(&salt.0);
        }
    }
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        match r.u8(field)? {
            0 => Ok(Action::Run),
            1 => Ok(Action::Deploy {
                salt: r.hash(field)?,
            }),
            2 => Ok(Action::Call),
            3 => Ok(Action::Upload),
            _ => Err(DecodeError::Invalid {
                field,
                reason: "unknown action tag",
            }),
        }
    }
}

impl Canonical for Status {
    fn encode<S: Sink>(&self, w: &mut Writer<'_, S>) {
        w.u8(self.tag());
        match self {
            Status::Success | Status::OutOfFuel => {}
            Status::Reverted { message } => w.bytes(message.as_bytes()),
            Status::Trapped { trap } => w.bytes(trap.name().as_bytes()),
            Status::Rejected { reason } => w.bytes(reason.as_bytes()),
        }
    }
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        match r.u8(field)? {
            0 => Ok(Status::Success),
            1 => Ok(Status::Reverted {
                message: r.string(field)?,
            }),
            2 => {
                let name = r.string(field)?;
                let trap = TrapKind::from_name(&name).ok_or(DecodeError::Invalid {
                    field,
                    reason: "unknown trap kind",
                })?;
                Ok(Status::Trapped { trap })
            }
            3 => Ok(Status::OutOfFuel),
            4 => Ok(Status::Rejected {
                reason: r.string(field)?,
            }),
            _ => Err(DecodeError::Invalid {
                field,
                reason: "unknown status tag",
            }),
        }
    }
}

/// A key and an optional value, as reads and writes hold them.
type KeyValue = (Vec<u8>, Option<Vec<u8>>);

fn encode_key_values<'e, S: Sink>(
    w: &mut Writer<'_, S>,
    n: usize,
    entries: impl Iterator<Item = (&'e [u8], Option<&'e [u8]>)>,
) {
    w.len(n);
    for (key, value) in entries {
        w.bytes(key);
        w.opt_bytes(value);
    }
}

/// A list of entries with strictly ascending keys.
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

/// The read set and the write set: the same encoding, sorted keys.
macro_rules! key_value_list {
    ($($entry:ident),*) => {$(
        impl Canonical for Vec<$entry> {
            fn encode<S: Sink>(&self, w: &mut Writer<'_, S>) {
                let entries = self.iter().map(|e| (e.key.as_slice(), e.value.as_deref()));
                encode_key_values(w, self.len(), entries);
            }
            fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
                Ok(key_values(r, field)?
                    .into_iter()
                    .map(|(key, value)| $entry { key, value })
                    .collect())
            }
        }
    )*};
}

key_value_list!(ReadEntry, WriteEntry);

impl Canonical for Vec<Event> {
    fn encode<S: Sink>(&self, w: &mut Writer<'_, S>) {
        w.len(self.len());
        for e in self {
            w.raw(&e.contract.0);
            w.bytes(&e.topic);
            w.bytes(&e.data);
        }
    }
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        let n = r.count(40, field)?;
        let mut events = Vec::with_capacity(n);
        for _ in 0..n {
            let contract = ContractId::decode(r, field)?;
            let topic = r.bytes(field)?;
            let data = r.bytes(field)?;
            events.push(Event {
                contract,
                topic,
                data,
            });
        }
        Ok(events)
    }
}

/// An authorization's encoding: u8 0 for asserted; u8 1 for signed, then
/// u8 scheme, bytes public key (of the scheme's size), u64 nonce, u64
/// valid until, bytes signature (64 bytes).
impl Canonical for Auth {
    fn encode<S: Sink>(&self, w: &mut Writer<'_, S>) {
        match self {
            Auth::Asserted => w.u8(0),
            Auth::Signed(s) => {
                w.u8(1);
                w.u8(s.scheme.tag());
                w.bytes(&s.public_key);
                w.u64(s.nonce);
                w.u64(s.valid_until);
                w.bytes(&s.signature);
            }
        }
    }
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        let invalid = |reason| DecodeError::Invalid { field, reason };
        match r.u8(field)? {
            0 => Ok(Auth::Asserted),
            1 => {
                let scheme = Scheme::from_tag(r.u8(field)?).ok_or(invalid("unknown scheme"))?;
                let public_key = r.bytes(field)?;
                if public_key.len() != scheme.key_bytes() {
                    return Err(invalid("a public key of the wrong size for its scheme"));
                }
                let nonce = r.u64(field)?;
                let valid_until = r.u64(field)?;
                let signature = r.bytes(field)?;
                if signature.len() != crate::auth::SIGNATURE_BYTES {
                    return Err(invalid("a signature that is not 64 bytes"));
                }
                Ok(Auth::Signed(Signed {
                    scheme,
                    public_key,
                    nonce,
                    valid_until,
                    signature,
                }))
            }
            _ => Err(invalid("unknown authorization tag")),
        }
    }
}

/// A call's encoding: `u32` depth, 32 bytes caller, 32 bytes callee,
/// string entry, 32 bytes input hash, status, `u64` fuel used.
impl Canonical for Vec<CallEntry> {
    fn encode<S: Sink>(&self, w: &mut Writer<'_, S>) {
        w.len(self.len());
        for c in self {
            c.depth.encode(w);
            c.caller.encode(w);
            c.callee.encode(w);
            c.entry.encode(w);
            c.input_hash.encode(w);
            c.status.encode(w);
            c.fuel_used.encode(w);
        }
    }
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        // depth, two addresses, entry length, hash, status tag, fuel.
        let n = r.count(4 + 32 + 32 + 4 + 32 + 1 + 8, field)?;
        let mut calls: Vec<CallEntry> = Vec::with_capacity(n);
        for _ in 0..n {
            let depth = u32::decode(r, field)?;
            let most = calls.last().map_or(1, |c| c.depth.saturating_add(1));
            if depth == 0 || depth > most {
                return Err(DecodeError::Invalid {
                    field,
                    reason: "depths are not a pre-order call tree",
                });
            }
            let call = CallEntry {
                depth,
                caller: ContractId::decode(r, field)?,
                callee: ContractId::decode(r, field)?,
                entry: String::decode(r, field)?,
                input_hash: Hash32::decode(r, field)?,
                status: Status::decode(r, field)?,
                fuel_used: u64::decode(r, field)?,
            };
            if matches!(call.status, Status::Rejected { .. }) {
                return Err(DecodeError::Invalid {
                    field,
                    reason: "a call is never rejected",
                });
            }
            calls.push(call);
        }
        Ok(calls)
    }
}

/// Decodes a canonical receipt encoding: the version first (a receipt of
/// another format is named as such, not as a malformed one), then every
/// field in table order, then the invariants across fields.
pub fn decode(bytes: &[u8]) -> Result<Receipt, DecodeError> {
    let format_version = Reader::new(bytes).u32("format_version")?;
    if format_version != FORMAT_VERSION {
        return Err(DecodeError::UnsupportedVersion(format_version));
    }
    let mut r = Reader::new(bytes);
    let receipt = crate::receipt::decode_fields(&mut r)?;
    if r.remaining() != 0 {
        return Err(DecodeError::TrailingBytes(r.remaining()));
    }
    let fail = |field, reason| Err(DecodeError::Invalid { field, reason });
    if receipt.fuel_used > receipt.fuel_limit {
        return fail("fuel_used", "greater than fuel_limit");
    }
    let status = &receipt.status;
    // An admitted signed transaction consumes its nonce whatever its run
    // did: its write set holds that key, the only write a failed run has.
    let rejected = matches!(status, Status::Rejected { .. });
    let nonce = match &receipt.auth {
        Auth::Signed(s) if !rejected => {
            let Some(sender) = crate::auth::sender_address(&receipt.sender) else {
                return fail("sender", "a signed sender that is not a 32-byte address");
            };
            let (key, value) = s.nonce_entry(&sender);
            let found = receipt.writes.iter().find(|w| w.key == key);
            if found.is_none_or(|w| w.value.as_deref() != Some(&value[..])) {
                return fail(
                    "writes",
                    "a signed transaction that does not consume its nonce",
                );
            }
            1
        }
        _ => 0,
    };
    if !status.is_success()
        && (receipt.writes.len() > nonce
            || !receipt.calls.is_empty()
            || !receipt.events.is_empty()
            || !receipt.output.is_empty())
    {
        return fail("status", "a failed run has writes, calls, events or output");
    }
    if !status.is_success()
        && receipt.writes.is_empty()
        && receipt.post_state_root != receipt.pre_state_root
    {
        return fail("post_state_root", "a failed run changed the state root");
    }
    Ok(receipt)
}
