//! Two compilers, one answer: fuel, the logical stack limit and float bits
//! are properties of the instrumented module, so Cranelift and Winch give
//! byte-identical receipts. Fuel figures here follow docs/costs.md by hand.

use verity_runtime::{
    Compiler, MemoryState, Profile, Receipt, Runtime, Status, Transaction, TrapKind, module_bytes,
};

const COMPILERS: [Compiler; 2] = [Compiler::Cranelift, Compiler::Winch];

fn run_on(compiler: Compiler, wat: &str, entry: &str, fuel: u64) -> Receipt {
    let runtime = Runtime::with_compiler(Profile::default(), compiler).unwrap();
    let wasm = module_bytes(wat.as_bytes()).unwrap();
    let tx = Transaction::new(entry).with_fuel(fuel);
    let receipt = runtime
        .execute(&wasm, &tx, &MemoryState::default())
        .unwrap();
    runtime.verify(&wasm, &receipt).unwrap();
    receipt
}

/// Runs on both compilers, asserts identical receipts, returns one.
fn run(wat: &str, entry: &str, fuel: u64) -> Receipt {
    let [a, b] = COMPILERS.map(|c| run_on(c, wat, entry, fuel));
    assert_eq!(a, b, "Cranelift and Winch disagree");
    assert_eq!(a.hash(), b.hash());
    a
}

const COUNTING_LOOP: &str = r#"(module
  (func (export "run") (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 1000))))))"#;

#[test]
fn a_loop_costs_its_instructions_per_iteration_exactly() {
    // Per iteration: local.get, i32.const, i32.add, local.set, local.get,
    // i32.const, i32.lt_u, br_if = 8; `loop` and `end` are free.
    let r = run(COUNTING_LOOP, "run", 1_000_000);
    assert_eq!(r.status, Status::Success);
    assert_eq!(r.fuel_used, 8 * 1000);
    // Exactly enough fuel succeeds; one unit less does not, and a run out
    // of fuel has used its whole limit.
    assert_eq!(run(COUNTING_LOOP, "run", 8000).status, Status::Success);
    let short = run(COUNTING_LOOP, "run", 7999);
    assert_eq!(short.status, Status::OutOfFuel);
    assert_eq!(short.fuel_used, 7999);
}

#[test]
fn bulk_memory_costs_one_per_byte_on_every_compiler() {
    // Wasmtime's own fuel charged 65541 under Cranelift and 5 under Winch
    // for this fill; here: 3 constants + memory.fill + 65536 bytes.
    let wat = r#"(module (memory 1)
      (func (export "fill") (memory.fill (i32.const 0) (i32.const 7) (i32.const 65536)))
      (func (export "copy") (memory.copy (i32.const 0) (i32.const 100) (i32.const 1000))))"#;
    assert_eq!(run(wat, "fill", 1_000_000).fuel_used, 4 + 65536);
    assert_eq!(run(wat, "copy", 1_000_000).fuel_used, 4 + 1000);
    // The length is charged before the copy runs: too little fuel and
    // nothing is copied, even if the copy would then trap.
    assert_eq!(run(wat, "fill", 65539).status, Status::OutOfFuel);
}

#[test]
fn instantiation_and_empty_entries_cost_nothing() {
    let wat = r#"(module (memory 1) (data (i32.const 0) "some data")
      (global $g (mut i32) (i32.const 5))
      (func (export "run")))"#;
    let r = run(wat, "run", 10);
    assert_eq!((r.status, r.fuel_used), (Status::Success, 0));
}

#[test]
fn nans_have_the_same_bits_on_every_compiler() {
    let wat = r#"(module
      (import "verity" "output_set" (func $out (param i32 i32)))
      (memory (export "memory") 1)
      (func (export "run")
        (f32.store (i32.const 0) (f32.div (f32.const 0) (f32.const 0)))
        (f64.store (i32.const 4) (f64.sqrt (f64.const -1)))
        (f32.store (i32.const 12) (f32.demote_f64 (f64.const nan:0x4000000000001)))
        (f64.store (i32.const 16) (f64.add (f64.const -nan:0x1) (f64.const 1)))
        (call $out (i32.const 0) (i32.const 24))))"#;
    let r = run(wat, "run", 100_000);
    assert_eq!(r.status, Status::Success);
    let canonical_f32 = 0x7fc0_0000u32.to_le_bytes();
    let canonical_f64 = 0x7ff8_0000_0000_0000u64.to_le_bytes();
    assert_eq!(&r.output[0..4], canonical_f32);
    assert_eq!(&r.output[4..12], canonical_f64);
    assert_eq!(&r.output[12..16], canonical_f32);
    assert_eq!(&r.output[16..24], canonical_f64);
}

/// A recursion `depth` calls deep below an entry frame, with a callee frame
/// shaped by `locals` extra i64 locals and `params` extra parameters.
fn recursion(depth: u32, locals: u32, params: u32) -> String {
    let extra_params = if params == 0 {
        String::new()
    } else {
        format!(" (param{})", " i64".repeat(params as usize))
    };
    let extra_args = "(i64.const 1)".repeat(params as usize);
    let extra_locals = if locals == 0 {
        String::new()
    } else {
        format!("(local{})", " i64".repeat(locals as usize))
    };
    format!(
        r#"(module
  (func $r (param $n i32){extra_params} (result i32) {extra_locals}
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 0))
      (else (i32.add
        (call $r (i32.sub (local.get $n) (i32.const 1)){extra_args})
        (i32.const 1)))))
  (func (export "run") (drop (call $r (i32.const {depth}){extra_args}))))"#
    )
}

/// Frame slots (docs/costs.md): parameters + locals + maximum operand stack
/// height + 8.
fn deepest_ok_depth(locals: u32, params: u32) -> u32 {
    let limit = Profile::default().limits.max_stack_slots;
    // $r: params 1 + extra; the operand stack peaks at 2 (`n - 1` being
    // computed) or at 1 + extra arguments (the recursive call's arguments).
    let callee = (1 + params) + locals + (1 + params).max(2) + 8;
    // run: no locals; its operand stack peaks at 1 + extra arguments.
    let entry = (1 + params) + 8;
    // `run` calls $r(depth), which recurses depth more times: depth + 1
    // frames of $r on top of the entry's.
    (limit - entry) / callee - 1
}

#[test]
fn the_logical_stack_limit_trips_at_the_same_depth_on_every_compiler() {
    for (locals, params) in [(0, 0), (64, 0), (0, 32), (200, 8)] {
        let max = deepest_ok_depth(locals, params);
        let ok = run(&recursion(max, locals, params), "run", 1 << 30);
        assert_eq!(
            ok.status,
            Status::Success,
            "depth {max} with {locals} locals, {params} params must fit"
        );
        let over = run(&recursion(max + 1, locals, params), "run", 1 << 30);
        assert_eq!(
            over.status,
            Status::Trapped {
                trap: TrapKind::StackOverflow
            },
            "depth {} with {locals} locals, {params} params must trap",
            max + 1
        );
    }
}

#[test]
fn the_native_stack_is_never_the_limit() {
    // Frames that are large in machine code but cheap in slots would be the
    // risk: operand stacks kept deep across the recursive call. At the
    // logical limit, neither compiler may run out of native stack.
    let deep_operands = |depth: u32| {
        let pushes = "(i64.const 3)".repeat(60);
        let adds = "(i64.add)".repeat(60);
        format!(
            r#"(module
  (func $r (param $n i32) (result i64)
    {pushes}
    (if (result i64) (i32.eqz (local.get $n))
      (then (i64.const 0))
      (else (call $r (i32.sub (local.get $n) (i32.const 1)))))
    {adds})
  (func (export "run") (drop (call $r (i32.const {depth})))))"#
        )
    };
    let limit = Profile::default().limits.max_stack_slots;
    // $r: 1 param, operand stack 60 + 2, + 8; entry: 1 + 8.
    let max = (limit - 9) / (1 + 62 + 8) - 1;
    assert_eq!(
        run(&deep_operands(max), "run", 1 << 30).status,
        Status::Success
    );
    assert_eq!(
        run(&deep_operands(max + 1), "run", 1 << 30).status,
        Status::Trapped {
            trap: TrapKind::StackOverflow
        }
    );
}

#[test]
fn every_compiler_gives_the_same_receipt_for_traps_and_host_calls() {
    let wat = r#"(module
      (import "verity" "storage_write" (func $w (param i32 i32 i32 i32)))
      (import "verity" "event_emit" (func $e (param i32 i32 i32 i32)))
      (memory (export "memory") 1)
      (data (i32.const 0) "key-value")
      (func (export "write") (call $w (i32.const 0) (i32.const 3) (i32.const 4) (i32.const 5))
        (call $e (i32.const 0) (i32.const 3) (i32.const 4) (i32.const 5)))
      (func (export "oob") (drop (i32.load (i32.const 70000))))
      (func (export "div") (drop (i32.div_s (i32.const 1) (i32.const 0))))
      (func (export "unreachable") unreachable))"#;
    assert_eq!(run(wat, "write", 1_000_000).status, Status::Success);
    for (entry, trap) in [
        ("oob", TrapKind::MemoryOutOfBounds),
        ("div", TrapKind::IntegerDivideByZero),
        ("unreachable", TrapKind::Unreachable),
    ] {
        assert_eq!(run(wat, entry, 1_000_000).status, Status::Trapped { trap });
    }
}

#[test]
fn docs_costs_md_states_the_rules_these_tests_check() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/costs.md")).unwrap();
    let overhead = verity_runtime::instrument::FRAME_OVERHEAD_SLOTS;
    for needle in [
        "8000 for 1000 iterations".to_string(),
        "costs 4 + 65536".to_string(),
        format!("frame = parameters + declared locals + maximum operand stack height + {overhead}"),
        format!("(default {})", Profile::default().limits.max_stack_slots),
        "`block`, `loop`, `end`, `else` and\n  `nop`".to_string(),
    ] {
        assert!(doc.contains(&needle), "docs/costs.md lacks {needle:?}");
    }
    // The free operators the doc names are the ones the meter treats as free.
    use wasmparser::Operator as Op;
    for op in [
        Op::Block {
            blockty: wasmparser::BlockType::Empty,
        },
        Op::Loop {
            blockty: wasmparser::BlockType::Empty,
        },
        Op::End,
        Op::Else,
        Op::Nop,
    ] {
        assert_eq!(verity_runtime::instrument::op_cost(&op), 0);
    }
    assert_eq!(verity_runtime::instrument::op_cost(&Op::I32Add), 1);
    assert_eq!(verity_runtime::instrument::op_cost(&Op::Drop), 1);
}

/// Unbounded recursions shaped to use as much native stack per logical
/// slot as a module can: every kind of frame content the slot count covers
/// (parameters, locals, operand stack, results, values live across the
/// call), through `call` and through `call_indirect`.
fn native_stack_shapes() -> Vec<(&'static str, String)> {
    let n = |k: usize, s: &str| s.repeat(k);
    vec![
        (
            "empty frame",
            r#"(module (func $f (call $f)) (func (export "run") (call $f)))"#.into(),
        ),
        (
            "call_indirect through an unused equal type",
            r#"(module (type $a (func)) (type $b (func)) (table 1 funcref)
                (elem (i32.const 0) $f)
                (func $f (type $a) (call_indirect (type $b) (i32.const 0)))
                (func (export "run") (call $f)))"#
                .into(),
        ),
        (
            "200 i64 parameters",
            format!(
                r#"(module (func $f (param{p}) (call $f {a}))
                    (func (export "run") (call $f {c})))"#,
                p = n(200, " i64"),
                a = (0..200)
                    .map(|i| format!("(local.get {i})"))
                    .collect::<String>(),
                c = n(200, "(i64.const 1)"),
            ),
        ),
        (
            "1000 f64 locals",
            format!(
                r#"(module (func $f (local{l}) (call $f))
                    (func (export "run") (call $f)))"#,
                l = n(1000, " f64"),
            ),
        ),
        (
            "300 operands held across the call",
            format!(
                r#"(module (func $f (result i64) {push} (call $f) {add})
                    (func (export "run") (drop (call $f))))"#,
                push = n(300, "(i64.const 3)"),
                add = n(300, "(i64.add)"),
            ),
        ),
        (
            "40 live locals across the call",
            format!(
                r#"(module (func $f (param $x i64) (result i64) (local{l})
                    {set} (drop (call $f (local.get $x))) (local.get $x) {sum})
                    (func (export "run") (drop (call $f (i64.const 1)))))"#,
                l = n(40, " i64"),
                set = (1..=40)
                    .map(|i| format!("(local.set {i} (i64.mul (local.get $x) (i64.const {i})))"))
                    .collect::<String>(),
                sum = (1..=40)
                    .map(|i| format!("(local.get {i}) (i64.add)"))
                    .collect::<String>(),
            ),
        ),
        (
            // An optimiser that shares equal pure expressions (GVN) keeps
            // the first results live across the call instead of computing
            // them again: native frames of any size for a frame of a few
            // slots. The profile compiles without such optimisations.
            "2000 pure expressions repeated after the call",
            format!(
                r#"(module (global $g (mut i64) (i64.const 0)) (global $h (mut f64) (f64.const 0))
                    (func $f (param $x i64) (param $y f64) {e} (call $f (local.get $x) (local.get $y)) {e})
                    (func (export "run") (call $f (i64.const 7) (f64.const 2))))"#,
                e = (0..1000)
                    .map(|k| {
                        format!(
                            "(global.set $g (i64.popcnt (i64.rotl (local.get $x) (i64.const {k}))))\
                             (global.set $h (f64.sqrt (f64.add (local.get $y) (f64.const {k}))))"
                        )
                    })
                    .collect::<String>(),
            ),
        ),
        (
            // Loop-invariant code motion would hoist these out of the loop,
            // live across every call in it.
            "1000 loop invariants around a call",
            format!(
                r#"(module (global $g (mut i64) (i64.const 0))
                    (func $f (param $x i64) (loop $l {e} (call $f (local.get $x)) (br $l)))
                    (func (export "run") (call $f (i64.const 7))))"#,
                e = (0..1000)
                    .map(|k| format!(
                        "(global.set $g (i64.popcnt (i64.rotl (local.get $x) (i64.const {k}))))"
                    ))
                    .collect::<String>(),
            ),
        ),
        (
            "1000 i64 results",
            format!(
                r#"(module (func $f (result{r}) (call $f))
                    (func (export "run") (call $f) {d}))"#,
                r = n(1000, " i64"),
                d = n(1000, "(drop)"),
            ),
        ),
        (
            "200 call sites of a 100-result function",
            format!(
                r#"(module (func $g (result{r}) {c})
                    (func $f {calls} (call $f))
                    (func (export "run") (call $f)))"#,
                r = n(100, " i64"),
                c = n(100, "(i64.const 1)"),
                calls = n(200, &format!("(call $g){}", n(100, "(drop)"))),
            ),
        ),
        (
            "50 i64 results",
            format!(
                r#"(module (func $f (result{r}) (call $f))
                    (func (export "run") (call $f) {d}))"#,
                r = n(50, " i64"),
                d = n(50, "(drop)"),
            ),
        ),
    ]
}

/// The factor by which the native stack budget exceeds the worst native
/// use of a logically full stack, at least: tested by running every shape
/// with the native budget divided by it.
const NATIVE_STACK_MARGIN: usize = 2;

#[test]
fn no_accepted_module_reaches_the_native_stack_limit() {
    let mut tight = Profile::default();
    tight.max_native_stack /= NATIVE_STACK_MARGIN;
    let fuel = 1 << 32;
    for (shape, wat) in native_stack_shapes() {
        let wasm = module_bytes(wat.as_bytes()).unwrap();
        let tx = Transaction::new("run").with_fuel(fuel);
        let mut receipts = Vec::new();
        for profile in [Profile::default(), tight.clone()] {
            for compiler in COMPILERS {
                let runtime = Runtime::with_compiler(profile.clone(), compiler).unwrap();
                let r = runtime
                    .execute(&wasm, &tx, &MemoryState::default())
                    .unwrap();
                assert_eq!(
                    r.status,
                    Status::Trapped {
                        trap: TrapKind::StackOverflow
                    },
                    "{shape} on {compiler:?}"
                );
                // A native overflow would have used the whole limit.
                assert!(
                    r.fuel_used < fuel,
                    "{shape} on {compiler:?} reached the native stack limit with a budget of {} bytes",
                    profile.max_native_stack
                );
                receipts.push(r);
            }
        }
        assert_eq!(
            receipts[0], receipts[1],
            "{shape}: Cranelift and Winch differ"
        );
        assert_eq!(receipts[2].fuel_used, receipts[0].fuel_used, "{shape}");
    }
}

/// Should the native stack run out first after all (here forced with a
/// tiny native budget), the receipt still does not depend on the compiler:
/// the run is `stack_overflow` and uses its whole fuel limit.
#[test]
fn a_native_stack_overflow_is_the_same_receipt_on_every_compiler() {
    let tiny = Profile {
        max_native_stack: 16 << 10,
        ..Profile::default()
    };
    let (_, wat) = &native_stack_shapes()[0];
    let wasm = module_bytes(wat.as_bytes()).unwrap();
    let tx = Transaction::new("run").with_fuel(1_000_000);
    let [a, b] = COMPILERS.map(|c| {
        Runtime::with_compiler(tiny.clone(), c)
            .unwrap()
            .execute(&wasm, &tx, &MemoryState::default())
            .unwrap()
    });
    assert_eq!(
        a.status,
        Status::Trapped {
            trap: TrapKind::StackOverflow
        }
    );
    assert_eq!(a.fuel_used, 1_000_000);
    assert_eq!(a.encode(), b.encode());
}
