//! The signature and hash host functions against standard vectors (RFC 8032
//! for Ed25519, Project Wycheproof for Ed25519, secp256k1 and P-256,
//! Keccak-256's published digests), signatures made outside the
//! host by the same well-kept crates (secp256k1, P-256), every malformation
//! the ABI names (bad keys, small-order keys, non-canonical and high-S
//! signatures, bad recovery ids), and arbitrary bytes: each ends in its
//! documented result code, never a panic.

use proptest::prelude::*;
use verity_host_abi::{CostSchedule, Limits, TrapKind};
use verity_host_core::{GuestMemory, Host, HostExit, MemoryState, TxBytes};

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn host(state: &MemoryState) -> Host<&MemoryState> {
    let me = verity_host_abi::ContractId([1; 32]);
    let limits = Limits::default();
    Host::new(
        state,
        &me,
        TxBytes::default(),
        &limits,
        &CostSchedule::default(),
        u64::MAX,
    )
}

/// Guest memory holding `parts` one after another, and each part's offset.
fn memory<const N: usize>(parts: [&[u8]; N]) -> (Vec<u8>, [i32; N]) {
    let mut bytes = Vec::new();
    let at = parts.map(|p| {
        let at = bytes.len() as i32;
        bytes.extend_from_slice(p);
        at
    });
    (bytes, at)
}

fn ed25519(key: &[u8], sig: &[u8], msg: &[u8]) -> i32 {
    let state = MemoryState::default();
    let (mut mem, [k, s, m]) = memory([key, sig, msg]);
    host(&state)
        .ed25519_verify(&mut GuestMemory::new(&mut mem), k, s, m, msg.len() as i32)
        .unwrap()
}

fn k1_verify(key: &[u8], digest: &[u8], sig: &[u8]) -> i32 {
    let state = MemoryState::default();
    let (mut mem, [k, d, s]) = memory([key, digest, sig]);
    host(&state)
        .secp256k1_verify(&mut GuestMemory::new(&mut mem), k, key.len() as i32, d, s)
        .unwrap()
}

fn k1_recover(digest: &[u8], sig: &[u8], id: i32) -> (i32, Vec<u8>) {
    let state = MemoryState::default();
    let (mut mem, [d, s, o]) = memory([digest, sig, &[0; 33]]);
    let r = host(&state)
        .secp256k1_recover(&mut GuestMemory::new(&mut mem), d, s, id, o)
        .unwrap();
    (r, mem[o as usize..].to_vec())
}

fn r1_verify(key: &[u8], digest: &[u8], sig: &[u8]) -> i32 {
    let state = MemoryState::default();
    let (mut mem, [k, d, s]) = memory([key, digest, sig]);
    host(&state)
        .p256_verify(&mut GuestMemory::new(&mut mem), k, key.len() as i32, d, s)
        .unwrap()
}

#[test]
fn keccak256_matches_the_published_digests() {
    let state = MemoryState::default();
    for (input, digest) in [
        (
            &b""[..],
            "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
        ),
        (
            &b"abc"[..],
            "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45",
        ),
    ] {
        let (mut mem, [s, d]) = memory([input, &[0; 32]]);
        let mut h = host(&state);
        h.keccak256(&mut GuestMemory::new(&mut mem), s, input.len() as i32, d)
            .unwrap();
        assert_eq!(mem[d as usize..], unhex(digest)[..]);
    }
}

/// RFC 8032, section 7.1, tests 1 to 3: public key, message, signature.
const RFC8032: &[(&str, &str, &str)] = &[
    (
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
];

#[test]
fn ed25519_accepts_rfc_8032_and_refuses_each_malformation() {
    for (key, msg, sig) in RFC8032 {
        let (key, msg, sig) = (unhex(key), unhex(msg), unhex(sig));
        assert_eq!(ed25519(&key, &sig, &msg), 1, "RFC 8032 vector");
        // Another message, a flipped signature bit: does not verify.
        assert_eq!(ed25519(&key, &sig, b"another message"), 0);
        let mut flipped = sig.clone();
        flipped[5] ^= 1;
        assert_eq!(ed25519(&key, &flipped, &msg), 0);
        // S at or above the group order: malformed (malleability).
        let mut high = sig.clone();
        high[63] |= 0xf0;
        assert_eq!(ed25519(&key, &high, &msg), -2);
    }
    let (_, msg, sig) = RFC8032[0];
    let (msg, sig) = (unhex(msg), unhex(sig));
    // The identity point (small order): refused as a key, strictly.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert_eq!(ed25519(&identity, &sig, &msg), -1);
}

#[test]
fn secp256k1_verifies_and_recovers_what_k256_signs_and_refuses_high_s() {
    use k256::ecdsa::{RecoveryId, Signature, SigningKey, VerifyingKey};
    let signer = SigningKey::from_bytes(&[0x42; 32].into()).unwrap();
    let public = VerifyingKey::from(&signer);
    let digest = [0x17u8; 32];
    let (sig, id): (Signature, RecoveryId) = signer.sign_prehash_recoverable(&digest).unwrap();
    let sig: [u8; 64] = sig.to_bytes().into();
    let compressed = public.to_encoded_point(true);
    let uncompressed = public.to_encoded_point(false);
    assert_eq!(k1_verify(compressed.as_bytes(), &digest, &sig), 1);
    assert_eq!(k1_verify(uncompressed.as_bytes(), &digest, &sig), 1);
    assert_eq!(k1_verify(compressed.as_bytes(), &[0x18; 32], &sig), 0);
    let (r, key) = k1_recover(&digest, &sig, id.to_byte().into());
    assert_eq!((r, key.as_slice()), (1, compressed.as_bytes()));
    // The other recovery id gives another key (or none), never this one.
    let (r, other) = k1_recover(&digest, &sig, (id.to_byte() ^ 1).into());
    assert!(r == 0 || other != key);
    // High S: the same signature's other half is refused (low-S rule).
    let n = unhex("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
    let mut high = sig;
    sub_from(&n, &mut high[32..]);
    assert_eq!(k1_verify(compressed.as_bytes(), &digest, &high), -2);
    assert_eq!(k1_recover(&digest, &high, 0).0, -2);
    // Zero r, a bad recovery id, keys of the wrong length or off the curve.
    let mut zero_r = sig;
    zero_r[..32].fill(0);
    assert_eq!(k1_verify(compressed.as_bytes(), &digest, &zero_r), -2);
    assert_eq!(k1_recover(&digest, &sig, 2).0, -2);
    assert_eq!(k1_recover(&digest, &sig, -1).0, -2);
    assert_eq!(k1_verify(&compressed.as_bytes()[..32], &digest, &sig), -1);
    let mut off_curve = uncompressed.as_bytes().to_vec();
    off_curve[64] ^= 1;
    assert_eq!(k1_verify(&off_curve, &digest, &sig), -1);
}

#[test]
fn p256_verifies_what_p256_signs_either_half_of_s() {
    use p256::ecdsa::signature::hazmat::PrehashSigner;
    use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
    let signer = SigningKey::from_bytes(&[0x24; 32].into()).unwrap();
    let public = VerifyingKey::from(&signer);
    let digest = [0x33u8; 32];
    let sig: Signature = signer.sign_prehash(&digest).unwrap();
    let sig: [u8; 64] = sig.to_bytes().into();
    let key = public.to_encoded_point(true);
    assert_eq!(r1_verify(key.as_bytes(), &digest, &sig), 1);
    assert_eq!(r1_verify(key.as_bytes(), &[0; 32], &sig), 0);
    // A passkey's high-S signature is as valid as its low-S twin.
    let n = unhex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
    let mut other_half = sig;
    sub_from(&n, &mut other_half[32..]);
    assert_eq!(r1_verify(key.as_bytes(), &digest, &other_half), 1);
    assert_eq!(r1_verify(&key.as_bytes()[1..], &digest, &sig), -1);
    let mut zero_s = sig;
    zero_s[32..].fill(0);
    assert_eq!(r1_verify(key.as_bytes(), &digest, &zero_s), -2);
}

/// `s := n - s`, big-endian, in place.
fn sub_from(n: &[u8], s: &mut [u8]) {
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let d = i16::from(n[i]) - i16::from(s[i]) - borrow;
        s[i] = d.rem_euclid(256) as u8;
        borrow = i16::from(d < 0);
    }
}

#[test]
fn ranges_are_checked_before_anything_is_decoded() {
    let state = MemoryState::default();
    let mut mem = vec![0u8; 100];
    let mut h = host(&state);
    let e = h
        .ed25519_verify(&mut GuestMemory::new(&mut mem), 90, 0, 0, 0)
        .unwrap_err();
    assert!(matches!(e, HostExit::Trap(TrapKind::BadPointer)), "{e:?}");
    let e = h
        .secp256k1_recover(&mut GuestMemory::new(&mut mem), 0, 0, 0, 80)
        .unwrap_err();
    assert!(matches!(e, HostExit::Trap(TrapKind::BadPointer)), "{e:?}");
}

proptest! {
    /// Arbitrary keys, signatures, digests and ids: a result code, never a
    /// panic.
    #[test]
    fn arbitrary_input_gives_a_result_code(
        key in proptest::collection::vec(any::<u8>(), 0..70),
        sig in proptest::collection::vec(any::<u8>(), 64..=64),
        msg in proptest::collection::vec(any::<u8>(), 0..40),
        digest in proptest::collection::vec(any::<u8>(), 32..=32),
        id in -3i32..5,
    ) {
        let codes = -2..=1;
        let mut key32 = key.clone();
        key32.resize(32, 0);
        prop_assert!(codes.contains(&ed25519(&key32, &sig, &msg)));
        prop_assert!(codes.contains(&k1_verify(&key, &digest, &sig)));
        prop_assert!(codes.contains(&r1_verify(&key, &digest, &sig)));
        prop_assert!(codes.contains(&k1_recover(&digest, &sig, id).0));
    }
}

/// A test vector: its id, message, signature and expected result.
type Vector = (u64, Vec<u8>, Vec<u8>, String);

/// One Wycheproof vector file (tests/data/wycheproof, copied unchanged from
/// C2SP/wycheproof's testvectors_v1, Apache-2.0): each group's public key
/// and its tests.
fn wycheproof(file: &str, key_field: &str) -> Vec<(Vec<u8>, Vec<Vector>)> {
    let path = format!(
        "{}/tests/data/wycheproof/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let hex = |v: &serde_json::Value| unhex(v.as_str().unwrap());
    let groups: Vec<_> = doc["testGroups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let key = hex(&g["publicKey"][key_field]);
            let tests: Vec<Vector> = g["tests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| {
                    (
                        t["tcId"].as_u64().unwrap(),
                        hex(&t["msg"]),
                        hex(&t["sig"]),
                        t["result"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            (key, tests)
        })
        .collect();
    let count: usize = groups.iter().map(|g| g.1.len()).sum();
    assert_eq!(Some(count as u64), doc["numberOfTests"].as_u64(), "{file}");
    groups
}

fn sha256(m: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(m).into()
}

/// Whether the 64-byte `r ‖ s` has `s` at most half the group order `n`.
fn low_s(sig: &[u8], n: &[u8]) -> bool {
    let mut half = [0u8; 32];
    let mut carry = 0u8;
    for (h, b) in half.iter_mut().zip(n) {
        *h = (carry << 7) | (b >> 1);
        carry = b & 1;
    }
    sig[32..] <= half[..]
}

/// Runs every vector of one file through `verify`: a valid vector gives
/// `valid(sig)`, an invalid one never 1; a signature that is not 64 bytes
/// (the ABI takes exactly 64) must be an invalid vector. Returns (checked,
/// not 64 bytes).
fn run_vectors(
    groups: &[(Vec<u8>, Vec<Vector>)],
    verify: impl Fn(&[u8], &[u8], &[u8]) -> i32,
    valid: impl Fn(&[u8]) -> i32,
) -> (usize, usize) {
    let (mut checked, mut unsized_) = (0, 0);
    for (key, tests) in groups {
        for (id, msg, sig, result) in tests {
            if sig.len() != 64 {
                assert_eq!(
                    result,
                    "invalid",
                    "tcId {id}: a {}-byte signature",
                    sig.len()
                );
                unsized_ += 1;
                continue;
            }
            let got = verify(key, msg, sig);
            match result.as_str() {
                "valid" => assert_eq!(got, valid(sig), "tcId {id}"),
                "invalid" => assert_ne!(got, 1, "tcId {id} verified"),
                _ => assert!((-2..=1).contains(&got), "tcId {id}: {got}"),
            }
            checked += 1;
        }
    }
    (checked, unsized_)
}

#[test]
fn ed25519_passes_wycheproof() {
    let groups = wycheproof("ed25519_test.json", "pk");
    let (checked, unsized_) = run_vectors(&groups, |k, m, s| ed25519(k, s, m), |_| 1);
    assert!(checked > 100, "{checked} checked, {unsized_} not 64 bytes");
}

#[test]
fn secp256k1_passes_wycheproof_under_the_low_s_rule() {
    let n = unhex("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
    let groups = wycheproof("ecdsa_secp256k1_sha256_p1363_test.json", "uncompressed");
    // A valid signature with a high S is refused as malformed (-2): the
    // documented low-S rule, as Bitcoin's and Ethereum's.
    let (checked, _) = run_vectors(
        &groups,
        |k, m, s| k1_verify(k, &sha256(m), s),
        |s| if low_s(s, &n) { 1 } else { -2 },
    );
    assert!(checked > 150, "{checked}");
}

#[test]
fn p256_passes_wycheproof() {
    let groups = wycheproof("ecdsa_secp256r1_sha256_p1363_test.json", "uncompressed");
    let (checked, _) = run_vectors(&groups, |k, m, s| r1_verify(k, &sha256(m), s), |_| 1);
    assert!(checked > 150, "{checked}");
}
