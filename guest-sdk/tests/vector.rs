//! `storage::Vector` against a `Vec` model: any sequence of operations
//! leaves the same elements, in the same order, and the same keys in the
//! state (nothing past the length, no length key when empty).

use proptest::prelude::*;
use verity_sdk::storage::Vector;
use verity_sdk::testing::TestEnv;

const LIST: Vector<u16> = Vector::new(b"list");

#[derive(Clone, Debug)]
enum Op {
    Push(u16),
    Pop,
    Set(u64, u16),
    SwapRemove(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        any::<u16>().prop_map(Op::Push),
        Just(Op::Pop),
        (0u64..12, any::<u16>()).prop_map(|(i, v)| Op::Set(i, v)),
        (0u64..12).prop_map(Op::SwapRemove),
    ]
}

proptest! {
    #[test]
    fn a_vector_behaves_as_a_vec(ops in proptest::collection::vec(op(), 0..40)) {
        let mut env = TestEnv::new();
        let mut model: Vec<u16> = Vec::new();
        for op in &ops {
            let op = op.clone();
            let got = env.invoke(|| match op {
                Op::Push(v) => LIST.push(&v).to_string(),
                Op::Pop => format!("{:?}", LIST.pop()),
                Op::Set(i, v) => LIST.set(i, &v).to_string(),
                Op::SwapRemove(i) => format!("{:?}", LIST.swap_remove(i)),
            }).unwrap();
            let want = match op {
                Op::Push(v) => { model.push(v); (model.len() - 1).to_string() }
                Op::Pop => format!("{:?}", model.pop()),
                Op::Set(i, v) => match model.get_mut(i as usize) {
                    Some(slot) => { *slot = v; "true".to_string() }
                    None => "false".to_string(),
                },
                Op::SwapRemove(i) => format!(
                    "{:?}",
                    ((i as usize) < model.len()).then(|| model.swap_remove(i as usize))
                ),
            };
            prop_assert_eq!(got, want, "{:?}", op);
        }
        let all = env.invoke(|| (LIST.len(), LIST.iter().collect::<Vec<_>>())).unwrap();
        prop_assert_eq!(all, (model.len() as u64, model.clone()));
        // One key per element and one for the length, nothing else.
        let keys = env.state().len();
        prop_assert_eq!(keys, model.len() + usize::from(!model.is_empty()));
    }
}
