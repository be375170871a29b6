//! The authenticated state's transitions, through the runtime: token
//! transfers between accounts of a `MemoryState`, each receipt carrying its
//! roots, each committed with its witness and checked with no state; and
//! the lies a checker must catch: a read value the pre-state does not hold,
//! a claimed absence of a present key, a tampered witness, a witness for
//! another root, a claimed post root the writes do not lead to.

use verity_runtime::{
    Hash32, MemoryState, Profile, Receipt, Runtime, StaleReceipt, Transaction,
    TransitionCheckError, check_receipt_transition,
};
use verity_state_tree::{ProofError, TransitionError};

fn token() -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/wasm/token.wasm");
    std::fs::read(path).unwrap()
}

fn account(i: u8) -> [u8; 32] {
    [i; 32]
}

fn run(
    rt: &Runtime,
    state: &MemoryState,
    entry: &str,
    sender: [u8; 32],
    input: Vec<u8>,
) -> Receipt {
    let tx = Transaction::new(entry)
        .with_input(input)
        .with_sender(sender.to_vec());
    rt.execute(&token(), &tx, state).unwrap()
}

/// A minted token, with the transitions of `init` and `mint` checked.
fn minted(rt: &Runtime) -> MemoryState {
    let mut state = MemoryState::default();
    let owner = account(1);
    for (entry, input) in [
        ("init", postcard::to_allocvec(&(owner,)).unwrap()),
        (
            "mint",
            postcard::to_allocvec(&(account(2), 1_000_000u64)).unwrap(),
        ),
    ] {
        let r = run(rt, &state, entry, owner, input);
        assert!(r.status.is_success(), "{entry}: {}", r.status);
        let t = state.commit(&r).unwrap();
        assert_eq!(
            (r.pre_state_root, r.post_state_root),
            (t.pre_root, t.post_root)
        );
        check_receipt_transition(&r, &t.witness).unwrap();
    }
    state
}

#[test]
fn every_transition_checks_without_state_and_roots_chain() {
    let rt = Runtime::new(Profile::asserted_senders()).unwrap();
    let mut state = minted(&rt);
    let mut root = state.root();
    for i in 0..40u8 {
        let (from, to) = (account(2 + i % 5), account(2 + (i * 3 + 1) % 7));
        let input = postcard::to_allocvec(&(to, u64::from(i) + 1)).unwrap();
        let r = run(&rt, &state, "transfer", from, input);
        let t = state.commit(&r).unwrap();
        assert_eq!(t.pre_root, root, "transitions chain");
        assert_eq!(r.pre_state_root, root, "the receipt names its pre-state");
        assert_eq!(r.post_state_root, t.post_root, "and its post-state");
        check_receipt_transition(&r, &t.witness).unwrap();
        if r.status.is_success() && from != to {
            assert_ne!(t.post_root, t.pre_root);
        } else {
            // A failed run (an empty account) changes nothing, and a
            // transfer to oneself writes the balance it read.
            assert_eq!(t.post_root, t.pre_root);
        }
        root = t.post_root;
    }
}

/// Two transfers of one whole balance, both executed against the same
/// state: the first commits, the second was made against a root the state
/// no longer has and commits nothing (no tokens created), whatever the
/// order; executed again against the new state, it fails for want of funds.
#[test]
fn a_receipt_made_against_another_state_does_not_commit() {
    let rt = Runtime::new(Profile::asserted_senders()).unwrap();
    let mut state = minted(&rt);
    let whole = 1_000_000u64;
    let to_3 = run(
        &rt,
        &state,
        "transfer",
        account(2),
        postcard::to_allocvec(&(account(3), whole)).unwrap(),
    );
    let to_4 = run(
        &rt,
        &state,
        "transfer",
        account(2),
        postcard::to_allocvec(&(account(4), whole)).unwrap(),
    );
    assert!(to_3.status.is_success() && to_4.status.is_success());
    let pre = state.root();
    let first = state.commit(&to_3).unwrap();
    assert_eq!(first.pre_root, pre);
    let after = state.clone();
    assert_eq!(
        state.commit(&to_4),
        Err(StaleReceipt {
            receipt: pre,
            state: first.post_root
        })
    );
    assert_eq!(state, after, "the stale receipt changed the state");
    // A failed receipt made against another state is refused as well.
    let mut failed = to_4.clone();
    failed.status = verity_runtime::Status::OutOfFuel;
    assert!(state.commit(&failed).is_err());
    let again = run(
        &rt,
        &state,
        "transfer",
        account(2),
        postcard::to_allocvec(&(account(4), whole)).unwrap(),
    );
    assert!(!again.status.is_success(), "the balance was spent once");
}

#[test]
fn lies_about_the_state_transition_are_caught() {
    let rt = Runtime::new(Profile::asserted_senders()).unwrap();
    let mut state = minted(&rt);
    let input = postcard::to_allocvec(&(account(3), 5u64)).unwrap();
    let r = run(&rt, &state, "transfer", account(2), input);
    assert!(r.status.is_success());
    let t = state.commit(&r).unwrap();

    // A read value the pre-state does not hold.
    let mut lying = r.clone();
    let read = lying.reads.iter_mut().find(|e| e.value.is_some()).unwrap();
    read.value = Some(postcard::to_allocvec(&999_999_999u64).unwrap());
    let key = read.key.clone();
    assert_eq!(
        check_receipt_transition(&lying, &t.witness),
        Err(TransitionCheckError::Witness(
            TransitionError::ReadMismatch { key }
        ))
    );

    // A present key claimed absent.
    let mut lying = r.clone();
    let read = lying.reads.iter_mut().find(|e| e.value.is_some()).unwrap();
    read.value = None;
    assert!(matches!(
        check_receipt_transition(&lying, &t.witness),
        Err(TransitionCheckError::Witness(
            TransitionError::ReadMismatch { .. }
        ))
    ));

    // A tampered witness.
    let mut tampered = t.witness.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert!(matches!(
        check_receipt_transition(&r, &tampered),
        Err(TransitionCheckError::Witness(TransitionError::Proof(_)))
    ));

    // A witness for another root.
    let mut other = r.clone();
    other.pre_state_root = Hash32([7; 32]);
    assert!(matches!(
        check_receipt_transition(&other, &t.witness),
        Err(TransitionCheckError::Witness(TransitionError::Proof(
            ProofError::RootMismatch { .. }
        )))
    ));

    // A post root the writes do not lead to.
    let mut claimed = r.clone();
    claimed.post_state_root = t.pre_root;
    assert!(matches!(
        check_receipt_transition(&claimed, &t.witness),
        Err(TransitionCheckError::PostRoot { .. })
    ));

    // A write set that differs from the one committed.
    let mut lying = r.clone();
    lying.writes[0].value = Some(b"more".to_vec());
    assert!(matches!(
        check_receipt_transition(&lying, &t.witness),
        Err(TransitionCheckError::PostRoot { .. })
    ));
}
