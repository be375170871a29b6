#!/usr/bin/env python3
"""Recompute a Verity receipt's hash from its JSON form, using docs/receipt.md only.

Usage: receipt_hash.py RECEIPT.json [--encoding]

Prints the recomputed receipt_hash (or, with --encoding, the hex of the
canonical encoding) and exits 0 when the hash matches the JSON's stated
`receipt_hash`, 1 when it does not. Python 3 standard library only.
"""
import hashlib
import json
import struct
import sys

DOMAIN = b"verity.receipt.v1\x00"
STATUS_TAGS = {"success": 0, "reverted": 1, "trapped": 2, "out_of_fuel": 3, "rejected": 4}
STATUS_DETAIL = {"reverted": "message", "trapped": "trap", "rejected": "reason"}


def u8(v):
    return struct.pack("<B", v)


def u32(v):
    return struct.pack("<I", v)


def u64(v):
    return struct.pack("<Q", v)


def byts(b):
    return u32(len(b)) + b


def hexb(s):
    return bytes.fromhex(s)


def opt(v):
    return u8(0) if v is None else u8(1) + byts(hexb(v))


def encode(r):
    out = u32(r["format_version"])
    out += hexb(r["profile_hash"]) + hexb(r["code_hash"])
    out += byts(r["entry"].encode("utf-8"))
    for field in ("sender", "context", "input"):
        out += byts(hexb(r[field]))
    out += u64(r["fuel_limit"]) + u64(r["fuel_used"])
    status = r["status"]
    out += u8(STATUS_TAGS[status])
    if status in STATUS_DETAIL:
        out += byts(r[STATUS_DETAIL[status]].encode("utf-8"))
    for field in ("reads", "writes"):
        out += u32(len(r[field]))
        for e in r[field]:
            out += byts(hexb(e["key"])) + opt(e["value"])
    out += u32(len(r["events"]))
    for e in r["events"]:
        out += byts(hexb(e["topic"])) + byts(hexb(e["data"]))
    out += byts(hexb(r["output"]))
    return out


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        receipt = json.load(f)
    encoding = encode(receipt)
    digest = hashlib.sha256(DOMAIN + encoding).hexdigest()
    print(encoding.hex() if "--encoding" in argv[2:] else digest)
    return 0 if digest == receipt["receipt_hash"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
