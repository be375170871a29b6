//! Signed transactions (docs/auth.md): the sender is the key's address,
//! the signature covers the network, profile, sender, nonce, validity,
//! fuel and payload, and each nonce is consumed once while valid. Every
//! attack of issue 23 section 4 that the runtime sees is a test here: the
//! replayed envelope, the signature moved to another network, profile or
//! sender, an expired or too-far validity, a nonce reused while valid and
//! after, malleated signatures, a contract's address as the sender, an
//! edited fuel limit, and a receipt whose signature was swapped.

use verity_runtime::abi::auth::{AuthRejection, nonce_key};
use verity_runtime::{
    AccountKey, Auth, ContractId, MemoryState, Profile, Receipt, Runtime, Scheme, Status,
    Transaction,
};

/// A contract whose `run` writes the key "k" and whose `fail` traps.
const CONTRACT: &str = r#"(module
  (import "verity" "storage_write" (func $w (param i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "kv")
  (func (export "run") (call $w (i32.const 0) (i32.const 1) (i32.const 1) (i32.const 1)))
  (func (export "fail") unreachable))"#;

const CHAIN: &str = "verity-auth-test";

fn runtime() -> Runtime {
    Runtime::new(Profile::default()).unwrap()
}

fn key(scheme: Scheme, seed: u8) -> AccountKey {
    AccountKey::from_secret(scheme, &[seed; 32]).unwrap()
}

/// A state with the contract deployed (anonymously).
fn deployed(rt: &Runtime) -> (MemoryState, ContractId) {
    let wasm = wat::parse_str(CONTRACT).unwrap();
    let mut state = MemoryState::default();
    let tx = Transaction::deploy(Default::default());
    let r = rt.execute(&wasm, &tx, &state).unwrap();
    assert!(r.status.is_success(), "{}", r.status);
    state.commit(&r).unwrap();
    (state, r.contract)
}

/// A call of `entry` at height 10 on [`CHAIN`].
fn call(contract: ContractId, entry: &str) -> Transaction {
    Transaction::call(contract, entry)
        .with_height(10)
        .with_chain_id(CHAIN)
        .with_fuel(1_000_000)
}

fn reason(r: &Receipt) -> String {
    match &r.status {
        Status::Rejected { reason } => reason.clone(),
        other => panic!("expected a rejection, got {other}"),
    }
}

fn assert_refused(r: &Receipt, why: AuthRejection) {
    assert!(
        reason(r).starts_with(why.code()),
        "{} is not {}",
        reason(r),
        why.code()
    );
    assert!(
        r.writes.is_empty(),
        "a refused transaction consumed its nonce"
    );
    assert_eq!(r.fuel_used, 0);
}

#[test]
fn a_signed_call_runs_as_its_key_consumes_its_nonce_and_verifies_with_its_witness() {
    let rt = runtime();
    let (mut state, contract) = deployed(&rt);
    for scheme in [Scheme::Ed25519, Scheme::P256] {
        let k = key(scheme, 3);
        let tx = rt.sign(call(contract, "run"), &k, 7, 20, None);
        let r = rt.execute_call(&tx, &state).unwrap();
        assert!(r.status.is_success(), "{scheme:?}: {}", r.status);
        assert_eq!(r.sender, k.address());
        let nonce = nonce_key(&k.address(), 7);
        assert_eq!(
            r.read_value(&nonce),
            Some(None),
            "the nonce's absence is a read"
        );
        let w = r
            .writes
            .iter()
            .find(|w| w.key == nonce)
            .expect("nonce written");
        assert_eq!(w.value.as_deref(), Some(&20u64.to_le_bytes()[..]));
        let witness = state.commit(&r).unwrap().witness;
        // A verifier with no database re-checks signature and transition.
        let verifier = runtime();
        let wasm = wat::parse_str(CONTRACT).unwrap();
        let v = verifier
            .verify_receipt(&r, Some(&wasm), Some(&witness))
            .unwrap();
        assert!(v.state_authenticated);
        // The same envelope again: refused, nothing consumed.
        let again = rt.execute_call(&tx, &state).unwrap();
        assert_refused(&again, AuthRejection::NonceUsed);
        // A new nonce runs.
        let next = rt.sign(call(contract, "run"), &k, 8, 20, None);
        assert!(rt.execute_call(&next, &state).unwrap().status.is_success());
    }
}

#[test]
fn a_failed_run_consumes_its_nonce_and_a_refused_one_does_not() {
    let rt = runtime();
    let (mut state, contract) = deployed(&rt);
    let k = key(Scheme::Ed25519, 4);
    let tx = rt.sign(call(contract, "fail"), &k, 1, 20, None);
    let r = rt.execute_call(&tx, &state).unwrap();
    assert!(matches!(r.status, Status::Trapped { .. }), "{}", r.status);
    assert_eq!(r.writes.len(), 1, "only the nonce");
    assert_ne!(r.post_state_root, r.pre_state_root);
    let decoded = Receipt::decode(&r.encode()).unwrap();
    assert_eq!(decoded, r);
    let witness = state.commit(&r).unwrap().witness;
    let wasm = wat::parse_str(CONTRACT).unwrap();
    assert!(
        runtime()
            .verify_receipt(&r, Some(&wasm), Some(&witness))
            .unwrap()
            .state_authenticated
    );
    assert_refused(
        &rt.execute_call(&tx, &state).unwrap(),
        AuthRejection::NonceUsed,
    );
    // A call of a missing entry is refused after admission: it ran nothing
    // and consumes nothing, so the envelope stays usable.
    let missing = rt.sign(call(contract, "nope"), &k, 2, 20, None);
    let r = rt.execute_call(&missing, &state).unwrap();
    assert!(reason(&r).contains("nope"), "{}", reason(&r));
    assert!(r.writes.is_empty());
}

#[test]
fn a_signature_binds_network_profile_sender_fuel_and_payload() {
    let rt = runtime();
    let (state, contract) = deployed(&rt);
    let k = key(Scheme::Ed25519, 5);
    let tx = rt.sign(call(contract, "run"), &k, 1, 20, None);
    assert!(rt.execute_call(&tx, &state).unwrap().status.is_success());
    // Another network.
    let other_chain = tx.clone().with_chain_id("another-chain");
    assert_refused(
        &rt.execute_call(&other_chain, &state).unwrap(),
        AuthRejection::BadSignature,
    );
    // Another profile: a runtime with one limit changed.
    let mut profile = Profile::default();
    profile.limits.max_events += 1;
    let other = Runtime::new(profile).unwrap();
    let (other_state, other_contract) = deployed(&other);
    assert_eq!(other_contract, contract);
    assert_refused(
        &other.execute_call(&tx, &other_state).unwrap(),
        AuthRejection::BadSignature,
    );
    // Edited fuel limit, entry, input, nonce, validity.
    let mut edits = vec![
        tx.clone().with_fuel(2_000_000),
        tx.clone().with_entry("fail"),
        tx.clone().with_input(vec![1]),
    ];
    let edits_of: [fn(&mut verity_runtime::Signed); 2] = [|s| s.nonce += 1, |s| s.valid_until += 1];
    for f in edits_of {
        let mut t = tx.clone();
        if let Auth::Signed(s) = &mut t.auth {
            f(s);
        }
        edits.push(t);
    }
    for edited in edits {
        assert_refused(
            &rt.execute_call(&edited, &state).unwrap(),
            AuthRejection::BadSignature,
        );
    }
    // Another sender sharing the key, and a contract's address as sender.
    for sender in [
        key(Scheme::Ed25519, 6).address().to_vec(),
        contract.0.to_vec(),
    ] {
        assert_refused(
            &rt.execute_call(&tx.clone().with_sender(sender), &state)
                .unwrap(),
            AuthRejection::SenderNotKey,
        );
    }
    // The same key under the other scheme is another account.
    let p = key(Scheme::P256, 5);
    assert_ne!(p.address(), k.address());
}

#[test]
fn validity_is_bounded_and_a_nonce_is_free_again_only_once_its_envelope_expired() {
    let rt = runtime();
    let (mut state, contract) = deployed(&rt);
    let k = key(Scheme::Ed25519, 7);
    let max = Profile::default().limits.max_validity_blocks;
    // Expired: valid until 9, run at 10.
    assert_refused(
        &rt.execute_call(&rt.sign(call(contract, "run"), &k, 1, 9, None), &state)
            .unwrap(),
        AuthRejection::Expired,
    );
    // Too far ahead, and the furthest allowed.
    assert_refused(
        &rt.execute_call(
            &rt.sign(call(contract, "run"), &k, 1, 11 + max, None),
            &state,
        )
        .unwrap(),
        AuthRejection::TooFarAhead,
    );
    let furthest = rt.sign(call(contract, "run"), &k, 1, 10 + max, None);
    assert!(
        rt.execute_call(&furthest, &state)
            .unwrap()
            .status
            .is_success()
    );
    // Nonce 2, valid until 12, used at height 10.
    let first = rt.sign(call(contract, "run"), &k, 2, 12, None);
    let r = rt.execute_call(&first, &state).unwrap();
    state.commit(&r).unwrap();
    // At height 12 the nonce is still taken, for a new envelope too.
    let at = |h: u64| call(contract, "run").with_height(h);
    let renewed = rt.sign(at(12), &k, 2, 30, None);
    assert_refused(
        &rt.execute_call(&renewed, &state).unwrap(),
        AuthRejection::NonceUsed,
    );
    // At 13 the old envelope is expired (so it cannot be replayed), and a
    // new envelope may take the nonce again.
    let mut replay = first.clone();
    replay.chain.height = 13;
    assert_refused(
        &rt.execute_call(&replay, &state).unwrap(),
        AuthRejection::Expired,
    );
    let reused = rt.sign(at(13), &k, 2, 30, None);
    let r = rt.execute_call(&reused, &state).unwrap();
    assert!(r.status.is_success(), "{}", r.status);
    assert_eq!(
        r.read_value(&nonce_key(&k.address(), 2)),
        Some(Some(&12u64.to_le_bytes()[..]))
    );
}

#[test]
fn malleated_signatures_and_small_order_keys_are_refused() {
    let rt = runtime();
    let (state, contract) = deployed(&rt);
    // Ed25519: S + L verifies in a lax verifier; refused here.
    let k = key(Scheme::Ed25519, 8);
    let tx = rt.sign(call(contract, "run"), &k, 1, 20, None);
    let mut high = tx.clone();
    if let Auth::Signed(s) = &mut high.auth {
        add_group_order(&mut s.signature[32..]);
    }
    assert_refused(
        &rt.execute_call(&high, &state).unwrap(),
        AuthRejection::BadSignature,
    );
    // A small-order Ed25519 key (the identity point), with its address.
    let identity = {
        let mut b = [0u8; 32];
        b[0] = 1;
        b
    };
    let mut weak = tx.clone();
    if let Auth::Signed(s) = &mut weak.auth {
        s.public_key = identity.to_vec();
    }
    weak.sender = verity_runtime::abi::auth::account_address(Scheme::Ed25519, &identity).to_vec();
    assert_refused(
        &rt.execute_call(&weak, &state).unwrap(),
        AuthRejection::BadKey,
    );
    // P-256: the high-S twin (n - s) of a valid signature.
    let p = key(Scheme::P256, 8);
    let tx = rt.sign(call(contract, "run"), &p, 1, 20, None);
    let mut twin = tx.clone();
    if let Auth::Signed(s) = &mut twin.auth {
        let sig = p256::ecdsa::Signature::from_slice(&s.signature).unwrap();
        let (r, low) = sig.split_scalars();
        let high = p256::ecdsa::Signature::from_scalars(r, -*low).unwrap();
        s.signature = high.to_bytes().to_vec();
    }
    assert!(rt.execute_call(&tx, &state).unwrap().status.is_success());
    assert_refused(
        &rt.execute_call(&twin, &state).unwrap(),
        AuthRejection::BadSignature,
    );
}

/// Adds the Ed25519 group order L to the little-endian scalar `s`.
fn add_group_order(s: &mut [u8]) {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    for (b, l) in s.iter_mut().zip(L) {
        let sum = *b as u16 + l as u16 + carry;
        *b = sum as u8;
        carry = sum >> 8;
    }
}

#[test]
fn a_verifier_refuses_a_receipt_whose_signature_or_sender_was_swapped() {
    let rt = runtime();
    let (mut state, contract) = deployed(&rt);
    let (a, b) = (key(Scheme::Ed25519, 9), key(Scheme::Ed25519, 10));
    let r = rt
        .execute_call(&rt.sign(call(contract, "run"), &a, 1, 20, None), &state)
        .unwrap();
    let witness = state.commit(&r).unwrap().witness;
    let wasm = wat::parse_str(CONTRACT).unwrap();
    assert!(
        rt.verify_receipt(&r, Some(&wasm), Some(&witness))
            .unwrap()
            .state_authenticated
    );
    // b's signature of the same transaction, under a's key.
    let by_b = rt.sign(call(contract, "run"), &b, 1, 20, None);
    let mut swapped = r.clone();
    if let (Auth::Signed(s), Auth::Signed(other)) = (&mut swapped.auth, &by_b.auth) {
        s.signature = other.signature.clone();
    }
    let err = rt
        .verify_receipt(&swapped, Some(&wasm), Some(&witness))
        .unwrap_err();
    assert!(err.to_string().contains("auth_bad_signature"), "{err}");
    // a's receipt claiming b as the sender.
    let mut sender = r.clone();
    sender.sender = b.address().to_vec();
    let err = rt
        .verify_receipt(&sender, Some(&wasm), Some(&witness))
        .unwrap_err();
    assert!(err.to_string().contains("auth_sender_not_key"), "{err}");
}

#[test]
fn the_profile_decides_about_asserted_senders_and_checks_are_paid_for() {
    // The default profile admits no claimed sender: a transaction that
    // names one without signing is refused, whoever runs it.
    let rt = runtime();
    let wasm = wat::parse_str(CONTRACT).unwrap();
    let state = MemoryState::default();
    let k = key(Scheme::Ed25519, 11);
    let claimed = Transaction::new("run")
        .with_chain_id(CHAIN)
        .with_sender(k.address().to_vec());
    let r = rt.execute(&wasm, &claimed, &state).unwrap();
    assert_refused(&r, AuthRejection::Unsigned);
    assert_eq!((r.fuel_used, r.writes.len()), (0, 0));
    // An anonymous one claims nobody and runs.
    let unsigned = Transaction::new("run").with_chain_id(CHAIN);
    let r = rt.execute(&wasm, &unsigned, &state).unwrap();
    assert!(r.status.is_success(), "{}", r.status);
    // A profile that trusts its embedder admits the claim, under its own
    // hash.
    let open = Runtime::new(Profile::asserted_senders()).unwrap();
    assert_ne!(open.profile_hash(), rt.profile_hash());
    let r = open.execute(&wasm, &claimed, &state).unwrap();
    assert!(r.status.is_success(), "{}", r.status);
    assert_eq!(r.sender, k.address());
    let signed = rt.sign(unsigned.clone().with_height(10), &k, 1, 20, Some(&wasm));
    let r = rt.execute(&wasm, &signed, &state).unwrap();
    assert!(r.status.is_success(), "{}", r.status);
    // The checks are charged: an unsigned run of the same code costs less.
    let open = runtime();
    let plain = open
        .execute(&wasm, &unsigned.clone().with_height(10), &state)
        .unwrap();
    assert!(
        r.fuel_used > plain.fuel_used + 50_000,
        "{} vs {}",
        r.fuel_used,
        plain.fuel_used
    );
    // A limit below the checks' cost is refused before the signature is
    // looked at.
    let poor = rt.sign(
        unsigned.with_height(10).with_fuel(1_000),
        &k,
        2,
        20,
        Some(&wasm),
    );
    assert_refused(
        &rt.execute(&wasm, &poor, &state).unwrap(),
        AuthRejection::FuelTooLow,
    );
}

mod envelopes {
    use super::*;
    use proptest::prelude::*;
    use verity_runtime::{Envelope, EnvelopeError, Hash32};

    fn envelope_of(
        rt: &Runtime,
        tx: &Transaction,
        k: &AccountKey,
        code: Option<&[u8]>,
    ) -> Envelope {
        let mut e = rt.envelope(tx, k.scheme(), &k.public_key(), 4, 20, code);
        e.attach(&k.sign(&e.tx_hash().0)).unwrap();
        e
    }

    /// Signed elsewhere and carried as bytes, a transaction runs as the
    /// one `Runtime::sign` makes: the same tx hash, the same receipt.
    #[test]
    fn an_envelope_signed_elsewhere_runs_as_runtime_sign_does() {
        let rt = runtime();
        let (state, contract) = deployed(&rt);
        for scheme in [Scheme::Ed25519, Scheme::P256] {
            let k = key(scheme, 21);
            let tx = call(contract, "run").with_input(vec![1, 2]);
            let bytes = envelope_of(&rt, &tx, &k, None).encode();
            let carried = Envelope::decode(&bytes)
                .unwrap()
                .transaction()
                .with_height(10);
            let direct = rt.sign(tx, &k, 4, 20, None);
            let a = rt.execute_call(&carried, &state).unwrap();
            let b = rt.execute_call(&direct, &state).unwrap();
            assert!(a.status.is_success(), "{}", a.status);
            assert_eq!(a, b);
            assert_eq!(
                a.tx_hash(),
                Some(Envelope::decode(&bytes).unwrap().tx_hash())
            );
        }
        // A run brings its code: the envelope signs its hash.
        let wasm = wat::parse_str(CONTRACT).unwrap();
        let k = key(Scheme::Ed25519, 22);
        let tx = Transaction::new("run").with_chain_id(CHAIN);
        let e = envelope_of(&rt, &tx, &k, Some(&wasm));
        assert_eq!(e.code_hash, Hash32::of(&wasm));
        let r = rt
            .execute(
                &wasm,
                &e.transaction().with_height(3),
                &MemoryState::default(),
            )
            .unwrap();
        assert!(r.status.is_success(), "{}", r.status);
        // Another module under the same envelope: the signature fails.
        let other = wat::parse_str(r#"(module (func (export "run")))"#).unwrap();
        let r = rt
            .execute(
                &other,
                &e.transaction().with_height(3),
                &MemoryState::default(),
            )
            .unwrap();
        assert_refused(&r, AuthRejection::BadSignature);
    }

    /// `attach` keeps only a signature that verifies.
    #[test]
    fn attach_refuses_a_signature_of_another_key_or_message() {
        let rt = runtime();
        let (k, other) = (key(Scheme::Ed25519, 23), key(Scheme::Ed25519, 24));
        let tx = call(ContractId([5; 32]), "run");
        let mut e = rt.envelope(&tx, k.scheme(), &k.public_key(), 1, 1, None);
        let hash = e.tx_hash();
        assert!(e.attach(&other.sign(&hash.0)).is_err());
        assert!(e.attach(&k.sign(&[0; 32])).is_err());
        assert!(e.signature.is_empty());
        e.attach(&k.sign(&hash.0)).unwrap();
        assert_eq!(e.tx_hash(), hash, "the signature is not hashed");
    }

    /// Hand-made bytes that the decoder must refuse, each for its reason.
    #[test]
    fn decoding_refuses_what_no_envelope_encodes() {
        let rt = runtime();
        let k = key(Scheme::Ed25519, 25);
        let e = envelope_of(&rt, &call(ContractId([5; 32]), "run"), &k, None);
        let bytes = e.encode();
        let magic = verity_runtime::ENVELOPE_MAGIC.len();
        // The network is not the chain id's: the chain id edited.
        let mut b = bytes.clone();
        b[magic + 4] ^= 1;
        assert!(matches!(
            Envelope::decode(&b),
            Err(EnvelopeError::Network(_))
        ));
        // A sender that is not the key's.
        let sender_at = magic + 4 + CHAIN.len() + 64;
        let mut b = bytes.clone();
        b[sender_at] ^= 1;
        assert_eq!(Envelope::decode(&b), Err(EnvelopeError::Sender));
        // A call that names code.
        let mut called = e.clone();
        called.code_hash = Hash32([1; 32]);
        assert!(matches!(
            Envelope::decode(&called.encode()),
            Err(EnvelopeError::Invalid(_))
        ));
        // A signature of another size.
        let mut short = e.clone();
        short.signature.pop();
        assert!(Envelope::decode(&short.encode()).is_err());
        // Trailing bytes, and every truncation.
        let mut b = bytes.clone();
        b.push(0);
        assert_eq!(Envelope::decode(&b), Err(EnvelopeError::Trailing(1)));
        for n in 0..bytes.len() {
            assert!(Envelope::decode(&bytes[..n]).is_err(), "{n} bytes decode");
        }
    }

    fn arb_target() -> impl Strategy<Value = (Transaction, bool)> {
        prop_oneof![
            any::<[u8; 32]>().prop_map(|c| (Transaction::call(ContractId(c), "e"), false)),
            Just((Transaction::new("run"), true)),
            any::<[u8; 32]>().prop_map(|s| (Transaction::deploy(Hash32(s)), true)),
            Just((Transaction::upload(), true)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Every envelope decodes to itself, and one byte changed
        /// anywhere either is refused or is the encoding of the envelope
        /// it decodes to (one encoding per value).
        #[test]
        fn envelopes_round_trip_and_have_one_encoding(
            (tx, brings_code) in arb_target(),
            p256 in any::<bool>(),
            seed in 1u8..200,
            entry in "[a-z_]{0,12}",
            input in proptest::collection::vec(any::<u8>(), 0..64),
            chain in "[a-z0-9-]{0,16}",
            nonce in any::<u64>(),
            until in any::<u64>(),
            fuel in any::<u64>(),
            signed in any::<bool>(),
            at in any::<prop::sample::Index>(),
            flip in 1u8..=255,
        ) {
            let rt = runtime();
            let scheme = if p256 { Scheme::P256 } else { Scheme::Ed25519 };
            let k = key(scheme, seed);
            let mut tx = tx.with_input(input).with_chain_id(chain).with_fuel(fuel);
            tx.entry = entry;
            let code = brings_code.then_some(&[0u8, 97, 115, 109][..]);
            let mut e = rt.envelope(&tx, scheme, &k.public_key(), nonce, until, code);
            if signed {
                e.attach(&k.sign(&e.tx_hash().0)).unwrap();
            }
            let bytes = e.encode();
            prop_assert_eq!(Envelope::decode(&bytes).unwrap(), e);
            let mut edited = bytes.clone();
            let i = at.index(edited.len());
            edited[i] ^= flip;
            if let Ok(other) = Envelope::decode(&edited) {
                prop_assert_eq!(other.encode(), edited);
            }
        }
    }
}
