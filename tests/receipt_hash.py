#!/usr/bin/env python3
"""Recompute a Verity receipt's hash from its JSON form, and check its state
transition against a witness, using docs/receipt.md and docs/state-tree.md only.

Usage: receipt_hash.py RECEIPT.json [--encoding] [--witness FILE]

Prints the recomputed receipt_hash (or, with --encoding, the hex of the
canonical encoding). With --witness, also checks the witness (the binary
proof `verity run --witness` writes): it must hash to the receipt's
pre_state_root, every read must be what it proves (a value, or an absence),
and the writes of a successful run applied to it must give the receipt's
post_state_root; prints "witness: ok" or "witness: error: <reason>".
Exits 0 when everything checked holds, 1 when not. Python 3 standard
library only.
"""
import hashlib
import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import state_tree  # noqa: E402  (the tree of docs/state-tree.md)

DOMAIN = b"verity.receipt.v2\x00"
ACTION_TAGS = {"run": 0, "deploy": 1, "call": 2}
STATUS_TAGS = {"success": 0, "reverted": 1, "trapped": 2, "out_of_fuel": 3, "rejected": 4}
STATUS_DETAIL = {"reverted": "message", "trapped": "trap", "rejected": "reason"}


def u8(v):
    return struct.pack("<B", v)


def u32(v):
    return struct.pack("<I", v)


def u64(v):
    return struct.pack("<Q", v)


def length(n):
    """A length or count: u32, or 0xffffffff then the u64 for 2**32 - 1 and up."""
    return u32(n) if n < 0xFFFFFFFF else u32(0xFFFFFFFF) + u64(n)


def byts(b):
    return length(len(b)) + b


def hexb(s):
    return bytes.fromhex(s)


def opt(v):
    return u8(0) if v is None else u8(1) + byts(hexb(v))


def encode(r):
    out = u32(r["format_version"])
    out += hexb(r["profile_hash"])
    out += u8(ACTION_TAGS[r["action"]])
    if r["action"] == "deploy":
        out += hexb(r["salt"])
    out += hexb(r["contract"]) + hexb(r["code_hash"])
    out += byts(r["entry"].encode("utf-8"))
    for field in ("sender", "context"):
        out += byts(hexb(r[field]))
    out += u64(r["height"]) + u64(r["time"]) + byts(r["chain_id"].encode("utf-8"))
    out += byts(hexb(r["input"]))
    out += u64(r["fuel_limit"]) + u64(r["fuel_used"])
    status = r["status"]
    out += u8(STATUS_TAGS[status])
    if status in STATUS_DETAIL:
        out += byts(r[STATUS_DETAIL[status]].encode("utf-8"))
    out += hexb(r["pre_state_root"]) + hexb(r["post_state_root"])
    for field in ("reads", "writes"):
        out += length(len(r[field]))
        for e in r[field]:
            out += byts(hexb(e["key"])) + opt(e["value"])
    out += length(len(r["events"]))
    for e in r["events"]:
        out += byts(hexb(e["topic"])) + byts(hexb(e["data"]))
    out += byts(hexb(r["output"]))
    return out


def check_witness(r, witness):
    """The state transition of receipt r, checked against witness (bytes)."""
    writes = r["writes"] if r["status"] == "success" else []
    post = state_tree.check({
        "pre_root": r["pre_state_root"],
        "proof": witness.hex(),
        "reads": r["reads"],
        "writes": writes,
    })
    if post != r["post_state_root"]:
        raise state_tree.Refused("the writes lead to post-state root %s, not %s"
                                 % (post, r["post_state_root"]))


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        receipt = json.load(f)
    encoding = encode(receipt)
    digest = hashlib.sha256(DOMAIN + encoding).hexdigest()
    print(encoding.hex() if "--encoding" in argv[2:] else digest)
    ok = digest == receipt["receipt_hash"]
    if "--witness" in argv[2:]:
        state_tree.self_test()
        with open(argv[argv.index("--witness") + 1], "rb") as f:
            witness = f.read()
        try:
            check_witness(receipt, witness)
            print("witness: ok")
        except state_tree.Refused as e:
            print("witness: error: %s" % e)
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
