//! The tree's hashing: where a key lives, and what a leaf, an internal node
//! and an empty subtree hash to. docs/state-tree.md specifies the same.

use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// The hash of an empty subtree: 32 zero bytes.
pub const EMPTY: Hash = [0; 32];

/// Tag byte of a leaf's hash input.
pub const LEAF_TAG: u8 = 0x00;
/// Tag byte of an internal node's hash input.
pub const NODE_TAG: u8 = 0x01;

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

fn tagged(tag: u8, a: &Hash, b: &Hash) -> Hash {
    let mut input = [0u8; 65];
    input[0] = tag;
    input[1..33].copy_from_slice(a);
    input[33..].copy_from_slice(b);
    Sha256::digest(input).into()
}

/// A leaf's hash: `SHA-256(0x00 ‖ path ‖ value_hash)`. It does not depend on
/// the leaf's depth, so a leaf keeps its hash when the tree around it
/// changes shape.
pub fn leaf_hash(path: &Hash, value_hash: &Hash) -> Hash {
    tagged(LEAF_TAG, path, value_hash)
}

/// An internal node's hash: `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    tagged(NODE_TAG, left, right)
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
