#!/usr/bin/env python3
"""Check state transitions with Verity's state-tree proofs, from docs/state-tree.md only.

Usage: state_tree.py VECTORS.json

VECTORS.json is a list of cases, each
  {"pre_root": hex, "proof": hex,
   "reads":  [{"key": hex, "value": hex or null}, ...],
   "writes": [{"key": hex, "value": hex or null}, ...]}
For each case: decode the proof (only its canonical encoding for the keys
read and written is accepted), check it hashes to pre_root, check every
read (a value must be what the tree holds, null must be proven absent),
apply the writes, and print the post-state root in hex, one line per case,
or "error: <reason>" for a case that fails. Exits 0. Python 3 standard
library only.
"""
import hashlib
import json
import sys

EMPTY = bytes(32)

# SHA-256's round constants (FIPS 180-4, 4.2.2): the first 32 bits of the
# fractional parts of the cube roots of the first 64 primes.
K = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]
M32 = 0xFFFFFFFF


def rotr(x, n):
    return ((x >> n) | (x << (32 - n))) & M32


def compress(iv, block):
    """One SHA-256 compression (FIPS 180-4, 6.2.2) of a 64-byte block from
    the initial state iv (eight words); the new state as 32 big-endian bytes."""
    w = [int.from_bytes(block[i:i + 4], "big") for i in range(0, 64, 4)]
    for t in range(16, 64):
        s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3)
        s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10)
        w.append((w[t - 16] + s0 + w[t - 7] + s1) & M32)
    a, b, c, d, e, f, g, h = iv
    for t in range(64):
        t1 = (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[t] + w[t]) & M32
        t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) & M32
        a, b, c, d, e, f, g, h = (t1 + t2) & M32, a, b, c, (d + t1) & M32, e, f, g
    return b"".join(((x + y) & M32).to_bytes(4, "big") for x, y in zip(iv, (a, b, c, d, e, f, g, h)))


def H(b):
    return hashlib.sha256(b).digest()


def initial_state(name):
    d = H(name)
    return [int.from_bytes(d[i:i + 4], "big") for i in range(0, 32, 4)]


LEAF_IV = initial_state(b"verity.state-tree.leaf")
NODE_IV = initial_state(b"verity.state-tree.node")


def leaf_hash(path, value_hash):
    return compress(LEAF_IV, path + value_hash)


def node_hash(left, right):
    return compress(NODE_IV, left + right)


def self_test():
    """The compression is SHA-256's: from the standard IV, the padded block
    of "abc" compresses to SHA-256("abc")."""
    iv = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
    block = b"abc" + b"\x80" + bytes(59) + b"\x18"
    assert compress(iv, block) == H(b"abc"), "the compression function is wrong"


def bit(path, depth):
    return (path[depth // 8] >> (7 - depth % 8)) & 1


class Refused(Exception):
    pass


# A node is ("empty",), ("leaf", path, value_hash), ("opaque", hash) or
# ("branch", left, right); trees are nested tuples, rebuilt on write.


def decode(data, paths, removed):
    """Decodes the proof of the key paths `paths`, of which `removed` are
    removed, accepting only its canonical encoding."""
    pos = 0
    paths = sorted(set(paths) | set(removed))
    removed = sorted(set(removed))

    def take(n):
        nonlocal pos
        if pos + n > len(data):
            raise Refused("truncated")
        chunk = data[pos:pos + n]
        pos += n
        return chunk

    def node(depth, prefix, on, rem, beside):
        # on: the proven paths crossing this position; rem: the removed
        # ones; beside: whether the sibling lies on a removed path.
        tag = take(1)[0]
        if tag == 0:
            return ("empty",)
        if tag == 1:
            if not on and not beside:
                raise Refused("not canonical: a subtree no proven key crosses must be summarised")
            path, value = take(32), take(32)
            for d in range(depth):
                if bit(path, d) != bit(prefix, d):
                    raise Refused("misplaced leaf")
            return ("leaf", path, value)
        if tag == 2:
            h = take(32)
            if h == EMPTY:
                raise Refused("not canonical: an empty subtree must be tagged 0x00")
            if on:
                raise Refused("not canonical: a subtree a proven key crosses must be shown")
            if beside:
                raise Refused("not canonical: the neighbour of a removed key's path must be shown")
            return ("opaque", h)
        if tag == 3:
            if not on and not beside:
                raise Refused("not canonical: a subtree no proven key crosses must be summarised")
            if depth >= 256:
                raise Refused("too deep")
            right = bytearray(prefix)
            right[depth // 8] |= 0x80 >> (depth % 8)
            on_l = [p for p in on if bit(p, depth) == 0]
            on_r = [p for p in on if bit(p, depth) == 1]
            rem_l = [p for p in rem if bit(p, depth) == 0]
            rem_r = [p for p in rem if bit(p, depth) == 1]
            left_child = node(depth + 1, prefix, on_l, rem_l, bool(rem_r))
            right_child = node(depth + 1, bytes(right), on_r, rem_r, bool(rem_l))
            kinds = (left_child[0], right_child[0])
            if kinds in (("empty", "empty"), ("empty", "leaf"), ("leaf", "empty")):
                raise Refused("non-canonical branch")
            return ("branch", left_child, right_child)
        raise Refused("bad tag")

    sys.setrecursionlimit(2000)
    tree = node(0, EMPTY, paths, removed, False)
    if pos != len(data):
        raise Refused("trailing bytes")
    return tree


def root(n):
    if n[0] == "empty":
        return EMPTY
    if n[0] == "leaf":
        return leaf_hash(n[1], n[2])
    if n[0] == "opaque":
        return n[1]
    return node_hash(root(n[1]), root(n[2]))


def get(n, path):
    depth = 0
    while True:
        if n[0] == "empty":
            return None
        if n[0] == "leaf":
            return n[2] if n[1] == path else None
        if n[0] == "opaque":
            raise Refused("key not covered")
        n = n[1 + bit(path, depth)]
        depth += 1


def split(a, b, depth):
    """The subtree at depth holding leaves a and b (different paths)."""
    ba, bb = bit(a[1], depth), bit(b[1], depth)
    if ba != bb:
        return ("branch", a, b) if ba == 0 else ("branch", b, a)
    below = split(a, b, depth + 1)
    return ("branch", below, ("empty",)) if ba == 0 else ("branch", ("empty",), below)


def insert(n, depth, path, value):
    if n[0] == "empty":
        return ("leaf", path, value)
    if n[0] == "leaf":
        if n[1] == path:
            return ("leaf", path, value)
        return split(n, ("leaf", path, value), depth)
    if n[0] == "opaque":
        raise Refused("key not covered")
    if bit(path, depth) == 0:
        return ("branch", insert(n[1], depth + 1, path, value), n[2])
    return ("branch", n[1], insert(n[2], depth + 1, path, value))


def remove(n, depth, path):
    if n[0] == "empty":
        return n
    if n[0] == "leaf":
        return ("empty",) if n[1] == path else n
    if n[0] == "opaque":
        raise Refused("key not covered")
    left, right = n[1], n[2]
    if bit(path, depth) == 0:
        new_left, new_right = remove(left, depth + 1, path), right
    else:
        new_left, new_right = left, remove(right, depth + 1, path)
    if new_left is left and new_right is right:
        return n
    kinds = (new_left[0], new_right[0])
    if kinds == ("empty", "empty"):
        return ("empty",)
    if kinds == ("empty", "leaf"):
        return new_right
    if kinds == ("leaf", "empty"):
        return new_left
    if "empty" in kinds and "opaque" in kinds:
        raise Refused("removal beside a summarised subtree")
    return ("branch", new_left, new_right)


def check(case):
    paths = [H(bytes.fromhex(r["key"])) for r in case["reads"] + case["writes"]]
    removed = [H(bytes.fromhex(w["key"])) for w in case["writes"] if w["value"] is None]
    tree = decode(bytes.fromhex(case["proof"]), paths, removed)
    if root(tree) != bytes.fromhex(case["pre_root"]):
        raise Refused("root mismatch")
    for r in case["reads"]:
        found = get(tree, H(bytes.fromhex(r["key"])))
        expected = None if r["value"] is None else H(bytes.fromhex(r["value"]))
        if found != expected:
            raise Refused("read of %s is not what the pre-state holds" % r["key"])
    for w in case["writes"]:
        path = H(bytes.fromhex(w["key"]))
        if w["value"] is None:
            tree = remove(tree, 0, path)
        else:
            tree = insert(tree, 0, path, H(bytes.fromhex(w["value"])))
    return root(tree).hex()


def main():
    self_test()
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    for case in cases:
        try:
            print(check(case))
        except Refused as e:
            print("error: %s" % e)


if __name__ == "__main__":
    main()
