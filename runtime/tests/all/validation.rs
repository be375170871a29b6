//! Every module limit of the profile, at the limit (accepted) and one past it
//! (rejected with the limit named). The hostile corpus covers imports,
//! proposals, memories, tables, start functions and entry points.

use verity_runtime::validate::{Rejection, validate};
use verity_runtime::{Profile, module_bytes};

fn check(wat: &str) -> Result<(), Rejection> {
    validate(&Profile::default(), &module_bytes(wat.as_bytes()).unwrap()).map(|_| ())
}

fn at_and_past(limit: u32, make: impl Fn(u32) -> String, expect: impl Fn(&Rejection) -> bool) {
    check(&make(limit)).unwrap_or_else(|e| panic!("at the limit {limit}: {e}"));
    let err = check(&make(limit + 1)).expect_err("one past the limit was accepted");
    assert!(expect(&err), "{err}");
}

#[test]
fn globals() {
    let l = Profile::default().limits.max_globals;
    at_and_past(
        l,
        |n| {
            format!(
                "(module {})",
                "(global i32 (i32.const 0))".repeat(n as usize)
            )
        },
        |e| {
            matches!(
                e,
                Rejection::TooMany {
                    what: "globals",
                    ..
                }
            )
        },
    );
}

#[test]
fn exports() {
    let l = Profile::default().limits.max_exports;
    at_and_past(
        l,
        |n| {
            format!(
                "(module (func $f) {})",
                (0..n)
                    .map(|i| format!("(export \"e{i}\" (func $f))"))
                    .collect::<String>()
            )
        },
        |e| {
            matches!(
                e,
                Rejection::TooMany {
                    what: "exports",
                    ..
                }
            )
        },
    );
}

#[test]
fn element_entries() {
    let l = Profile::default().limits.max_element_entries;
    at_and_past(
        l,
        |n| {
            format!(
                "(module (func $f) (table 1 funcref) (elem func {}))",
                "$f ".repeat(n as usize)
            )
        },
        |e| {
            matches!(
                e,
                Rejection::TooMany {
                    what: "element entries",
                    ..
                }
            )
        },
    );
}

#[test]
fn tables() {
    let l = Profile::default().limits.max_tables;
    at_and_past(
        l,
        |n| format!("(module {})", "(table 1 funcref)".repeat(n as usize)),
        |e| matches!(e, Rejection::TooMany { what: "tables", .. }),
    );
}

#[test]
fn function_body_bytes() {
    let l = Profile::default().limits.max_function_body_bytes;
    // A body of n bytes: 1 byte of local declarations (0 groups), `nop`s, `end`.
    at_and_past(
        l,
        |n| format!("(module (func {}))", "nop ".repeat(n as usize - 2)),
        |e| matches!(e, Rejection::FunctionTooLarge { .. }),
    );
}

#[test]
fn locals_count_parameters() {
    let l = Profile::default().limits.max_locals_per_function;
    at_and_past(
        l,
        |n| {
            format!(
                "(module (func (param i32 i32) (local {})))",
                "i64 ".repeat(n as usize - 2)
            )
        },
        |e| matches!(e, Rejection::TooManyLocals { .. }),
    );
}

#[test]
fn memory_pages_and_table_elements() {
    let l = Profile::default().limits;
    at_and_past(
        l.max_memory_pages,
        |n| format!("(module (memory {n}))"),
        |e| matches!(e, Rejection::MemoryTooLarge { .. }),
    );
    at_and_past(
        l.max_table_elements,
        |n| format!("(module (table {n} funcref))"),
        |e| matches!(e, Rejection::TableTooLarge { .. }),
    );
}

#[test]
fn a_declared_maximum_above_the_cap_is_fine_growth_is_capped_at_run_time() {
    check("(module (memory 1 65536))").unwrap();
}

#[test]
fn smaller_profiles_reject_what_the_default_accepts() {
    let mut p = Profile::default();
    p.limits.max_memory_pages = 2;
    let wasm = module_bytes(b"(module (memory 3))").unwrap();
    assert!(validate(&Profile::default(), &wasm).is_ok());
    assert_eq!(
        validate(&p, &wasm).unwrap_err().to_string(),
        "memory declares 3 initial pages, over the limit of 2"
    );
}

fn too_many_functions(e: &Rejection) -> bool {
    matches!(
        e,
        Rejection::TooMany {
            what: "functions",
            ..
        }
    )
}

#[test]
fn functions_count_imports_and_definitions() {
    let l = Profile::default().limits.max_functions;
    at_and_past(
        l,
        |n| {
            format!(
                r#"(module (import "verity" "input_len" (func (result i32))) {})"#,
                "(func)".repeat(n as usize - 1)
            )
        },
        too_many_functions,
    );
}

/// A module may import the same host function many times and define none;
/// every import takes room in the instance, so imports alone are held to
/// `max_functions` too (they once escaped it, having no function section).
#[test]
fn functions_count_imports_without_definitions() {
    let l = Profile::default().limits.max_functions;
    at_and_past(
        l,
        |n| {
            format!(
                "(module {})",
                r#"(import "verity" "input_len" (func (result i32)))"#.repeat(n as usize)
            )
        },
        too_many_functions,
    );
}

/// A module of `() -> ()` functions with these bodies (text), the first
/// exported as `run`.
fn module_of(bodies: &[String]) -> Vec<u8> {
    let funcs: String = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let export = if i == 0 { r#"(export "run")"# } else { "" };
            format!("(func {export} {b})")
        })
        .collect();
    module_bytes(format!("(module {funcs})").as_bytes()).unwrap()
}

/// `n` calls of function 0 (each instrumented with a frame push and pop,
/// about 15x the bytes).
fn calls(n: usize) -> String {
    "call 0 ".repeat(n)
}

/// `n` branches (`i32.const 0; br_if 0`), each a basic block with its own
/// fuel charge.
fn branches(n: usize) -> String {
    format!("(block {})", "i32.const 0 br_if 0 ".repeat(n))
}

/// Modules that instrumentation would blow past the compilers' budget are
/// rejected with the limit named, never with a compiler's message.
#[test]
fn instrumented_size_limits_are_rejections_with_reasons() {
    let runtime = verity_runtime::Runtime::new(Profile::default()).unwrap();
    let l = Profile::default().limits;
    // One body of 256k calls: within max_function_body_bytes, but about
    // 8 MiB once instrumented.
    let big_fn = module_of(&[calls(250_000)]);
    assert!(check_bytes(&big_fn).is_ok(), "the validator accepts it");
    match runtime.prepare(&big_fn).map(|_| ()) {
        Err(Rejection::InstrumentedFunctionTooLarge {
            index: 0,
            size,
            limit,
        }) => {
            assert!(size > limit as usize);
            assert_eq!(limit, l.max_instrumented_function_bytes);
        }
        other => panic!("expected InstrumentedFunctionTooLarge, got {other:?}"),
    }
    // Many bodies each under the function limit, together over the module's.
    let many = module_of(&vec![calls(60_000); 12]);
    match runtime.prepare(&many).map(|_| ()) {
        Err(Rejection::InstrumentedModuleTooLarge { size, limit }) => {
            assert!(size > limit as usize);
            assert_eq!(limit, l.max_instrumented_bytes);
        }
        other => panic!("expected InstrumentedModuleTooLarge, got {other:?}"),
    }
}

fn check_bytes(code: &[u8]) -> Result<(), Rejection> {
    validate(&Profile::default(), code).map(|_| ())
}

/// A module past Cranelift's size bound is compiled by Winch, whatever the
/// runtime's compiler, and its receipts are those of an all-Winch runtime.
#[test]
fn large_modules_compile_with_winch_and_give_the_same_receipts() {
    use verity_runtime::{Compiler, MemoryState, Runtime, Transaction};
    // Just past the bound (about 576 KB instrumented), so that a run can
    // pay for preparing it (docs/costs.md).
    let code = module_of(&[branches(12_000), branches(12_000)]);
    let cranelift = Runtime::new(Profile::default()).unwrap();
    let prepared = cranelift.prepare(&code).unwrap();
    assert_eq!(prepared.compiler(), Compiler::Winch);
    let small = module_bytes(br#"(module (func (export "run")))"#).unwrap();
    assert_eq!(
        cranelift.prepare(&small).unwrap().compiler(),
        Compiler::Cranelift
    );
    let winch = Runtime::with_compiler(Profile::default(), Compiler::Winch).unwrap();
    let prep = prepared.preparation_fuel(&Profile::default().costs);
    let tx = Transaction::new("run").with_fuel(prep + 10_000_000);
    let a = cranelift
        .execute_prepared(&prepared, &tx, &MemoryState::default())
        .unwrap();
    let b = winch.execute(&code, &tx, &MemoryState::default()).unwrap();
    assert!(a.status.is_success(), "{}", a.status);
    assert_eq!(a.encode(), b.encode());
    cranelift.verify(&code, &a).unwrap();
}
