//! Contract values as JSON: the spec-driven codec agrees with the encoding
//! contracts use (postcard of serde's derive), round-trips, and refuses
//! hostile bytes and bad JSON with a path.

use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use verity_runtime::abi::spec::{
    ArgSpec, ContractSpec, EntrySpec, FieldDef, Fields, TypeBody, TypeDef, TypeSpec, VariantDef,
};
use verity_runtime::spec_json::{self, MAX_VALUE_DEPTH};

fn field(name: &str, ty: TypeSpec) -> FieldDef {
    FieldDef {
        name: name.into(),
        doc: String::new(),
        ty,
    }
}

fn variant(name: &str, fields: Fields) -> VariantDef {
    VariantDef {
        name: name.into(),
        doc: String::new(),
        fields,
    }
}

fn named(n: &str) -> TypeSpec {
    TypeSpec::Named(n.into())
}

fn boxed(t: TypeSpec) -> Box<TypeSpec> {
    Box::new(t)
}

/// The spec `#[contracttype]` writes for the Rust types below.
fn spec() -> ContractSpec {
    let def = |name: &str, body| TypeDef {
        name: name.into(),
        doc: String::new(),
        body,
    };
    ContractSpec {
        types: vec![
            def(
                "Order",
                TypeBody::Struct(Fields::Named(vec![
                    field("id", TypeSpec::U64),
                    field("owners", TypeSpec::Vec(boxed(TypeSpec::Address))),
                    field("memo", TypeSpec::Option(boxed(TypeSpec::String))),
                    field("price", TypeSpec::U128),
                    field("delta", TypeSpec::I64),
                    field("side", named("Side")),
                ])),
            ),
            def(
                "Side",
                TypeBody::Enum(vec![
                    variant("Buy", Fields::Unit),
                    variant("Sell", Fields::Tuple(vec![TypeSpec::U32])),
                    variant("Swap", Fields::Tuple(vec![TypeSpec::U8, TypeSpec::Bool])),
                    variant(
                        "Limit",
                        Fields::Named(vec![
                            field("at", TypeSpec::I128),
                            field("until", TypeSpec::Option(boxed(TypeSpec::U64))),
                        ]),
                    ),
                ]),
            ),
            def(
                "Pair",
                TypeBody::Struct(Fields::Tuple(vec![TypeSpec::U16, TypeSpec::Bytes])),
            ),
            def(
                "Id",
                TypeBody::Struct(Fields::Tuple(vec![TypeSpec::FixedBytes(4)])),
            ),
            def("Nothing", TypeBody::Struct(Fields::Unit)),
            // A recursive type, as `struct Tree { kids: Vec<Tree> }`.
            def(
                "Tree",
                TypeBody::Struct(Fields::Named(vec![field(
                    "kids",
                    TypeSpec::Vec(boxed(named("Tree"))),
                )])),
            ),
        ],
        ..ContractSpec::default()
    }
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Order {
    id: u64,
    owners: Vec<[u8; 32]>,
    memo: Option<String>,
    price: u128,
    delta: i64,
    side: Side,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
enum Side {
    Buy,
    Sell(u32),
    Swap(u8, bool),
    Limit { at: i128, until: Option<u64> },
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Pair(u16, Vec<u8>);

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Id([u8; 4]);

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Nothing;

/// `value` as serde writes it and as the spec codec writes it: the same
/// bytes, and those bytes decode to `json`.
fn agrees<T: Serialize>(ty: &TypeSpec, value: &T, json: Value) {
    let spec = spec();
    let bytes = postcard::to_allocvec(value).unwrap();
    assert_eq!(
        spec_json::encode(&spec, ty, &json).unwrap(),
        bytes,
        "{json}"
    );
    assert_eq!(spec_json::decode(&spec, ty, &bytes).unwrap(), json);
}

#[test]
fn the_codec_writes_the_bytes_serde_derive_and_postcard_write() {
    let order = Order {
        id: 300,
        owners: vec![[0xab; 32], [1; 32]],
        memo: Some("hi".into()),
        price: u128::MAX,
        delta: -5,
        side: Side::Limit {
            at: i128::MIN,
            until: None,
        },
    };
    let json = json!({
        "id": 300,
        "owners": ["ab".repeat(32), "01".repeat(32)],
        "memo": "hi",
        "price": u128::MAX.to_string(),
        "delta": -5,
        "side": {"Limit": {"at": i128::MIN.to_string(), "until": null}},
    });
    agrees(&named("Order"), &order, json.clone());
    // Struct fields print in declaration order.
    let text = spec_json::decode(
        &spec(),
        &named("Order"),
        &postcard::to_allocvec(&order).unwrap(),
    )
    .unwrap()
    .to_string();
    assert!(text.starts_with(r#"{"id":300,"owners":"#), "{text}");
    agrees(&named("Side"), &Side::Buy, json!("Buy"));
    agrees(&named("Side"), &Side::Sell(7), json!({"Sell": 7}));
    agrees(
        &named("Side"),
        &Side::Swap(1, true),
        json!({"Swap": [1, true]}),
    );
    agrees(&named("Pair"), &Pair(9, vec![1, 2]), json!([9, "0102"]));
    agrees(&named("Id"), &Id(*b"abcd"), json!("61626364"));
    agrees(&named("Nothing"), &Nothing, Value::Null);
    let tuple = TypeSpec::Tuple(vec![TypeSpec::Address, TypeSpec::Vec(boxed(named("Side")))]);
    agrees(
        &tuple,
        &([2u8; 32], vec![Side::Buy, Side::Sell(1)]),
        json!(["02".repeat(32), ["Buy", {"Sell": 1}]]),
    );
}

#[test]
fn numbers_are_accepted_as_strings_and_hex_with_0x() {
    let spec = spec();
    let a = spec_json::encode(&spec, &TypeSpec::U64, &json!("18446744073709551615")).unwrap();
    assert_eq!(a, postcard::to_allocvec(&u64::MAX).unwrap());
    let b = spec_json::encode(&spec, &TypeSpec::U128, &json!(5)).unwrap();
    assert_eq!(b, [5]);
    let c = spec_json::encode(&spec, &TypeSpec::FixedBytes(2), &json!("0xbeef")).unwrap();
    assert_eq!(c, [0xbe, 0xef]);
}

#[test]
fn bad_json_is_refused_with_the_path_to_the_fault() {
    let spec = spec();
    let order = |side: Value, owners: Value| json!({"id": 1, "owners": owners, "memo": null, "price": "1", "delta": 0, "side": side});
    let msg = |v: &Value| {
        spec_json::encode(&spec, &named("Order"), v)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        msg(&order(json!("Buy"), json!(["zz"]))),
        "owners[0]: `zz` is not hex: Invalid character 'z' at position 0"
    );
    assert_eq!(
        msg(&order(json!("Buy"), json!(["00"]))),
        "owners[0]: 1 bytes, expected 32"
    );
    assert_eq!(
        msg(&order(json!("Hold"), json!([]))),
        "side: Side has no variant `Hold` (it has Buy, Sell, Swap, Limit)"
    );
    assert_eq!(
        msg(&order(json!({"Limit": {"at": 1}}), json!([]))),
        "side.Limit.until: missing (a field of type Option<u64>)"
    );
    assert_eq!(
        msg(&order(json!({"Sell": 1, "Buy": null}), json!([]))),
        "side: expected a variant of Side (\"Name\" or {\"Name\": ...}), found an object"
    );
    assert_eq!(msg(&json!({"id": 1, "extra": 2})), "extra: no such field");
    assert_eq!(
        spec_json::encode(&spec, &TypeSpec::U8, &json!(256))
            .unwrap_err()
            .to_string(),
        "256 is not a u8"
    );
    assert!(
        spec_json::encode(&spec, &named("Point"), &json!({}))
            .unwrap_err()
            .to_string()
            .contains("#[contracttype]")
    );
}

#[test]
fn arguments_are_taken_by_name_all_of_them_and_nothing_else() {
    let spec = spec();
    let entry = EntrySpec {
        name: "place".into(),
        doc: String::new(),
        args: vec![
            ArgSpec {
                name: "side".into(),
                ty: named("Side"),
            },
            ArgSpec {
                name: "qty".into(),
                ty: TypeSpec::U32,
            },
        ],
        returns: TypeSpec::Unit,
        error: None,
    };
    let args = |v: Value| v.as_object().unwrap().clone();
    assert_eq!(
        spec_json::encode_args(&spec, &entry, &args(json!({"qty": 3, "side": {"Sell": 2}})))
            .unwrap(),
        postcard::to_allocvec(&(Side::Sell(2), 3u32)).unwrap()
    );
    let e = spec_json::encode_args(&spec, &entry, &args(json!({"qty": 3}))).unwrap_err();
    assert_eq!(e.to_string(), "side: missing (an argument of type Side)");
    let e = spec_json::encode_args(
        &spec,
        &entry,
        &args(json!({"qty": 3, "side": "Buy", "x": 1})),
    )
    .unwrap_err();
    assert!(
        e.to_string().starts_with("x: `place` has no such argument"),
        "{e}"
    );
}

#[test]
fn hostile_bytes_end_in_errors_not_in_deep_recursion_or_long_loops() {
    let spec = spec();
    // A tree nested 100,000 deep: each level is a length of 1.
    let deep = vec![1u8; 100_000];
    let e = spec_json::decode(&spec, &named("Tree"), &deep).unwrap_err();
    assert!(e.reason.contains("nests too deeply"), "{e}");
    // A `Vec<()>` claiming 2^60 elements in 9 bytes.
    let huge = postcard::to_allocvec(&(1u64 << 60)).unwrap();
    let unit_vec = TypeSpec::Vec(boxed(TypeSpec::Unit));
    let e = spec_json::decode(&spec, &unit_vec, &huge).unwrap_err();
    assert!(e.reason.contains("with 0 bytes left"), "{e}");
    // Nested zero-sized vectors: bounded by the value budget.
    let nested = TypeSpec::Vec(boxed(TypeSpec::Vec(boxed(TypeSpec::Unit))));
    let mut bytes = postcard::to_allocvec(&60_000u64).unwrap();
    for _ in 0..60_000 {
        bytes.extend(postcard::to_allocvec(&1_000u64).unwrap());
    }
    let e = spec_json::decode(&spec, &nested, &bytes).unwrap_err();
    // The budget is 2^18 values: the outer vector, 261 whole inner vectors of
    // 1 + 1,000 values, then the 262nd vector and 881 of its units.
    assert_eq!(1 + 261 * 1_001 + 1 + 881, spec_json::MAX_DECODED_VALUES);
    assert_eq!(
        e.to_string(),
        "[261][881]: more values than the decoding budget allows"
    );
    // Trailing bytes, a bad option tag, a bad variant index.
    assert!(
        spec_json::decode(&spec, &TypeSpec::U8, &[1, 2])
            .unwrap_err()
            .reason
            .contains("left over")
    );
    assert!(spec_json::decode(&spec, &TypeSpec::Option(boxed(TypeSpec::U8)), &[2]).is_err());
    assert!(
        spec_json::decode(&spec, &named("Side"), &[9])
            .unwrap_err()
            .reason
            .contains("no variant 9")
    );
    // JSON nesting is bounded the same way.
    let mut v = json!({"kids": []});
    for _ in 0..MAX_VALUE_DEPTH {
        v = json!({"kids": [v]});
    }
    assert!(
        spec_json::encode(&spec, &named("Tree"), &v)
            .unwrap_err()
            .reason
            .contains("nests too deeply")
    );
}

/// A type over the spec above, with a JSON value of that type.
fn typed_value() -> impl Strategy<Value = (TypeSpec, Value)> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(|b| (TypeSpec::Bool, json!(b))),
        any::<u8>().prop_map(|n| (TypeSpec::U8, json!(n))),
        any::<u64>().prop_map(|n| (TypeSpec::U64, json!(n))),
        any::<i32>().prop_map(|n| (TypeSpec::I32, json!(n))),
        any::<u128>().prop_map(|n| (TypeSpec::U128, json!(n.to_string()))),
        any::<i128>().prop_map(|n| (TypeSpec::I128, json!(n.to_string()))),
        ".{0,8}".prop_map(|s| (TypeSpec::String, json!(s))),
        prop::collection::vec(any::<u8>(), 0..8)
            .prop_map(|b| (TypeSpec::Bytes, json!(hex::encode(b)))),
        any::<[u8; 32]>().prop_map(|b| (TypeSpec::Address, json!(hex::encode(b)))),
        any::<u32>().prop_map(|n| (named("Side"), json!({"Sell": n}))),
        Just((named("Side"), json!("Buy"))),
        (any::<u16>(), prop::collection::vec(any::<u8>(), 0..4))
            .prop_map(|(a, b)| (named("Pair"), json!([a, hex::encode(b)]))),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            inner
                .clone()
                .prop_map(|(t, v)| (TypeSpec::Option(Box::new(t)), v)),
            // `None` of any type.
            inner
                .clone()
                .prop_map(|(t, _)| (TypeSpec::Option(Box::new(t)), Value::Null)),
            // A vector of one type: values generated for the same type.
            (inner.clone(), 0..3usize)
                .prop_map(|((t, v), n)| (TypeSpec::Vec(Box::new(t)), Value::Array(vec![v; n]))),
            prop::collection::vec(inner, 1..4).prop_map(|tvs| {
                let (ts, vs): (Vec<_>, Vec<_>) = tvs.into_iter().unzip();
                (TypeSpec::Tuple(ts), Value::Array(vs))
            }),
        ]
    })
}

proptest! {
    #[test]
    fn json_round_trips_through_the_encoding((ty, value) in typed_value()) {
        let spec = spec();
        let bytes = spec_json::encode(&spec, &ty, &value).unwrap();
        prop_assert_eq!(spec_json::decode(&spec, &ty, &bytes).unwrap(), value);
    }

    #[test]
    fn arbitrary_bytes_decode_or_fail_and_decoded_values_re_encode((ty, _) in typed_value(), bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let spec = spec();
        if let Ok(v) = spec_json::decode(&spec, &ty, &bytes) {
            let again = spec_json::encode(&spec, &ty, &v).unwrap();
            prop_assert_eq!(spec_json::decode(&spec, &ty, &again).unwrap(), v);
        }
    }
}
