//! Property test: a guest that interprets its input as storage operations
//! produces exactly the read set, write set and outputs of a model of the
//! overlay semantics (in its own contract's storage), commits only on
//! success, and verifies, its state transition too.

use std::collections::BTreeMap;

use proptest::prelude::*;
use verity_runtime::abi::contract::storage_key;
use verity_runtime::{
    ContractId, Hash32, MemoryState, Profile, Runtime, Status, Transaction, module_bytes,
};

/// Records of 3 bytes: [op, key, value]. op % 4: 0 write, 1 remove,
/// 2 read (appends [found, value] to the output), 3 abort if the op's
/// value byte is 0xff (else a no-op): a failed run with reads behind it.
const GUEST: &str = r#"(module
  (import "verity" "input_len" (func $input_len (result i32)))
  (import "verity" "input_read" (func $input_read (param i32)))
  (import "verity" "output_set" (func $output_set (param i32 i32)))
  (import "verity" "storage_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "verity" "storage_write" (func $write (param i32 i32 i32 i32)))
  (import "verity" "storage_remove" (func $remove (param i32 i32)))
  (import "verity" "abort" (func $abort (param i32 i32)))
  (memory (export "memory") 1)
  (func (export "run") (local $n i32) (local $p i32) (local $end i32) (local $out i32) (local $op i32)
    (local.set $n (call $input_len))
    (call $input_read (i32.const 1024))
    (local.set $p (i32.const 1024))
    (local.set $end (i32.add (i32.const 1024) (local.get $n)))
    (local.set $out (i32.const 16384))
    (block $done
      (loop $next
        (br_if $done (i32.gt_u (i32.add (local.get $p) (i32.const 3)) (local.get $end)))
        (local.set $op (i32.rem_u (i32.load8_u (local.get $p)) (i32.const 4)))
        (if (i32.eq (local.get $op) (i32.const 0))
          (then (call $write (i32.add (local.get $p) (i32.const 1)) (i32.const 1)
                             (i32.add (local.get $p) (i32.const 2)) (i32.const 1))))
        (if (i32.eq (local.get $op) (i32.const 1))
          (then (call $remove (i32.add (local.get $p) (i32.const 1)) (i32.const 1))))
        (if (i32.eq (local.get $op) (i32.const 2))
          (then
            (i32.store8 (i32.add (local.get $out) (i32.const 1)) (i32.const 0))
            (i32.store8 (local.get $out)
              (i32.ne (call $read (i32.add (local.get $p) (i32.const 1)) (i32.const 1)
                                  (i32.add (local.get $out) (i32.const 1)) (i32.const 1))
                      (i32.const -1)))
            (local.set $out (i32.add (local.get $out) (i32.const 2)))))
        (if (i32.and (i32.eq (local.get $op) (i32.const 3))
                     (i32.eq (i32.load8_u (i32.add (local.get $p) (i32.const 2))) (i32.const 0xff)))
          (then (call $abort (local.get $p) (i32.const 0))))
        (local.set $p (i32.add (local.get $p) (i32.const 3)))
        (br $next)))
    (call $output_set (i32.const 16384) (i32.sub (local.get $out) (i32.const 16384)))))"#;

struct Model {
    reads: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    output: Vec<u8>,
    aborted: bool,
}

fn model(pre: &BTreeMap<u8, u8>, ops: &[(u8, u8, u8)]) -> Model {
    let mut m = Model {
        reads: BTreeMap::new(),
        writes: BTreeMap::new(),
        output: vec![],
        aborted: false,
    };
    for &(op, key, value) in ops {
        let k = vec![key];
        match op % 4 {
            0 => {
                m.writes.insert(k, Some(vec![value]));
            }
            1 => {
                m.writes.insert(k, None);
            }
            2 => {
                let seen = match m.writes.get(&k) {
                    Some(v) => v.clone(),
                    None => m
                        .reads
                        .entry(k)
                        .or_insert_with(|| pre.get(&key).map(|v| vec![*v]))
                        .clone(),
                };
                m.output
                    .extend([u8::from(seen.is_some()), seen.map_or(0, |v| v[0])]);
            }
            _ if value == 0xff => {
                m.aborted = true;
                break;
            }
            _ => {}
        }
    }
    m
}

fn ops() -> impl Strategy<Value = Vec<(u8, u8, u8)>> {
    // Few keys, so that reads, writes and removals of one key interleave.
    proptest::collection::vec(
        (
            any::<u8>(),
            0u8..6,
            prop_oneof![9 => 0u8..0xff, 1 => Just(0xff)],
        ),
        0..24,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn runs_match_the_overlay_model(
        pre in proptest::collection::btree_map(0u8..6, any::<u8>(), 0..6),
        ops in ops(),
    ) {
        let rt = Runtime::new(Profile::default()).unwrap();
        let wasm = module_bytes(GUEST.as_bytes()).unwrap();
        let input: Vec<u8> = ops.iter().flat_map(|&(o, k, v)| [o, k, v]).collect();
        let me = ContractId::one_shot(&Hash32::of(&wasm));
        let state_of = |m: &BTreeMap<u8, u8>| -> MemoryState {
            m.iter().map(|(k, v)| (storage_key(&me, &[*k]), vec![*v])).collect()
        };
        // The guest's keys, under the contract's prefix in the state.
        let own = |key: &[u8]| {
            assert_eq!(key[..33], verity_runtime::abi::contract::storage_prefix(&me));
            key[33..].to_vec()
        };
        let state = state_of(&pre);
        let receipt = rt.execute(&wasm, &Transaction::new("run").with_input(input), &state).unwrap();
        let expected = model(&pre, &ops);

        let reads: BTreeMap<_, _> = receipt.reads.iter().map(|r| (own(&r.key), r.value.clone())).collect();
        prop_assert_eq!(&reads, &expected.reads);
        if expected.aborted {
            prop_assert_eq!(&receipt.status, &Status::Reverted { message: String::new() });
            prop_assert!(receipt.writes.is_empty());
        } else {
            prop_assert_eq!(&receipt.status, &Status::Success);
            let writes: BTreeMap<_, _> = receipt.writes.iter().map(|w| (own(&w.key), w.value.clone())).collect();
            prop_assert_eq!(&writes, &expected.writes);
            prop_assert_eq!(&receipt.output, &expected.output);
        }

        // Committing gives pre-state + writes, and only on success.
        let mut after = state.clone();
        let transition = after.commit(&receipt).unwrap();
        prop_assert_eq!(transition.pre_root, receipt.pre_state_root);
        prop_assert_eq!(transition.post_root, receipt.post_state_root);
        let mut want = pre.clone();
        if !expected.aborted {
            for (k, v) in &expected.writes {
                match v {
                    Some(v) => { want.insert(k[0], v[0]); }
                    None => { want.remove(&k[0]); }
                }
            }
        }
        let want = state_of(&want);
        prop_assert_eq!(after.root(), want.root());
        prop_assert_eq!(after, want);

        // The receipt verifies with no state database: its computation
        // from its own read set, its transition from the witness.
        let checked = rt.verify_receipt(&receipt, Some(&wasm), Some(&transition.witness)).unwrap();
        prop_assert!(checked.state_authenticated);
    }
}
