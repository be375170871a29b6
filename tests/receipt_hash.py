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

DOMAIN = b"verity.receipt.v4\x00"
TX_DOMAIN = b"verity.tx.v1\x00"
NETWORK_DOMAIN = b"verity.network.v1\x00"
SCHEME_TAGS = {"ed25519": 1, "p256": 2}
KEY_BYTES = {"ed25519": 32, "p256": 33}
ACTION_TAGS = {"run": 0, "deploy": 1, "call": 2, "upload": 3}
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


def text(s):
    return byts(s.encode("utf-8"))


def action(r, name):
    out = u8(ACTION_TAGS[r[name]])
    return out + hexb(r["salt"]) if r[name] == "deploy" else out


def status(r, name):
    out = u8(STATUS_TAGS[r[name]])
    detail = STATUS_DETAIL.get(r[name])
    return out + text(r[detail]) if detail else out


def calls(r, name):
    """The call tree: depth, caller, callee, entry, input hash, status, fuel."""
    out = length(len(r[name]))
    for c in r[name]:
        out += u32(c["depth"]) + hexb(c["caller"]) + hexb(c["callee"])
        out += text(c["entry"]) + hexb(c["input_hash"]) + status(c, "status")
        out += u64(c["fuel_used"])
    return out


def key_values(r, name):
    out = length(len(r[name]))
    for e in r[name]:
        out += byts(hexb(e["key"])) + opt(e["value"])
    return out


def events(r, name):
    out = length(len(r[name]))
    for e in r[name]:
        out += hexb(e["contract"]) + byts(hexb(e["topic"])) + byts(hexb(e["data"]))
    return out


def auth(r, name):
    """How the sender was authorized: asserted, or signed (docs/receipt.md)."""
    a = r[name]
    if a["kind"] == "asserted":
        if len(a) != 1:
            raise ValueError("an asserted auth has no other fields")
        return u8(0)
    if a["kind"] != "signed" or a["scheme"] not in SCHEME_TAGS:
        raise ValueError("unknown auth kind or scheme")
    if len(hexb(a["public_key"])) != KEY_BYTES[a["scheme"]]:
        raise ValueError("a public key of the wrong size for its scheme")
    if len(hexb(a["signature"])) != 64 or len(hexb(r["sender"])) != 32:
        raise ValueError("a signature that is not 64 bytes, or a sender that is not 32")
    return (u8(1) + u8(SCHEME_TAGS[a["scheme"]]) + byts(hexb(a["public_key"]))
            + u64(a["nonce"]) + u64(a["valid_until"]) + byts(hexb(a["signature"])))


def tx_hash(r):
    """The hash a signed receipt's sender signed (docs/auth.md), or None."""
    a = r["auth"]
    if a["kind"] != "signed":
        return None
    call = r["action"] == "call"
    body = (hashlib.sha256(NETWORK_DOMAIN + r["chain_id"].encode("utf-8")).digest()
            + hexb(r["profile_hash"]) + hexb(r["sender"])
            + u8(SCHEME_TAGS[a["scheme"]]) + byts(hexb(a["public_key"]))
            + u64(a["nonce"]) + u64(a["valid_until"]) + u64(r["fuel_limit"])
            + action(r, "action")
            + (hexb(r["contract"]) if call else bytes(32))
            + (bytes(32) if call else hexb(r["code_hash"]))
            + text(r["entry"]) + byts(hexb(r["input"])))
    return hashlib.sha256(TX_DOMAIN + body).hexdigest()


# How each type of docs/receipt.md's field table is written, from the JSON.
ENCODERS = {
    "u32": lambda r, n: u32(r[n]),
    "u64": lambda r, n: u64(r[n]),
    "32 bytes": lambda r, n: hexb(r[n]),
    "string": lambda r, n: text(r[n]),
    "bytes": lambda r, n: byts(hexb(r[n])),
    "action": action,
    "status": status,
    "list of (bytes key, option bytes value)": key_values,
    "list of call": calls,
    "list of (32 bytes contract, bytes topic, bytes data)": events,
    "auth": auth,
}

# The receipt's fields in encoding order, with their types: the field table
# of docs/receipt.md (a Rust test checks that the two agree).
FIELDS = [
    ("format_version", "u32"),
    ("profile_hash", "32 bytes"),
    ("action", "action"),
    ("contract", "32 bytes"),
    ("code_hash", "32 bytes"),
    ("entry", "string"),
    ("sender", "bytes"),
    ("auth", "auth"),
    ("context", "bytes"),
    ("height", "u64"),
    ("time", "u64"),
    ("chain_id", "string"),
    ("input", "bytes"),
    ("fuel_limit", "u64"),
    ("fuel_used", "u64"),
    ("status", "status"),
    ("pre_state_root", "32 bytes"),
    ("post_state_root", "32 bytes"),
    ("reads", "list of (bytes key, option bytes value)"),
    ("writes", "list of (bytes key, option bytes value)"),
    ("calls", "list of call"),
    ("events", "list of (32 bytes contract, bytes topic, bytes data)"),
    ("output", "bytes"),
]


def encode(r):
    return b"".join(ENCODERS[kind](r, name) for name, kind in FIELDS)


def check_witness(r, witness):
    """The state transition of receipt r, checked against witness (bytes)."""
    writes = r["writes"]
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
    try:
        encoding = encode(receipt)
    except ValueError as e:
        print("error: %s" % e)
        return 1
    digest = hashlib.sha256(DOMAIN + encoding).hexdigest()
    print(encoding.hex() if "--encoding" in argv[2:] else digest)
    ok = digest == receipt["receipt_hash"]
    signed = tx_hash(receipt)
    if signed is not None:
        print("tx_hash: %s" % signed)
        ok = ok and signed == receipt["auth"].get("tx_hash")
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
