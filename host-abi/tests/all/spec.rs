//! Property tests of the contract spec encoding (the `verity.spec` section).

use proptest::prelude::*;
use verity_host_abi::spec::{
    ArgSpec, ContractSpec, EntrySpec, ErrorDef, ErrorVariant, EventDef, FieldDef, Fields,
    SpecError, TypeBody, TypeDef, TypeSpec, VariantDef,
};

fn type_spec() -> impl Strategy<Value = TypeSpec> {
    let leaf = prop_oneof![
        Just(TypeSpec::Unit),
        Just(TypeSpec::Bool),
        Just(TypeSpec::U8),
        Just(TypeSpec::U64),
        Just(TypeSpec::U128),
        Just(TypeSpec::I32),
        Just(TypeSpec::I128),
        Just(TypeSpec::String),
        Just(TypeSpec::Bytes),
        Just(TypeSpec::Address),
        any::<u32>().prop_map(TypeSpec::FixedBytes),
        "[A-Za-z<>(),; ]{0,12}".prop_map(TypeSpec::Named),
    ];
    leaf.prop_recursive(4, 16, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|t| TypeSpec::Option(Box::new(t))),
            inner.clone().prop_map(|t| TypeSpec::Vec(Box::new(t))),
            prop::collection::vec(inner, 1..4).prop_map(TypeSpec::Tuple),
        ]
    })
}

/// Types as a person writes them: names are identifiers other than the
/// built-in ones, and `Vec<u8>` is `Bytes`.
fn written_type() -> impl Strategy<Value = TypeSpec> {
    let builtin = ["String", "Address", "Vec", "Option", "bool"];
    let leaf = prop_oneof![
        Just(TypeSpec::Unit),
        Just(TypeSpec::Bool),
        Just(TypeSpec::U8),
        Just(TypeSpec::U16),
        Just(TypeSpec::U64),
        Just(TypeSpec::I8),
        Just(TypeSpec::I128),
        Just(TypeSpec::String),
        Just(TypeSpec::Bytes),
        Just(TypeSpec::Address),
        any::<u32>().prop_map(TypeSpec::FixedBytes),
        "[A-Za-z_][A-Za-z0-9_]{0,8}"
            .prop_filter("a built-in name", move |n| {
                !builtin.contains(&n.as_str())
                    && n.parse::<TypeSpec>()
                        .is_ok_and(|t| matches!(t, TypeSpec::Named(_)))
            })
            .prop_map(TypeSpec::Named),
    ];
    leaf.prop_recursive(4, 16, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|t| TypeSpec::Option(Box::new(t))),
            inner
                .clone()
                .prop_filter("Vec<u8> is Bytes", |t| *t != TypeSpec::U8)
                .prop_map(|t| TypeSpec::Vec(Box::new(t))),
            prop::collection::vec(inner, 1..4).prop_map(TypeSpec::Tuple),
        ]
    })
}

fn unique_by<T, K: Ord>(mut items: Vec<T>, key: impl Fn(&T) -> K) -> Vec<T> {
    let mut seen = std::collections::BTreeSet::new();
    items.retain(|i| seen.insert(key(i)));
    items
}

fn entry() -> impl Strategy<Value = EntrySpec> {
    (
        "[a-z_]{1,12}",
        "[ -~]{0,20}",
        prop::collection::vec(("[a-z_]{1,8}", type_spec()), 0..5),
        type_spec(),
        proptest::option::of("[A-Z][a-z]{0,8}"),
    )
        .prop_map(|(name, doc, args, returns, error)| EntrySpec {
            name,
            doc,
            args: unique_by(args, |(n, _)| n.clone())
                .into_iter()
                .map(|(name, ty)| ArgSpec { name, ty })
                .collect(),
            returns,
            error,
        })
}

fn fields() -> impl Strategy<Value = Fields> {
    prop_oneof![
        Just(Fields::Unit),
        prop::collection::vec(type_spec(), 0..3).prop_map(Fields::Tuple),
        prop::collection::vec(("[a-z]{1,6}", "[ -~]{0,8}", type_spec()), 0..3).prop_map(|fs| {
            Fields::Named(
                unique_by(fs, |f| f.0.clone())
                    .into_iter()
                    .map(|(name, doc, ty)| FieldDef { name, doc, ty })
                    .collect(),
            )
        }),
    ]
}

fn type_def() -> impl Strategy<Value = TypeDef> {
    let body = prop_oneof![
        fields().prop_map(TypeBody::Struct),
        prop::collection::vec(("[A-Z][a-z]{0,6}", "[ -~]{0,8}", fields()), 0..4).prop_map(|vs| {
            TypeBody::Enum(
                unique_by(vs, |v| v.0.clone())
                    .into_iter()
                    .map(|(name, doc, fields)| VariantDef { name, doc, fields })
                    .collect(),
            )
        }),
    ];
    ("[A-Z][a-z]{0,8}", "[ -~]{0,20}", body).prop_map(|(name, doc, body)| TypeDef {
        name,
        doc,
        body,
    })
}

fn error_def() -> impl Strategy<Value = ErrorDef> {
    (
        "[A-Z][a-z]{0,8}",
        "[ -~]{0,20}",
        prop::collection::vec(
            ("[A-Z][a-z]{0,6}", "[ -~]{0,8}", any::<u32>(), "[ -~]{0,12}"),
            0..4,
        ),
    )
        .prop_map(|(name, doc, vs)| ErrorDef {
            name,
            doc,
            variants: unique_by(vs, |v| v.2)
                .into_iter()
                .map(|(name, doc, code, message)| ErrorVariant {
                    name,
                    doc,
                    code,
                    message,
                })
                .collect(),
        })
}

fn event_def() -> impl Strategy<Value = EventDef> {
    ("[A-Z][a-z]{0,8}", "[ -~]{0,20}", "[a-z_]{0,8}", type_spec()).prop_map(
        |(name, doc, topic, data)| EventDef {
            name,
            doc,
            topic,
            data,
        },
    )
}

fn spec() -> impl Strategy<Value = ContractSpec> {
    (
        prop::collection::vec(entry(), 0..5),
        prop::collection::vec(type_def(), 0..4),
        prop::collection::vec(error_def(), 0..3),
        prop::collection::vec(event_def(), 0..3),
    )
        .prop_map(|(entries, types, errors, events)| ContractSpec {
            entries: unique_by(entries, |e| e.name.clone()),
            types: unique_by(types, |t| t.name.clone()),
            errors: unique_by(errors, |e| e.name.clone()),
            events: unique_by(events, |e| e.topic.clone()),
        })
}

proptest! {
    #[test]
    fn a_written_type_parses_back_to_itself(ty in written_type()) {
        let text = ty.to_string();
        prop_assert_eq!(text.parse::<TypeSpec>(), Ok(ty.clone()));
        // Spaces between tokens change nothing.
        let spaced = text.replace(',', " , ").replace('<', " < ").replace('(', "( ");
        prop_assert_eq!(spaced.parse::<TypeSpec>(), Ok(ty));
    }

    #[test]
    fn any_text_parses_or_is_refused_without_panicking(text in "[A-Za-z0-9_<>()\\[\\];, ]{0,40}") {
        if let Ok(ty) = text.parse::<TypeSpec>() {
            // What parses is a type Display writes back, which parses to it.
            prop_assert_eq!(ty.to_string().parse::<TypeSpec>(), Ok(ty));
        }
    }

    #[test]
    fn decode_inverts_encode(s in spec()) {
        prop_assert_eq!(ContractSpec::decode(&s.encode()).unwrap(), s);
    }

    #[test]
    fn every_proper_prefix_is_rejected_not_misread(s in spec(), cut in any::<prop::sample::Index>()) {
        let bytes = s.encode();
        prop_assume!(!bytes.is_empty());
        let n = cut.index(bytes.len());
        // A prefix is either a whole number of records (a smaller spec) or
        // an error; it never panics and never invents entries.
        if let Ok(smaller) = ContractSpec::decode(&bytes[..n]) {
            prop_assert!(s.entries.starts_with(&smaller.entries));
            prop_assert!(s.types.starts_with(&smaller.types));
            prop_assert!(s.errors.starts_with(&smaller.errors));
            prop_assert!(s.events.starts_with(&smaller.events));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_accept_only_canonical(
        bytes in prop::collection::vec(prop_oneof![0u8..4, any::<u8>()], 0..256),
    ) {
        // What is accepted re-encodes to a section that decodes to the same
        // spec. (Not always to the same bytes: the linker places a
        // contract's records in an order of its own, which decoding keeps
        // and `encode` sorts by kind; version 1 entry records re-encode as
        // version 2.)
        if let Ok(spec) = ContractSpec::decode(&bytes) {
            prop_assert_eq!(ContractSpec::decode(&spec.encode()), Ok(spec));
        }
    }
}

#[test]
fn duplicate_entries_unknown_versions_and_deep_nesting_are_errors() {
    let e = EntrySpec {
        name: "f".into(),
        args: vec![],
        doc: String::new(),
        returns: TypeSpec::Unit,
        error: None,
    };
    let mut twice = e.encode();
    twice.extend(e.encode());
    assert_eq!(
        ContractSpec::decode(&twice),
        Err(SpecError::Duplicate("entry", "f".into()))
    );
    let mut v3 = e.encode();
    v3[0] = 3;
    assert_eq!(
        ContractSpec::decode(&v3),
        Err(SpecError::UnsupportedVersion(3))
    );
    let mut deep = TypeSpec::Unit;
    for _ in 0..20 {
        deep = TypeSpec::Option(Box::new(deep));
    }
    let nested = EntrySpec { returns: deep, ..e };
    assert!(matches!(
        ContractSpec::decode(&nested.encode()),
        Err(SpecError::Invalid(_))
    ));
}

/// The smallest record of an entry named `name`: no arguments, returning
/// `()`, infallible.
fn tiny_record(name: &str) -> Vec<u8> {
    let mut entry = EntrySpec {
        name: name.to_string(),
        args: vec![],
        doc: String::new(),
        returns: TypeSpec::Unit,
        error: None,
    }
    .encode();
    entry.shrink_to_fit();
    entry
}

#[test]
fn a_spec_over_the_size_limit_is_refused_before_it_is_parsed() {
    use verity_host_abi::spec::MAX_SPEC_BYTES;
    // As many distinct tiny entries as fit: accepted, and duplicates among
    // thousands of names are still found (by a set, not a scan per entry).
    let mut section = Vec::new();
    let mut n = 0;
    loop {
        let r = tiny_record(&format!("e{n}"));
        if section.len() + r.len() > MAX_SPEC_BYTES {
            break;
        }
        section.extend(r);
        n += 1;
    }
    assert!(n > 2_500);
    assert_eq!(ContractSpec::decode(&section).unwrap().entries.len(), n);
    // The same entries, the last one replaced by a second `e0`.
    let first = tiny_record("e0");
    let last = tiny_record(&format!("e{}", n - 1));
    let mut dup = section[..section.len() - last.len()].to_vec();
    dup.extend(first);
    assert!(matches!(
        ContractSpec::decode(&dup),
        Err(SpecError::Duplicate("entry", name)) if name == "e0"
    ));
    // One byte more than the limit: refused whatever it holds.
    let over = vec![0u8; MAX_SPEC_BYTES + 1];
    assert_eq!(
        ContractSpec::decode(&over),
        Err(SpecError::TooLarge(MAX_SPEC_BYTES + 1))
    );
}

#[test]
fn version_1_records_are_still_read() {
    // `version 1, name "get", 1 arg "k": u64, returns bool, fallible`.
    let mut v1 = vec![1];
    v1.extend(3u32.to_le_bytes());
    v1.extend(b"get");
    v1.extend(1u32.to_le_bytes());
    v1.extend(1u32.to_le_bytes());
    v1.extend(b"k");
    v1.extend([5, 1, 1]);
    let spec = ContractSpec::decode(&v1).unwrap();
    assert_eq!(
        spec.entry("get").unwrap().signature(),
        "get(k: u64) -> Result<bool, Error>"
    );
}

#[test]
fn names_within_a_record_and_across_records_must_differ() {
    let two_fields = TypeDef {
        name: "P".into(),
        doc: String::new(),
        body: TypeBody::Struct(Fields::Named(vec![
            FieldDef {
                name: "x".into(),
                doc: String::new(),
                ty: TypeSpec::U8,
            },
            FieldDef {
                name: "x".into(),
                doc: String::new(),
                ty: TypeSpec::U8,
            },
        ])),
    };
    assert_eq!(
        ContractSpec::decode(&two_fields.encode()),
        Err(SpecError::Duplicate("field", "x".into()))
    );
    let codes = ErrorDef {
        name: "E".into(),
        doc: String::new(),
        variants: vec![
            ErrorVariant {
                name: "A".into(),
                doc: String::new(),
                code: 1,
                message: "a".into(),
            },
            ErrorVariant {
                name: "B".into(),
                doc: String::new(),
                code: 1,
                message: "b".into(),
            },
        ],
    };
    assert_eq!(
        ContractSpec::decode(&codes.encode()),
        Err(SpecError::Duplicate("error code", "B".into()))
    );
    let ev = EventDef {
        name: "T".into(),
        doc: String::new(),
        topic: "t".into(),
        data: TypeSpec::Unit,
    };
    let mut twice = ev.encode();
    twice.extend(
        EventDef {
            name: "U".into(),
            ..ev.clone()
        }
        .encode(),
    );
    assert_eq!(
        ContractSpec::decode(&twice),
        Err(SpecError::Duplicate("event topic", "t".into()))
    );
    // An empty tuple is `()`, never a tuple of nothing.
    let empty = EntrySpec {
        name: "f".into(),
        doc: String::new(),
        args: vec![],
        returns: TypeSpec::Tuple(vec![]),
        error: None,
    }
    .encode();
    assert!(matches!(
        ContractSpec::decode(&empty),
        Err(SpecError::Invalid(_))
    ));
}

#[test]
fn composite_types_print_as_rust_writes_them() {
    let t = TypeSpec::Tuple(vec![
        TypeSpec::Vec(Box::new(TypeSpec::Address)),
        TypeSpec::Option(Box::new(TypeSpec::Named("Order".into()))),
    ]);
    assert_eq!(t.to_string(), "(Vec<Address>, Option<Order>)");
    assert_eq!(TypeSpec::Tuple(vec![TypeSpec::U8]).to_string(), "(u8,)");
}

#[test]
fn type_expressions_are_refused_where_they_go_wrong() {
    for (text, at) in [
        ("", 0),
        ("Vec<", 4),
        ("Vec<u8", 6),
        ("Option<u8>>", 10),
        ("[u8; 007]", 5),
        ("[u16; 4]", 1),
        ("(u8 u8)", 4),
        ("u8 u8", 3),
        ("9lives", 0),
        ("é", 0),
    ] {
        let err = text.parse::<TypeSpec>().unwrap_err();
        assert_eq!(err.at, at, "{text:?}: {err}");
    }
    let deep = format!("{}u8{}", "Option<".repeat(8), ">".repeat(8));
    assert!(deep.parse::<TypeSpec>().is_ok(), "as deep as a spec allows");
    let deeper = format!("{}u8{}", "Option<".repeat(9), ">".repeat(9));
    assert!(deeper.parse::<TypeSpec>().is_err());
    let bomb = "(".repeat(100_000);
    assert!(bomb.parse::<TypeSpec>().is_err(), "no stack overflow");
    assert_eq!("[u8; 0]".parse::<TypeSpec>(), Ok(TypeSpec::FixedBytes(0)));
    assert_eq!(
        "(u8,)".parse::<TypeSpec>(),
        Ok(TypeSpec::Tuple(vec![TypeSpec::U8]))
    );
    assert_eq!(
        "(u8)".parse::<TypeSpec>().unwrap_err().at,
        3,
        "a tuple of one is (T,)"
    );
    assert_eq!(
        "(u8, bool,)".parse::<TypeSpec>(),
        Ok(TypeSpec::Tuple(vec![TypeSpec::U8, TypeSpec::Bool]))
    );
}
