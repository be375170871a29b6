//! Property tests of the contract spec encoding (the `verity.spec` section).

use proptest::prelude::*;
use verity_host_abi::spec::{ArgSpec, ContractSpec, EntrySpec, SpecError, TypeSpec};

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
        "[A-Za-z<>(),; ]{0,12}".prop_map(TypeSpec::Custom),
    ];
    leaf.prop_recursive(4, 8, 1, |inner| {
        inner.prop_map(|t| TypeSpec::Option(Box::new(t)))
    })
}

fn entry() -> impl Strategy<Value = EntrySpec> {
    (
        "[a-z_]{1,12}",
        prop::collection::vec(("[a-z_]{1,8}", type_spec()), 0..5),
        type_spec(),
        any::<bool>(),
    )
        .prop_map(|(name, args, returns, fallible)| EntrySpec {
            name,
            args: args
                .into_iter()
                .map(|(name, ty)| ArgSpec { name, ty })
                .collect(),
            returns,
            fallible,
        })
}

fn spec() -> impl Strategy<Value = ContractSpec> {
    prop::collection::vec(entry(), 0..5).prop_map(|mut entries| {
        let mut seen = std::collections::BTreeSet::new();
        entries.retain(|e| seen.insert(e.name.clone()));
        ContractSpec { entries }
    })
}

proptest! {
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
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = ContractSpec::decode(&bytes);
    }
}

#[test]
fn duplicate_entries_unknown_versions_and_deep_nesting_are_errors() {
    let e = EntrySpec {
        name: "f".into(),
        args: vec![],
        returns: TypeSpec::Unit,
        fallible: false,
    };
    let mut twice = e.encode();
    twice.extend(e.encode());
    assert_eq!(
        ContractSpec::decode(&twice),
        Err(SpecError::DuplicateEntry("f".into()))
    );
    let mut v2 = e.encode();
    v2[0] = 2;
    assert_eq!(
        ContractSpec::decode(&v2),
        Err(SpecError::UnsupportedVersion(2))
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
        returns: TypeSpec::Unit,
        fallible: false,
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
    assert!(n > 4_000);
    assert_eq!(ContractSpec::decode(&section).unwrap().entries.len(), n);
    // The same entries, the last one replaced by a second `e0`.
    let first = tiny_record("e0");
    let last = tiny_record(&format!("e{}", n - 1));
    let mut dup = section[..section.len() - last.len()].to_vec();
    dup.extend(first);
    assert!(matches!(
        ContractSpec::decode(&dup),
        Err(SpecError::DuplicateEntry(name)) if name == "e0"
    ));
    // One byte more than the limit: refused whatever it holds.
    let over = vec![0u8; MAX_SPEC_BYTES + 1];
    assert_eq!(
        ContractSpec::decode(&over),
        Err(SpecError::TooLarge(MAX_SPEC_BYTES + 1))
    );
}
