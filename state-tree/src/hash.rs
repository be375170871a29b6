//! The tree's hashing: where a key lives, and what a leaf, an internal node
//! and an empty subtree hash to. docs/state-tree.md specifies the same.

use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// The hash of an empty subtree: 32 zero bytes.
pub const EMPTY: Hash = [0; 32];

/// The initial state of a leaf's compression: SHA-256 of
/// `verity.state-tree.leaf`, as eight big-endian words.
pub const LEAF_IV: [u32; 8] = [
    0xadce33b9, 0xb80d36a7, 0x219598d5, 0x81a56505, 0xbb56380f, 0xef533bd9, 0xfaf232b2, 0xe4694ab8,
];
/// The initial state of an internal node's compression: SHA-256 of
/// `verity.state-tree.node`, as eight big-endian words.
pub const NODE_IV: [u32; 8] = [
    0x622a5a62, 0x65319719, 0xf2ad5554, 0x07b94e70, 0x21383553, 0x00bedd36, 0xdf0b1c5a, 0xb56b531a,
];

/// The 256-bit path of `key` in the tree: `SHA-256(key)`, read from its
/// most significant bit.
///
/// ```
/// let path = verity_state_tree::key_path(b"abc");
/// assert_eq!(path[0], 0xba); // SHA-256("abc") = ba7816bf...
/// ```
pub fn key_path(key: &[u8]) -> Hash {
    Sha256::digest(key).into()
}

/// What a leaf commits to of its value: `SHA-256(value)`.
pub fn value_hash(value: &[u8]) -> Hash {
    Sha256::digest(value).into()
}

/// One SHA-256 compression (FIPS 180-4, 6.2.2) of the 64-byte block
/// `a ‖ b` from the initial state `iv`; the result is the final state as
/// eight big-endian words. No padding block: the input is always one block.
fn compress(iv: &[u32; 8], a: &Hash, b: &Hash) -> Hash {
    let mut state = *iv;
    let mut block = sha2::digest::generic_array::GenericArray::default();
    block[..32].copy_from_slice(a);
    block[32..].copy_from_slice(b);
    sha2::compress256(&mut state, core::slice::from_ref(&block));
    let mut out = [0u8; 32];
    for (bytes, word) in out.chunks_exact_mut(4).zip(state) {
        bytes.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// A leaf's hash: one compression of `path ‖ value_hash` from [`LEAF_IV`].
/// It does not depend on the leaf's depth, so a leaf keeps its hash when
/// the tree around it changes shape.
pub fn leaf_hash(path: &Hash, value_hash: &Hash) -> Hash {
    compress(&LEAF_IV, path, value_hash)
}

/// An internal node's hash: one compression of `left ‖ right` from
/// [`NODE_IV`].
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    compress(&NODE_IV, left, right)
}

/// Bit `depth` of `path` (0 = the most significant bit of byte 0): 0 goes
/// left, 1 goes right.
pub fn bit(path: &Hash, depth: usize) -> usize {
    usize::from(path[depth / 8] >> (7 - depth % 8) & 1)
}

/// Whether `a` and `b` agree on their first `depth` bits.
pub(crate) fn same_prefix(a: &Hash, b: &Hash, depth: usize) -> bool {
    let whole = depth / 8;
    if a[..whole] != b[..whole] {
        return false;
    }
    let rest = depth % 8;
    rest == 0 || (a[whole] ^ b[whole]) >> (8 - rest) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_initial_states_are_the_hashes_of_their_names() {
        for (iv, name) in [
            (LEAF_IV, &b"verity.state-tree.leaf"[..]),
            (NODE_IV, b"verity.state-tree.node"),
        ] {
            let digest: Hash = Sha256::digest(name).into();
            let words: [u32; 8] = core::array::from_fn(|i| {
                u32::from_be_bytes(digest[4 * i..4 * i + 4].try_into().unwrap())
            });
            assert_eq!(iv, words);
        }
    }

    /// From the standard IV, one compression of the padded block of "abc"
    /// is SHA-256("abc"): the compression is the standard one.
    #[test]
    fn compression_is_sha256_s() {
        let iv = [
            0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
            0x5be0cd19,
        ];
        let mut block = [0u8; 64];
        block[..3].copy_from_slice(b"abc");
        block[3] = 0x80;
        block[63] = 24;
        let (a, b) = block.split_at(32);
        let out = compress(&iv, a.try_into().unwrap(), b.try_into().unwrap());
        assert_eq!(out, <Hash>::from(Sha256::digest(b"abc")));
    }

    #[test]
    fn bits_are_read_from_the_most_significant() {
        let mut p = EMPTY;
        p[0] = 0b1000_0001;
        p[1] = 0b0100_0000;
        assert_eq!(bit(&p, 0), 1);
        assert_eq!(bit(&p, 1), 0);
        assert_eq!(bit(&p, 7), 1);
        assert_eq!(bit(&p, 9), 1);
        assert_eq!(bit(&p, 255), 0);
    }

    #[test]
    fn prefixes() {
        let a = [0xff; 32];
        let mut b = a;
        b[2] = 0xfe; // differs at bit 23
        assert!(same_prefix(&a, &b, 23));
        assert!(!same_prefix(&a, &b, 24));
        assert!(same_prefix(&a, &b, 0));
        assert!(same_prefix(&a, &a, 256));
    }
}
