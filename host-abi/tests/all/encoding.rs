//! Properties of the canonical receipt encoding: decode(encode(r)) == r,
//! strictness (nothing else decodes), and hash sensitivity to every field.

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use verity_host_abi::auth::{Auth, Scheme, Signed, nonce_key};
use verity_host_abi::encoding::DecodeError;
use verity_host_abi::json::ReceiptJson;
use verity_host_abi::{
    Action, CallEntry, ContractId, Event, Hash32, ReadEntry, Receipt, Status, TrapKind, WriteEntry,
};

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..max)
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        Just(Action::Run),
        any::<[u8; 32]>().prop_map(|s| Action::Deploy { salt: Hash32(s) }),
        Just(Action::Call),
        Just(Action::Upload),
    ]
}

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![
        Just(Status::Success),
        ".{0,20}".prop_map(|message| Status::Reverted { message }),
        proptest::sample::select(TrapKind::ALL).prop_map(|trap| Status::Trapped { trap }),
        Just(Status::OutOfFuel),
        ".{0,20}".prop_map(|reason| Status::Rejected { reason }),
    ]
}

/// An authorization: asserted, or signed by a key of either scheme (the
/// key and signature are drawn bytes of the right sizes).
fn auth() -> impl Strategy<Value = Auth> {
    prop_oneof![
        Just(Auth::Asserted),
        (
            any::<bool>(),
            any::<[u8; 33]>(),
            any::<u64>(),
            any::<u64>(),
            vec(any::<u8>(), 64..=64)
        )
            .prop_map(|(ed, key, nonce, valid_until, signature)| {
                let scheme = if ed { Scheme::Ed25519 } else { Scheme::P256 };
                Auth::Signed(Signed {
                    scheme,
                    public_key: key[..scheme.key_bytes()].to_vec(),
                    nonce,
                    valid_until,
                    signature,
                })
            }),
    ]
}

prop_compose! {
    fn receipt()(
        profile in any::<[u8; 32]>(),
        action in action(),
        contract in any::<[u8; 32]>(),
        code in any::<[u8; 32]>(),
        roots in any::<([u8; 32], [u8; 32])>(),
        entry in "[a-z_]{0,12}",
        sender in bytes(8),
        context in bytes(8),
        chain in (any::<u64>(), any::<u64>(), "[a-z0-9-]{0,12}"),
        input in bytes(16),
        fuel_limit in any::<u64>(),
        used_frac in 0u64..=1000,
        status in status(),
        reads in btree_map(bytes(6), proptest::option::of(bytes(6)), 0..4),
        writes in btree_map(bytes(6), proptest::option::of(bytes(6)), 0..4),
        events in vec((any::<[u8; 32]>(), bytes(6), bytes(6)), 0..3),
        calls in vec((0u32..4, any::<([u8; 32], [u8; 32], [u8; 32])>(), "[a-z_]{0,6}", status(), any::<u64>()), 0..4),
        output in bytes(8),
        auth in auth(),
        address in any::<[u8; 32]>(),
    ) -> Receipt {
        let success = status.is_success();
        // A signed sender is an address; `fix_nonce` below adds the nonce
        // an admitted signed transaction consumes.
        let sender = match &auth {
            Auth::Signed(_) => address.to_vec(),
            Auth::Asserted => sender,
        };
        let mut r = Receipt {
            format_version: 4,
            profile_hash: Hash32(profile),
            action,
            contract: ContractId(contract),
            code_hash: Hash32(code),
            entry,
            sender,
            context,
            height: chain.0,
            time: chain.1,
            chain_id: chain.2,
            input,
            fuel_limit,
            fuel_used: ((fuel_limit as u128 * used_frac as u128) / 1000) as u64,
            status,
            pre_state_root: Hash32(roots.0),
            // `fix_nonce` makes it the pre-state root for a failed run
            // without writes.
            post_state_root: Hash32(roots.1),
            reads: reads.into_iter().map(|(key, value)| ReadEntry { key, value }).collect(),
            writes: if success {
                writes.into_iter().map(|(key, value)| WriteEntry { key, value }).collect()
            } else {
                vec![]
            },
            auth,
            calls: if success { call_tree(calls) } else { vec![] },
            events: if success {
                events
                    .into_iter()
                    .map(|(contract, topic, data)| Event { contract: ContractId(contract), topic, data })
                    .collect()
            } else {
                vec![]
            },
            output: if success { output } else { vec![] },
        };
        fix_nonce(&mut r);
        r
    }
}

/// A valid pre-order call tree from drawn parts: each depth is at most one
/// deeper than the call before (the first is at depth 1), and no call is
/// `rejected`.
#[allow(clippy::type_complexity)]
fn call_tree(
    parts: Vec<(u32, ([u8; 32], [u8; 32], [u8; 32]), String, Status, u64)>,
) -> Vec<CallEntry> {
    let mut out: Vec<CallEntry> = Vec::new();
    for (depth, (caller, callee, input), entry, status, fuel_used) in parts {
        let most = out.last().map_or(1, |c| c.depth + 1);
        out.push(CallEntry {
            depth: depth.clamp(1, most),
            caller: ContractId(caller),
            callee: ContractId(callee),
            entry,
            input_hash: Hash32(input),
            status: match status {
                Status::Rejected { .. } => Status::OutOfFuel,
                other => other,
            },
            fuel_used,
        });
    }
    out
}

/// Every way to change one field of `r` while keeping it a valid receipt.
/// A signed Ed25519 authorization with `nonce` and `valid_until` (a key
/// and signature of the right sizes; nothing here checks them).
fn ed25519_auth(nonce: u64, valid_until: u64) -> Auth {
    Auth::Signed(Signed {
        scheme: Scheme::Ed25519,
        public_key: vec![1; 32],
        nonce,
        valid_until,
        signature: vec![2; 64],
    })
}

/// Puts `m`'s nonce write where the decoder wants it after a mutation: a
/// signed receipt that was not rejected consumes its nonce, and nothing
/// else does.
fn fix_nonce(m: &mut Receipt) {
    m.writes
        .retain(|w| !(w.key.len() == 41 && w.key[0] == verity_host_abi::auth::NONCE_KIND));
    if let (Auth::Signed(s), false) = (&m.auth, matches!(m.status, Status::Rejected { .. })) {
        let sender: [u8; 32] = m.sender.as_slice().try_into().unwrap();
        let (key, value) = s.nonce_entry(&sender);
        let (key, value) = (key.to_vec(), Some(value.to_vec()));
        let at = m.writes.partition_point(|w| w.key < key);
        m.writes.insert(at, WriteEntry { key, value });
    }
    if !m.status.is_success() && m.writes.is_empty() {
        m.post_state_root = m.pre_state_root;
    }
}

fn mutations(r: &Receipt) -> Vec<(&'static str, Receipt)> {
    let mut out = Vec::new();
    let mut push = |name, f: &dyn Fn(&mut Receipt)| {
        let mut m = r.clone();
        f(&mut m);
        fix_nonce(&mut m);
        out.push((name, m));
    };
    push("profile_hash", &|m| m.profile_hash.0[0] ^= 1);
    push("action", &|m| {
        m.action = match m.action {
            Action::Run => Action::Call,
            Action::Upload => Action::Run,
            Action::Call => Action::Deploy {
                salt: Hash32::default(),
            },
            Action::Deploy { mut salt } => {
                salt.0[5] ^= 1;
                Action::Deploy { salt }
            }
        }
    });
    push("contract", &|m| m.contract.0[3] ^= 4);
    push("pre_state_root", &|m| {
        m.pre_state_root.0[1] ^= 1;
        if !m.status.is_success() {
            m.post_state_root = m.pre_state_root;
        }
    });
    push("code_hash", &|m| m.code_hash.0[31] ^= 0x80);
    push("entry", &|m| m.entry.push('x'));
    push("sender", &|m| match m.auth {
        Auth::Signed(_) => m.sender[0] ^= 1,
        Auth::Asserted => m.sender.push(0),
    });
    push("auth", &|m| match &mut m.auth {
        Auth::Signed(s) => s.signature[63] ^= 1,
        Auth::Asserted => {
            m.sender = vec![7; 32];
            m.auth = ed25519_auth(3, 9);
        }
    });
    push("context", &|m| m.context.push(0));
    push("height", &|m| m.height = m.height.wrapping_add(1));
    push("time", &|m| m.time ^= 1 << 40);
    push("chain_id", &|m| m.chain_id.push('x'));
    push("input", &|m| m.input.push(0));
    push("fuel_limit", &|m| {
        m.fuel_limit = m.fuel_limit.wrapping_add(1).max(m.fuel_used)
    });
    push("fuel_used", &|m| {
        m.fuel_used = if m.fuel_used == 0 { 1 } else { m.fuel_used - 1 };
        m.fuel_limit = m.fuel_limit.max(m.fuel_used);
    });
    push("status", &|m| {
        m.status = match &m.status {
            Status::Rejected { reason } => Status::Reverted {
                message: reason.clone(),
            },
            _ => Status::Rejected {
                reason: String::new(),
            },
        };
        m.writes.clear();
        m.calls.clear();
        m.events.clear();
        m.output.clear();
        m.post_state_root = m.pre_state_root;
    });
    if let Auth::Signed(_) = r.auth {
        push("auth", &|m| {
            if let Auth::Signed(s) = &mut m.auth {
                s.nonce = s.nonce.wrapping_add(1);
            }
        });
    }
    push("reads", &|m| {
        m.reads.push(ReadEntry {
            key: vec![0xff; 7],
            value: None,
        });
    });
    if r.status.is_success() {
        push("writes", &|m| {
            m.writes.push(WriteEntry {
                key: vec![0xff; 7],
                value: None,
            });
        });
        push("events", &|m| {
            m.events.push(Event {
                contract: ContractId::default(),
                topic: vec![],
                data: vec![],
            })
        });
        push("calls", &|m| {
            m.calls = call_tree(vec![(
                1,
                ([1; 32], [2; 32], [3; 32]),
                "f".into(),
                Status::Success,
                1,
            )])
        });
        if let Some(first) = r.events.first() {
            let mut other = first.clone();
            other.contract.0[0] ^= 1;
            push("events", &move |m| m.events[0] = other.clone());
        }
        push("output", &|m| m.output.push(1));
        push("post_state_root", &|m| m.post_state_root.0[9] ^= 1);
    }
    out
}

proptest! {
    /// `Receipt::hash` streams the encoding through a 512-byte stack buffer;
    /// fields of up to 1,500 bytes put every split of a field across the
    /// buffer boundary (and fields longer than the buffer) to the test.
    #[test]
    fn streamed_hash_is_the_hash_of_the_encoding(
        r in receipt(),
        input in bytes(1500),
        output in bytes(1500),
        events in vec((bytes(700), bytes(700)), 0..3),
    ) {
        use verity_host_abi::hash::RECEIPT_DOMAIN;
        let mut big = r.clone();
        big.input = input;
        big.output = output;
        big.events = events
            .into_iter()
            .map(|(topic, data)| Event { contract: ContractId([9; 32]), topic, data })
            .collect();
        for r in [r, big] {
            prop_assert_eq!(r.hash(), Hash32::of_tagged(RECEIPT_DOMAIN, &r.encode()));
        }
    }

    #[test]
    fn decode_inverts_encode(r in receipt()) {
        let bytes = r.encode();
        prop_assert_eq!(Receipt::decode(&bytes).unwrap(), r);
    }

    #[test]
    fn json_round_trips_and_states_the_hash(r in receipt()) {
        let json = ReceiptJson::from(&r);
        let text = serde_json::to_string(&json).unwrap();
        let back: ReceiptJson = serde_json::from_str(&text).unwrap();
        let (decoded, stated) = back.into_receipt().unwrap();
        prop_assert_eq!(stated, r.hash());
        prop_assert_eq!(decoded, r);
    }

    #[test]
    fn any_change_to_any_field_changes_the_hash(r in receipt()) {
        let h = r.hash();
        for (field, m) in mutations(&r) {
            prop_assert_ne!(&m, &r, "mutation of {} changed nothing", field);
            prop_assert!(Receipt::decode(&m.encode()).is_ok(), "mutation of {} is invalid", field);
            prop_assert_ne!(m.hash(), h, "hash ignores {}", field);
        }
    }

    #[test]
    fn every_strict_prefix_is_refused(r in receipt()) {
        let bytes = r.encode();
        for n in 0..bytes.len() {
            prop_assert!(Receipt::decode(&bytes[..n]).is_err(), "prefix of {} bytes decoded", n);
        }
    }

    #[test]
    fn trailing_bytes_are_refused(r in receipt(), extra in vec(any::<u8>(), 1..4)) {
        let mut bytes = r.encode();
        bytes.extend_from_slice(&extra);
        prop_assert_eq!(Receipt::decode(&bytes), Err(DecodeError::TrailingBytes(extra.len())));
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics_and_accepts_only_canonical(data in vec(any::<u8>(), 0..200)) {
        if let Ok(r) = Receipt::decode(&data) {
            prop_assert_eq!(r.encode(), data);
        }
    }
}

fn sample() -> Receipt {
    Receipt {
        format_version: 4,
        auth: Auth::Asserted,
        profile_hash: Hash32([1; 32]),
        action: Action::Run,
        contract: ContractId([3; 32]),
        code_hash: Hash32([2; 32]),
        entry: "run".into(),
        sender: vec![],
        context: vec![],
        height: 0,
        time: 0,
        chain_id: String::new(),
        input: vec![],
        fuel_limit: 10,
        fuel_used: 5,
        status: Status::Success,
        pre_state_root: Hash32([4; 32]),
        post_state_root: Hash32([5; 32]),
        reads: vec![
            ReadEntry {
                key: b"a".to_vec(),
                value: None,
            },
            ReadEntry {
                key: b"b".to_vec(),
                value: Some(b"1".to_vec()),
            },
        ],
        writes: vec![],
        calls: vec![],
        events: vec![],
        output: vec![],
    }
}

#[test]
fn unsorted_or_duplicate_keys_are_refused() {
    let mut r = sample();
    r.reads.swap(0, 1);
    assert!(matches!(
        Receipt::decode(&r.encode()),
        Err(DecodeError::Invalid { field: "reads", .. })
    ));
    let mut r = sample();
    r.reads[1].key = b"a".to_vec();
    assert!(Receipt::decode(&r.encode()).is_err());
}

/// A lying call tree: depths that no run produces, a rejected call, or
/// calls claimed by a failed run.
#[test]
fn call_trees_that_no_run_makes_are_refused() {
    let call = |depth: u32, status: Status| CallEntry {
        depth,
        caller: ContractId([1; 32]),
        callee: ContractId([2; 32]),
        entry: "f".into(),
        input_hash: Hash32([3; 32]),
        status,
        fuel_used: 1,
    };
    let with = |calls: Vec<CallEntry>| {
        let mut r = sample();
        r.calls = calls;
        Receipt::decode(&r.encode())
    };
    assert!(
        with(vec![
            call(1, Status::Success),
            call(2, Status::OutOfFuel),
            call(1, Status::Success)
        ])
        .is_ok()
    );
    for depths in [vec![0], vec![2], vec![1, 3], vec![1, 2, 4]] {
        let calls = depths.iter().map(|d| call(*d, Status::Success)).collect();
        assert!(
            matches!(
                with(calls),
                Err(DecodeError::Invalid { field: "calls", .. })
            ),
            "depths {depths:?} accepted"
        );
    }
    let rejected = call(1, Status::Rejected { reason: "r".into() });
    assert!(matches!(
        with(vec![rejected]),
        Err(DecodeError::Invalid { field: "calls", .. })
    ));
    let mut failed = sample();
    failed.status = Status::OutOfFuel;
    failed.post_state_root = failed.pre_state_root;
    failed.calls = vec![call(1, Status::Success)];
    assert!(
        Receipt::decode(&failed.encode()).is_err(),
        "a failed run with calls"
    );
}

#[test]
fn failed_runs_with_effects_and_overspent_fuel_are_refused() {
    let mut r = sample();
    r.status = Status::OutOfFuel;
    r.post_state_root = r.pre_state_root;
    assert!(Receipt::decode(&r.encode()).is_ok());
    r.output = vec![1];
    assert!(Receipt::decode(&r.encode()).is_err());
    // A failed run that claims to have changed the state.
    let mut r = sample();
    r.status = Status::OutOfFuel;
    assert!(matches!(
        Receipt::decode(&r.encode()),
        Err(DecodeError::Invalid {
            field: "post_state_root",
            ..
        })
    ));
    let mut r = sample();
    r.fuel_used = 11;
    assert!(Receipt::decode(&r.encode()).is_err());
    let mut r = sample();
    r.format_version = 1;
    assert_eq!(
        Receipt::decode(&r.encode()),
        Err(DecodeError::UnsupportedVersion(1))
    );
}

#[test]
fn hostile_counts_do_not_allocate_or_loop() {
    // A read set claiming u32::MAX entries in a short buffer.
    let mut bytes = sample().encode();
    // version, profile, action (run), contract, code, entry "run", sender,
    // context, height, time, chain id, input, fuel limit and used, status,
    // the two roots.
    let reads_at = 4 + 32 + 1 + 32 + 32 + (4 + 3) + 4 + 4 + 8 + 8 + 4 + 4 + 8 + 8 + 1 + 32 + 32;
    bytes[reads_at..reads_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        Receipt::decode(&bytes),
        Err(DecodeError::Truncated { field: "reads" })
    );
}

/// Encoding is total: a field of 2³² − 1 bytes or more (built by hand; no
/// receipt within the profile holds one) takes the long length form
/// instead of panicking, and the long form is refused for a length that
/// fits the short one, so each receipt keeps one encoding.
#[test]
fn lengths_past_u32_take_the_long_form_and_only_they_do() {
    let mut bytes = sample().encode();
    assert_eq!(
        bytes[bytes.len() - 4..],
        [0, 0, 0, 0],
        "the empty output's length"
    );
    bytes.truncate(bytes.len() - 4);
    bytes.extend_from_slice(&u32::MAX.to_le_bytes());
    bytes.extend_from_slice(&0u64.to_le_bytes());
    assert_eq!(
        Receipt::decode(&bytes),
        Err(DecodeError::Invalid {
            field: "output",
            reason: "a long length form for a length that fits in u32"
        })
    );
    // The untouched pages of a zeroed allocation cost no memory to hash.
    let mut huge = sample();
    huge.output = vec![0; u32::MAX as usize];
    assert_ne!(huge.hash(), sample().hash());
}

fn arb_record() -> impl Strategy<Value = verity_host_abi::contract::ContractRecord> {
    use verity_host_abi::contract::{CodeChange, ContractRecord};
    (
        any::<[u8; 32]>(),
        vec(any::<u8>(), 0..40),
        vec(
            (any::<u64>(), any::<[u8; 32]>()),
            0..=ContractRecord::MAX_HISTORY,
        ),
    )
        .prop_map(|(hash, admin, history)| ContractRecord {
            code_hash: Hash32(hash),
            admin,
            history: history
                .into_iter()
                .map(|(height, h)| CodeChange {
                    height,
                    code_hash: Hash32(h),
                })
                .collect(),
        })
}

proptest! {
    /// A contract record has one encoding: every record round-trips, and
    /// any bytes that decode are exactly the encoding of what they decode
    /// to (a v2 record with no history, a count past the bound, a trailing
    /// byte: all refused).
    #[test]
    fn a_contract_record_has_one_encoding(r in arb_record(), junk in vec(any::<u8>(), 0..120), cut in any::<prop::sample::Index>()) {
        use verity_host_abi::contract::ContractRecord;
        let bytes = r.encode();
        prop_assert_eq!(ContractRecord::decode(&bytes), Some(r.clone()));
        // Truncated or extended, the encoding is no record (or another's
        // canonical encoding).
        let short = &bytes[..cut.index(bytes.len())];
        let mut long = bytes.clone();
        long.push(0);
        for b in [short, &long[..], &junk[..]] {
            if let Some(d) = ContractRecord::decode(b) {
                prop_assert_eq!(d.encode(), b.to_vec());
            }
        }
        prop_assert_eq!(ContractRecord::decode(&long), None);
        // The version byte says whether there is a history.
        prop_assert_eq!(bytes[0], if r.history.is_empty() { 1 } else { 2 });
    }
}

/// A signed receipt: the sender is the 32-byte address, and unless the
/// transaction was rejected its writes consume the nonce.
fn signed_sample(status: Status) -> Receipt {
    let mut r = sample();
    r.sender = vec![8; 32];
    r.auth = ed25519_auth(42, 90);
    r.status = status;
    r.writes.clear();
    fix_nonce(&mut r);
    r
}

#[test]
fn a_signed_receipt_consumes_its_nonce_and_nothing_else_when_it_fails() {
    for status in [
        Status::Success,
        Status::OutOfFuel,
        Status::Reverted {
            message: "x".into(),
        },
    ] {
        let r = signed_sample(status.clone());
        assert_eq!(r.writes.len(), 1);
        assert!(Receipt::decode(&r.encode()).is_ok(), "{status:?}");
        // Without its nonce write, with the nonce of another value or key.
        let mut none = r.clone();
        none.writes.clear();
        none.post_state_root = none.pre_state_root;
        let mut value = r.clone();
        value.writes[0].value = Some(91u64.to_le_bytes().to_vec());
        let mut key = r.clone();
        key.writes[0].key = nonce_key(&[8; 32], 43).to_vec();
        for bad in [none, value, key] {
            let err = Receipt::decode(&bad.encode()).unwrap_err();
            assert!(
                err.to_string().contains("does not consume its nonce"),
                "{err}"
            );
        }
        if !status.is_success() {
            let mut extra = r.clone();
            extra.writes.push(WriteEntry {
                key: vec![0xff],
                value: None,
            });
            assert!(Receipt::decode(&extra.encode()).is_err());
        }
    }
    // A rejected transaction consumes nothing.
    let rejected = signed_sample(Status::Rejected {
        reason: "auth_expired".into(),
    });
    assert!(rejected.writes.is_empty());
    assert!(Receipt::decode(&rejected.encode()).is_ok());
    let mut consumed = rejected.clone();
    consumed.writes = signed_sample(Status::OutOfFuel).writes;
    assert!(Receipt::decode(&consumed.encode()).is_err());
    // A signed sender is an address; a key of the wrong size is refused.
    let mut short = signed_sample(Status::Success);
    short.sender.pop();
    assert!(Receipt::decode(&short.encode()).is_err());
    let mut key = signed_sample(Status::Success);
    if let Auth::Signed(s) = &mut key.auth {
        s.public_key.push(0);
    }
    assert!(Receipt::decode(&key.encode()).is_err());
}
