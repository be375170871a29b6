//! The receipt's one field table (`Receipt::FIELDS` and
//! `Receipt::fields`, from which the encoder, the decoder and `verify`'s
//! diff are generated) against every other place that lists the fields:
//! the table of docs/receipt.md, the independent encoder of
//! tests/receipt_hash.py, and the key order of the JSON form. Adding,
//! removing, renaming, retyping or reordering a field in one place and not
//! the others fails here.

use verity_host_abi::json::ReceiptJson;
use verity_host_abi::{Action, ContractId, Hash32, Receipt, Status};

use crate::common::root;

/// A receipt whose action and status both carry a detail (a deploy's
/// salt, a revert's message), so the JSON shows every optional key kind.
fn sample() -> Receipt {
    Receipt {
        format_version: verity_host_abi::receipt::FORMAT_VERSION,
        profile_hash: Hash32::of(b"profile"),
        action: Action::Deploy {
            salt: Hash32::of(b"salt"),
        },
        contract: ContractId([7; 32]),
        code_hash: Hash32::of(b"code"),
        entry: "init".into(),
        sender: b"alice".to_vec(),
        auth: Default::default(),
        context: vec![],
        height: 1,
        time: 2,
        chain_id: "verity-test".into(),
        input: vec![1],
        fuel_limit: 10,
        fuel_used: 3,
        status: Status::Reverted {
            message: "no".into(),
        },
        pre_state_root: Hash32::default(),
        post_state_root: Hash32::default(),
        reads: vec![],
        writes: vec![],
        calls: vec![],
        events: vec![],
        output: vec![],
    }
}

/// (name, type) of every field, as the Rust table gives them.
fn table() -> Vec<(String, String)> {
    let r = sample();
    let fields = r.fields();
    let names: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, Receipt::FIELDS, "fields() and FIELDS disagree");
    fields
        .iter()
        .map(|(n, v)| (n.to_string(), v.kind().to_string()))
        .collect()
}

#[test]
fn docs_field_table_matches_the_receipt_table() {
    let doc = std::fs::read_to_string(root().join("docs/receipt.md")).unwrap();
    let section = doc
        .split("\n## Fields\n")
        .nth(1)
        .expect("docs/receipt.md has a `## Fields` section");
    let rows: Vec<(String, String)> = section
        .lines()
        .skip_while(|l| !l.starts_with("| 1 "))
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            // | # | field | type | meaning |
            (cells[2].trim_matches('`').to_string(), cells[3].to_string())
        })
        .collect();
    assert_eq!(rows, table());
    for (i, l) in section
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| #"))
        .take(rows.len())
        .enumerate()
    {
        assert!(
            l.starts_with(&format!("| {} |", i + 1)),
            "row {} is numbered wrong: {l}",
            i + 1
        );
    }
}

#[test]
fn python_checker_encodes_the_fields_of_the_receipt_table() {
    let py = std::fs::read_to_string(root().join("tests/receipt_hash.py")).unwrap();
    let body = py
        .split("\nFIELDS = [\n")
        .nth(1)
        .and_then(|rest| rest.split("\n]\n").next())
        .expect("tests/receipt_hash.py has a FIELDS list");
    let rows: Vec<(String, String)> = body
        .lines()
        .map(|l| {
            let l = l.trim().trim_end_matches(',');
            let inner = l.strip_prefix('(').and_then(|l| l.strip_suffix(')'));
            let (name, kind) = inner
                .and_then(|i| i.split_once(", "))
                .unwrap_or_else(|| panic!("not a (name, type) row: {l}"));
            (
                name.trim_matches('"').to_string(),
                kind.trim_matches('"').to_string(),
            )
        })
        .collect();
    assert_eq!(rows, table());
}

#[test]
fn json_keys_follow_the_receipt_table() {
    let json = serde_json::to_value(ReceiptJson::from(&sample())).unwrap();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    // The hash first, then each field, a detail right after the field it
    // belongs to.
    let mut expected = vec!["receipt_hash"];
    for name in Receipt::FIELDS {
        expected.push(name);
        match *name {
            "action" => expected.push("salt"),
            "status" => expected.push("message"),
            _ => {}
        }
    }
    assert_eq!(keys, expected);
}

#[test]
fn every_field_is_encoded_and_decoded_in_its_place() {
    // Changing any one field changes the encoding and the change survives
    // a decode: no field of the table is skipped by the encoder or the
    // decoder.
    let base = sample();
    let mut variants: Vec<Receipt> = vec![base.clone()];
    macro_rules! vary {
        ($($f:ident = $e:expr;)*) => {$({
            let mut v = base.clone();
            v.$f = $e;
            variants.push(v);
        })*};
    }
    vary! {
        profile_hash = Hash32::of(b"other");
        action = Action::Call;
        contract = ContractId([8; 32]);
        code_hash = Hash32::of(b"other");
        entry = "other".into();
        sender = b"bob".to_vec();
        context = vec![9];
        height = 99;
        time = 98;
        chain_id = "other".into();
        input = vec![2];
        fuel_limit = 11;
        fuel_used = 4;
        status = Status::OutOfFuel;
        reads = vec![verity_host_abi::ReadEntry { key: vec![1], value: None }];
    }
    // Writes, events and output exist only on success.
    let mut ok = base.clone();
    ok.status = Status::Success;
    variants.push(ok.clone());
    for (i, f) in [
        |r: &mut Receipt| {
            r.writes = vec![verity_host_abi::WriteEntry {
                key: vec![1],
                value: Some(vec![2]),
            }]
        },
        |r: &mut Receipt| {
            r.events = vec![verity_host_abi::Event {
                contract: ContractId([5; 32]),
                topic: vec![1],
                data: vec![2],
            }]
        },
        |r: &mut Receipt| r.output = vec![3],
        |r: &mut Receipt| {
            r.calls = vec![verity_host_abi::CallEntry {
                depth: 1,
                caller: ContractId([7; 32]),
                callee: ContractId([8; 32]),
                entry: "f".into(),
                input_hash: Hash32::of(b""),
                status: Status::Trapped {
                    trap: verity_host_abi::TrapKind::Unreachable,
                },
                fuel_used: 9,
            }]
        },
        |r: &mut Receipt| r.post_state_root = Hash32::of(b"post"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut v = ok.clone();
        f(&mut v);
        assert_ne!(v, ok, "variant {i}");
        variants.push(v);
    }
    let mut seen = std::collections::BTreeSet::new();
    for v in &variants {
        let bytes = v.encode();
        assert_eq!(&Receipt::decode(&bytes).unwrap(), v);
        seen.insert(bytes);
    }
    assert_eq!(seen.len(), variants.len(), "two receipts share an encoding");
}
