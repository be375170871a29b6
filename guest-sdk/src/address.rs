//! 32-byte account addresses.

use core::fmt;

use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A 32-byte address (a public key, a hash of one, or any identifier the
/// embedder's senders use). Encodes as its 32 bytes.
///
/// ```
/// use verity_sdk::Address;
/// let a = Address([7; 32]);
/// let mut buf = [0u8; 40];
/// assert_eq!(verity_sdk::codec::encode(&a, &mut buf).unwrap(), &[7u8; 32][..]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address(pub [u8; 32]);

// Address (de)serialises exactly as serde's `[u8; 32]` (a 32-tuple of bytes),
// but in loops the optimiser cannot unroll (`black_box` hides the trip
// count): serde's own impls become 32 inlined element calls, about 2 KiB of
// contract code per direction.

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(32)?;
        for b in self.0.iter() {
            t.serialize_element(b)?;
        }
        t.end()
    }
}

impl<'de> Deserialize<'de> for Address {
    // One shared copy: inlined, the 32-byte loop lands in every entry point.
    #[inline(never)]
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Address;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("32 bytes")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Address, A::Error> {
                let mut out = [0u8; 32];
                for (i, b) in out.iter_mut().enumerate() {
                    *b = seq
                        .next_element()?
                        .ok_or_else(|| de::Error::invalid_length(i, &self))?;
                }
                Ok(Address(out))
            }
        }
        d.deserialize_tuple(32, V)
    }
}

impl Address {
    /// The address's bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl From<[u8; 32]> for Address {
    fn from(b: [u8; 32]) -> Self {
        Address(b)
    }
}

impl TryFrom<&[u8]> for Address {
    type Error = core::array::TryFromSliceError;
    fn try_from(b: &[u8]) -> Result<Self, Self::Error> {
        <[u8; 32]>::try_from(b).map(Address)
    }
}

/// A 64-byte signature (Ed25519's `R ‖ S`, ECDSA's `r ‖ s`): an argument
/// type the spec describes as `[u8; 64]`, which `verity run --arg` takes in
/// hex. Encodes as its 64 bytes (serde has no `[u8; 64]`).
///
/// ```
/// use verity_sdk::Signature;
/// let s = Signature([9; 64]);
/// let mut buf = [0u8; 80];
/// assert_eq!(verity_sdk::codec::encode(&s, &mut buf).unwrap(), &[9u8; 64][..]);
/// let back: Signature = verity_sdk::codec::decode(&[9u8; 64]).unwrap();
/// assert_eq!(back, s);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Signature(pub [u8; 64]);

impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(64)?;
        for b in self.0.iter() {
            t.serialize_element(b)?;
        }
        t.end()
    }
}

impl<'de> Deserialize<'de> for Signature {
    #[inline(never)]
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Signature;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("64 bytes")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Signature, A::Error> {
                let mut out = [0u8; 64];
                for (i, b) in out.iter_mut().enumerate() {
                    *b = seq
                        .next_element()?
                        .ok_or_else(|| de::Error::invalid_length(i, &self))?;
                }
                Ok(Signature(out))
            }
        }
        d.deserialize_tuple(64, V)
    }
}
