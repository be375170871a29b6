//! Contract storage: bytes under byte keys, and typed values through
//! [`codec`](crate::codec).
//!
//! Reads see the run's own earlier writes. Writes become state only if the
//! run ends with status `success`.
//!
//! ```no_run
//! use verity_sdk::storage::{Item, Map};
//! use verity_sdk::Address;
//!
//! const SUPPLY: Item<u64> = Item::new(b"supply");
//! const BALANCES: Map<Address, u64> = Map::new(b"bal");
//!
//! let who = Address([1; 32]);
//! let balance = BALANCES.get(&who).unwrap_or(0);
//! BALANCES.set(&who, &(balance + 10));
//! SUPPLY.set(&(SUPPLY.get().unwrap_or(0) + 10));
//! ```

use core::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::env::revert;
use crate::scratch::{Guard, TOO_LARGE};
use crate::{codec, host};

/// Longest key the default profile accepts (`max_key_bytes`).
pub const MAX_KEY_BYTES: usize = verity_host_abi::Limits::DEFAULT.max_key_bytes as usize;

/// Whether `key` holds a value.
pub fn has(key: &[u8]) -> bool {
    host::storage_read(key, &mut []).is_some()
}

/// Reads the value under `key` into `buf`: `Ok(Some(value))`, `Ok(None)` if
/// absent, or `Err(len)` if the value (of `len` bytes) does not fit in `buf`.
pub fn get_bytes<'b>(key: &[u8], buf: &'b mut [u8]) -> Result<Option<&'b [u8]>, usize> {
    match host::storage_read(key, buf) {
        None => Ok(None),
        Some(n) if n <= buf.len() => Ok(buf.get(..n)),
        Some(n) => Err(n),
    }
}

/// Stores `value` under `key`.
pub fn set_bytes(key: &[u8], value: &[u8]) {
    host::storage_write(key, value)
}

/// Removes `key` (nothing happens if it is absent).
pub fn remove(key: &[u8]) {
    host::storage_remove(key)
}

/// Reads and decodes the value under `key`. Reverts if the stored bytes are
/// not an encoding of `T`.
pub fn get<T: DeserializeOwned>(key: &[u8]) -> Option<T> {
    let mut g = Guard::take();
    let bytes = read_value(key, g.buf())?;
    match codec::decode(bytes) {
        Some(v) => Some(v),
        None => revert("stored value does not decode"),
    }
}

fn read_value<'b>(key: &[u8], buf: &'b mut [u8]) -> Option<&'b [u8]> {
    match get_bytes(key, buf) {
        Ok(v) => v,
        Err(_) => revert(TOO_LARGE),
    }
}

/// Encodes `value` and stores it under `key`.
pub fn set<T: Serialize + ?Sized>(key: &[u8], value: &T) {
    let mut g = Guard::take();
    match codec::encode(value, g.buf()) {
        Some(bytes) => set_bytes(key, bytes),
        None => revert(TOO_LARGE),
    }
}

/// One typed value under a fixed key (as in cw-storage-plus).
pub struct Item<T> {
    key: &'static [u8],
    _t: PhantomData<fn() -> T>,
}

impl<T: Serialize + DeserializeOwned> Item<T> {
    /// The item stored under `key`.
    pub const fn new(key: &'static [u8]) -> Self {
        Item {
            key,
            _t: PhantomData,
        }
    }
    /// The value, if set.
    pub fn get(&self) -> Option<T> {
        get(self.key)
    }
    /// Sets the value.
    pub fn set(&self, value: &T) {
        set(self.key, value)
    }
    /// Whether the value is set.
    pub fn exists(&self) -> bool {
        has(self.key)
    }
    /// Removes the value.
    pub fn remove(&self) {
        remove(self.key)
    }
}

/// Typed values under `prefix ++ 0x00 ++ encode(key)` (as in
/// cw-storage-plus). The separator keeps one map's keys from colliding with
/// another's whose prefix extends this one.
pub struct Map<K, V> {
    prefix: &'static [u8],
    _kv: PhantomData<fn(K) -> V>,
}

impl<K: Serialize, V: Serialize + DeserializeOwned> Map<K, V> {
    /// The map whose keys start with `prefix`.
    pub const fn new(prefix: &'static [u8]) -> Self {
        Map {
            prefix,
            _kv: PhantomData,
        }
    }

    fn with_key<R>(&self, k: &K, f: impl FnOnce(&[u8]) -> R) -> R {
        let mut buf = [0u8; MAX_KEY_BYTES];
        let n = self.prefix.len();
        let (Some(head), Some(sep)) = (buf.get_mut(..n), Some(n)) else {
            revert("map prefix is too long");
        };
        head.copy_from_slice(self.prefix);
        let Some((sep_byte, rest)) = buf.get_mut(sep..).and_then(|t| t.split_first_mut()) else {
            revert("map prefix is too long");
        };
        *sep_byte = 0;
        let Some(enc) = codec::encode(k, rest) else {
            revert("map key is too long");
        };
        let len = n + 1 + enc.len();
        f(buf.get(..len).unwrap_or_default())
    }

    /// The value under `k`, if any.
    pub fn get(&self, k: &K) -> Option<V> {
        self.with_key(k, get)
    }
    /// Sets the value under `k`.
    pub fn set(&self, k: &K, v: &V) {
        self.with_key(k, |key| set(key, v))
    }
    /// Whether `k` has a value.
    pub fn has(&self, k: &K) -> bool {
        self.with_key(k, has)
    }
    /// Removes the value under `k`.
    pub fn remove(&self, k: &K) {
        self.with_key(k, remove)
    }
}

/// An ordered list of typed values (NEAR's `Vector`, a `Vec` in storage):
/// element `i` under `prefix ‖ 0x00 ‖ encode(i as u64)`, a [`Map<u64, T>`]'s
/// layout, and the length under `prefix ‖ 0x00` alone (no `u64` encodes to
/// nothing, so it is no element's key).
///
/// The host lists no keys: they are hashed into the state tree, so a
/// witness proves single keys, never that a range is complete
/// (docs/sdk.md, "Listing what a contract holds"). A contract that must
/// enumerate (a ballot's proposals) keeps its own index like this one:
/// every element and the length are single keys a witness covers.
///
/// ```
/// use verity_sdk::storage::Vector;
/// use verity_sdk::testing::TestEnv;
///
/// const PROPOSALS: Vector<u32> = Vector::new(b"proposals");
///
/// let mut env = TestEnv::new();
/// env.invoke(|| {
///     assert_eq!(PROPOSALS.push(&7), 0);
///     assert_eq!(PROPOSALS.push(&8), 1);
///     assert_eq!(PROPOSALS.iter().collect::<Vec<_>>(), [7, 8]);
///     assert_eq!(PROPOSALS.swap_remove(0), Some(7));
///     assert_eq!((PROPOSALS.len(), PROPOSALS.get(0)), (1, Some(8)));
/// })
/// .unwrap();
/// ```
pub struct Vector<T> {
    prefix: &'static [u8],
    _t: PhantomData<fn() -> T>,
}

impl<T: Serialize + DeserializeOwned> Vector<T> {
    /// The list whose keys start with `prefix`.
    pub const fn new(prefix: &'static [u8]) -> Self {
        Vector {
            prefix,
            _t: PhantomData,
        }
    }

    fn items(&self) -> Map<u64, T> {
        Map::new(self.prefix)
    }

    fn with_len_key<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        let mut buf = [0u8; MAX_KEY_BYTES];
        let n = self.prefix.len();
        let Some(key) = buf.get_mut(..n + 1) else {
            revert("vector prefix is too long");
        };
        if let Some((sep, head)) = key.split_last_mut() {
            head.copy_from_slice(self.prefix);
            *sep = 0;
        }
        f(key)
    }

    /// How many elements it holds.
    pub fn len(&self) -> u64 {
        self.with_len_key(get::<u64>).unwrap_or(0)
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn set_len(&self, len: u64) {
        match len {
            0 => self.with_len_key(remove),
            n => self.with_len_key(|k| set(k, &n)),
        }
    }

    /// Element `i`, if `i` is below the length.
    pub fn get(&self, i: u64) -> Option<T> {
        self.items().get(&i)
    }

    /// Appends `value`; returns its index.
    pub fn push(&self, value: &T) -> u64 {
        let n = self.len();
        self.items().set(&n, value);
        self.set_len(n + 1);
        n
    }

    /// Removes and returns the last element.
    pub fn pop(&self) -> Option<T> {
        let n = self.len().checked_sub(1)?;
        let last = self.items().get(&n);
        self.items().remove(&n);
        self.set_len(n);
        last
    }

    /// Replaces element `i`; false (and nothing written) if `i` is not
    /// below the length.
    pub fn set(&self, i: u64, value: &T) -> bool {
        if i >= self.len() {
            return false;
        }
        self.items().set(&i, value);
        true
    }

    /// Removes element `i`, moving the last element into its place (two
    /// writes whatever the length); `None` if `i` is not below it.
    pub fn swap_remove(&self, i: u64) -> Option<T> {
        let n = self.len();
        if i >= n {
            return None;
        }
        let removed = self.items().get(&i);
        if let Some(last) = self.pop()
            && i + 1 < n
        {
            self.items().set(&i, &last);
        }
        removed
    }

    /// The elements in order, each read when reached.
    pub fn iter(&self) -> impl Iterator<Item = T> + '_ {
        (0..self.len()).filter_map(move |i| self.get(i))
    }
}
