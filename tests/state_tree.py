#!/usr/bin/env python3
"""Check state transitions with Verity's state-tree proofs, from docs/state-tree.md only.

Usage: state_tree.py VECTORS.json

VECTORS.json is a list of cases, each
  {"pre_root": hex, "proof": hex,
   "reads":  [{"key": hex, "value": hex or null}, ...],
   "writes": [{"key": hex, "value": hex or null}, ...]}
For each case: decode the proof, check it hashes to pre_root, check every
read (a value must be what the tree holds, null must be proven absent),
apply the writes, and print the post-state root in hex, one line per case,
or "error: <reason>" for a case that fails. Exits 0. Python 3 standard
library only.
"""
import hashlib
import json
import sys

EMPTY = bytes(32)


def H(b):
    return hashlib.sha256(b).digest()


def leaf_hash(path, value_hash):
    return H(b"\x00" + path + value_hash)


def node_hash(left, right):
    return H(b"\x01" + left + right)


def bit(path, depth):
    return (path[depth // 8] >> (7 - depth % 8)) & 1


class Refused(Exception):
    pass


# A node is ("empty",), ("leaf", path, value_hash), ("opaque", hash) or
# ("branch", left, right); trees are nested tuples, rebuilt on write.


def decode(data):
    pos = 0

    def take(n):
        nonlocal pos
        if pos + n > len(data):
            raise Refused("truncated")
        chunk = data[pos:pos + n]
        pos += n
        return chunk

    def node(depth, prefix):
        tag = take(1)[0]
        if tag == 0:
            return ("empty",)
        if tag == 1:
            path, value = take(32), take(32)
            for d in range(depth):
                if bit(path, d) != bit(prefix, d):
                    raise Refused("misplaced leaf")
            return ("leaf", path, value)
        if tag == 2:
            return ("opaque", take(32))
        if tag == 3:
            if depth >= 256:
                raise Refused("too deep")
            right = bytearray(prefix)
            right[depth // 8] |= 0x80 >> (depth % 8)
            left_child = node(depth + 1, prefix)
            right_child = node(depth + 1, bytes(right))
            kinds = (left_child[0], right_child[0])
            if kinds in (("empty", "empty"), ("empty", "leaf"), ("leaf", "empty")):
                raise Refused("non-canonical branch")
            return ("branch", left_child, right_child)
        raise Refused("bad tag")

    sys.setrecursionlimit(2000)
    tree = node(0, EMPTY)
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
    tree = decode(bytes.fromhex(case["proof"]))
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
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    for case in cases:
        try:
            print(check(case))
        except Refused as e:
            print("error: %s" % e)


if __name__ == "__main__":
    main()
