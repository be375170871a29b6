//! Contracts through the runtime: deployment (address, stored code and
//! record, constructor, refusal of a taken address, rollback of a failed
//! constructor), calls (code from the state, unknown addresses, wrong code),
//! storage isolation attacked with every key a guest can pass, and
//! verification of contract receipts with their witnesses.

use proptest::prelude::*;
use verity_runtime::abi::contract::{ContractRecord, code_key, record_key, storage_key};
use verity_runtime::{
    ContractId, Hash32, MemoryState, Profile, Receipt, Runtime, RuntimeError, Status, Transaction,
    VerifyError, module_bytes,
};

fn token() -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/wasm/token.wasm");
    std::fs::read(path).unwrap()
}

const OWNER: [u8; 32] = [1; 32];
const ALICE: [u8; 32] = [2; 32];
const SALT: Hash32 = Hash32([0x5a; 32]);

/// The token's key of `owner`'s balance (the SDK's map layout).
fn balance_key(owner: [u8; 32]) -> Vec<u8> {
    let mut k = b"bal\0".to_vec();
    k.extend_from_slice(&owner);
    k
}

/// Commits `r` to `state` after checking it succeeded.
fn commit(state: &mut MemoryState, r: &Receipt) {
    assert!(r.status.is_success(), "{}", r.status);
    state.commit(r).unwrap();
}

/// A state holding the token, deployed by OWNER (constructor `init`) with
/// 1,000 minted to ALICE; and its address.
fn deployed_token(rt: &Runtime) -> (MemoryState, ContractId) {
    let mut state = MemoryState::default();
    let deploy = Transaction::deploy(SALT)
        .with_entry("init")
        .with_input(postcard::to_allocvec(&(OWNER,)).unwrap())
        .with_sender(OWNER.to_vec());
    let r = rt.execute(&token(), &deploy, &state).unwrap();
    commit(&mut state, &r);
    let token_id = r.contract;
    let mint = Transaction::call(token_id, "mint")
        .with_input(postcard::to_allocvec(&(ALICE, 1_000u64)).unwrap())
        .with_sender(OWNER.to_vec());
    let r = rt.execute_call(&mint, &state).unwrap();
    commit(&mut state, &r);
    (state, token_id)
}

fn balance(rt: &Runtime, state: &MemoryState, token_id: ContractId, of: [u8; 32]) -> u64 {
    let tx = Transaction::call(token_id, "balance_of")
        .with_input(postcard::to_allocvec(&(of,)).unwrap());
    let r = rt.execute_call(&tx, state).unwrap();
    assert!(r.status.is_success(), "{}", r.status);
    postcard::from_bytes(&r.output).unwrap()
}

#[test]
fn a_deploy_stores_code_and_record_at_the_derived_address_and_runs_its_constructor() {
    let rt = Runtime::new(Profile::asserted_senders()).unwrap();
    let code = token();
    let (state, token_id) = deployed_token(&rt);
    assert_eq!(token_id, ContractId::deployed(&OWNER, &SALT));
    assert_eq!(state.value(&code_key(&Hash32::of(&code))), Some(&code[..]));
    let record = ContractRecord::decode(state.value(&record_key(&token_id)).unwrap()).unwrap();
    assert_eq!(record.code_hash, Hash32::of(&code));
    assert_eq!(record.admin, OWNER);
    // The constructor ran in the contract's own storage.
    assert_eq!(
        state.value(&storage_key(&token_id, b"owner")),
        Some(&OWNER[..])
    );
    assert_eq!(balance(&rt, &state, token_id, ALICE), 1_000);
    // Another deployer, or another salt, gets another address.
    assert_ne!(ContractId::deployed(&ALICE, &SALT), token_id);
    assert_ne!(ContractId::deployed(&OWNER, &Hash32([0; 32])), token_id);
}

#[test]
fn a_taken_address_is_refused_and_a_failed_constructor_deploys_nothing() {
    let rt = Runtime::new(Profile::asserted_senders()).unwrap();
    let (state, token_id) = deployed_token(&rt);
    let again = Transaction::deploy(SALT)
        .with_entry("init")
        .with_input(postcard::to_allocvec(&(ALICE,)).unwrap())
        .with_sender(OWNER.to_vec());
    let r = rt.execute(&token(), &again, &state).unwrap();
    assert_eq!(
        r.status,
        Status::Rejected {
            reason: format!("a contract already exists at address {token_id}")
        }
    );
    // The refusal rests on the record, which its read set proves.
    assert!(
        r.read_value(&record_key(&token_id))
            .is_some_and(|v| v.is_some())
    );
    assert_eq!(r.post_state_root, r.pre_state_root);

    // A constructor that fails (undecodable input) leaves no contract.
    let state = MemoryState::default();
    let bad = Transaction::deploy(SALT)
        .with_entry("init")
        .with_input(vec![0xff])
        .with_sender(OWNER.to_vec());
    let r = rt.execute(&token(), &bad, &state).unwrap();
    assert!(!r.status.is_success());
    assert!(r.writes.is_empty());
    assert_eq!(r.post_state_root, MemoryState::default().root());
    // A deploy that cannot pay for storing its code runs out of fuel.
    let poor = Transaction::deploy(SALT).with_fuel(token().len() as u64);
    let r = rt.execute(&token(), &poor, &state).unwrap();
    assert_eq!(r.status, Status::OutOfFuel);
    assert!(r.writes.is_empty());
}

#[test]
fn calls_find_their_code_in_the_state_and_refuse_unknown_addresses_and_wrong_code() {
    let rt = Runtime::new(Profile::asserted_senders()).unwrap();
    let (state, token_id) = deployed_token(&rt);
    let tx = Transaction::call(token_id, "total_supply");
    let from_state = rt.execute_call(&tx, &state).unwrap();
    let given = rt.execute(&token(), &tx, &state).unwrap();
    assert_eq!(
        from_state, given,
        "the same receipt, wherever the code came from"
    );
    assert_eq!(from_state.code_hash, Hash32::of(&token()));

    let nobody = ContractId([9; 32]);
    let r = rt
        .execute_call(&Transaction::call(nobody, "total_supply"), &state)
        .unwrap();
    assert_eq!(
        r.status,
        Status::Rejected {
            reason: format!("no contract at address {nobody}")
        }
    );
    assert_eq!(r.read_value(&record_key(&nobody)), Some(None));

    let other = module_bytes(br#"(module (func (export "total_supply")))"#).unwrap();
    match rt.execute(&other, &tx, &state) {
        Err(RuntimeError::WrongCode { expected, .. }) => {
            assert_eq!(expected, Hash32::of(&token()))
        }
        other => panic!("expected WrongCode, got {other:?}"),
    }
}

/// The issue's attack: a module run next to the token writes the token's
/// balance key, as the token names it and as the state names it, and reads
/// it. None of it reaches the token.
#[test]
fn no_module_reaches_another_contracts_storage() {
    let rt = Runtime::new(Profile::asserted_senders()).unwrap();
    let (mut state, token_id) = deployed_token(&rt);
    let guest_key = balance_key(ALICE);
    let state_key = storage_key(&token_id, &guest_key);
    let rich = postcard::to_allocvec(&(u64::MAX >> 8)).unwrap();
    for key in [
        guest_key.clone(),
        state_key.clone(),
        record_key(&token_id).to_vec(),
        code_key(&Hash32::of(&token())).to_vec(),
    ] {
        let attack = attacker(&key, &rich);
        let r = rt
            .execute(&attack, &Transaction::new("run"), &state)
            .unwrap();
        assert!(r.status.is_success(), "{}", r.status);
        // It read nothing there: the key is absent in its own storage.
        assert_eq!(r.output, [0xff, 0xff, 0xff, 0xff], "it saw a value");
        let own = storage_key(&r.contract, &key);
        assert!(
            r.writes.iter().all(|w| w.key == own),
            "a write outside its scope"
        );
        commit(&mut state, &r);
    }
    assert_eq!(balance(&rt, &state, token_id, ALICE), 1_000);
    let record = ContractRecord::decode(state.value(&record_key(&token_id)).unwrap()).unwrap();
    assert_eq!(record.code_hash, Hash32::of(&token()));
}

/// A module that reads `key` (output: the length it saw, -1 if absent) and
/// writes `value` under it.
fn attacker(key: &[u8], value: &[u8]) -> Vec<u8> {
    let data = |b: &[u8]| b.iter().map(|x| format!("\\{x:02x}")).collect::<String>();
    let wat = format!(
        r#"(module
          (import "verity" "storage_read" (func $r (param i32 i32 i32 i32) (result i32)))
          (import "verity" "storage_write" (func $w (param i32 i32 i32 i32)))
          (import "verity" "output_set" (func $o (param i32 i32)))
          (memory (export "memory") 1)
          (data (i32.const 0) "{}")
          (data (i32.const 512) "{}")
          (func (export "run")
            (i32.store (i32.const 1024) (call $r (i32.const 0) (i32.const {}) (i32.const 2048) (i32.const 0)))
            (call $w (i32.const 0) (i32.const {}) (i32.const 512) (i32.const {}))
            (call $o (i32.const 1024) (i32.const 4))))"#,
        data(key),
        data(value),
        key.len(),
        key.len(),
        value.len()
    );
    module_bytes(wat.as_bytes()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Whatever key bytes a guest passes, what it writes is in its own
    /// storage, under exactly those bytes.
    #[test]
    fn every_write_lands_in_the_writers_own_storage(key in proptest::collection::vec(any::<u8>(), 0..80)) {
        let rt = Runtime::new(Profile::asserted_senders()).unwrap();
        let code = attacker(&key, b"x");
        let r = rt.execute(&code, &Transaction::new("run"), &MemoryState::default()).unwrap();
        prop_assert!(r.status.is_success());
        let me = ContractId::one_shot(&Hash32::of(&code));
        prop_assert_eq!(r.contract, me);
        prop_assert_eq!(r.writes.len(), 1);
        prop_assert_eq!(&r.writes[0].key, &storage_key(&me, &key));
    }
}

#[test]
fn contract_receipts_verify_with_their_witnesses_and_name_missing_code() {
    let rt = Runtime::new(Profile::asserted_senders()).unwrap();
    let mut state = MemoryState::default();
    let code = token();
    let deploy = Transaction::deploy(SALT)
        .with_entry("init")
        .with_input(postcard::to_allocvec(&(OWNER,)).unwrap())
        .with_sender(OWNER.to_vec());
    let deployed = rt.execute(&code, &deploy, &state).unwrap();
    let witness = state.commit(&deployed).unwrap().witness;
    // A deploy carries its code: it verifies without the module.
    let checked = rt.verify_receipt(&deployed, None, Some(&witness)).unwrap();
    assert!(checked.state_authenticated);

    let mint = Transaction::call(deployed.contract, "mint")
        .with_input(postcard::to_allocvec(&(ALICE, 5u64)).unwrap())
        .with_sender(OWNER.to_vec());
    let minted = rt.execute_call(&mint, &state).unwrap();
    let witness = state.commit(&minted).unwrap().witness;
    let checked = rt
        .verify_receipt(&minted, Some(&code), Some(&witness))
        .unwrap();
    assert!(checked.state_authenticated);
    // A call without its code: the error names the code hash.
    match rt.verify_receipt(&minted, None, Some(&witness)) {
        Err(VerifyError::MissingCode { code_hash }) => assert_eq!(code_hash, Hash32::of(&code)),
        other => panic!("expected MissingCode, got {other:?}"),
    }
    // A call that claims another contract's code does not verify.
    let mut lie = minted.clone();
    lie.contract = ContractId([4; 32]);
    assert!(rt.verify_receipt(&lie, Some(&code), None).is_err());
    // Nor one whose record read lies about the code it names.
    let mut lie = minted.clone();
    let record = lie
        .reads
        .iter_mut()
        .find(|r| r.key[..] == record_key(&deployed.contract)[..])
        .unwrap();
    record.value = Some(ContractRecord::new(Hash32([6; 32]), OWNER.to_vec()).encode());
    assert!(
        rt.verify_receipt(&lie, Some(&code), Some(&witness))
            .is_err()
    );
}
