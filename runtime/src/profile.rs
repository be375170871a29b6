//! The determinism profile: everything that can change an outcome, named,
//! versioned and hashed.

use std::fmt::Write as _;

use verity_host_abi::abi::ABI_VERSION;
use verity_host_abi::receipt::FORMAT_VERSION;
use verity_host_abi::{CostClass, CostSchedule, Hash32, Limits};

use crate::instrument::{
    CANONICAL_NAN_F32, CANONICAL_NAN_F64, FRAME_OVERHEAD_SLOTS, METERING_VERSION,
};
use wasmparser::WasmFeatures;

/// The wasmtime release this runtime is built against. It is part of the
/// profile, so receipts made by a different wasmtime are refused by
/// verification. A test checks it against Cargo.lock.
pub const WASMTIME_VERSION: &str = "48.0.8";

/// The wasmparser release that validates and reads modules. Validation
/// decides `rejected` receipts, so it is in the profile. A test checks it
/// against Cargo.lock.
pub const WASMPARSER_VERSION: &str = "0.254.2";

/// The wasm-encoder release that writes instrumented modules. A test
/// checks it against Cargo.lock.
pub const WASM_ENCODER_VERSION: &str = "0.254.2";

/// Domain tag of the profile hash.
pub const PROFILE_DOMAIN: &[u8] = b"verity.profile.v1\0";

/// The wasm proposals a profile accepts, as (name, wasmparser flag). These
/// are what stock `cargo build --target wasm32-unknown-unknown` emits.
pub const ACCEPTED_PROPOSALS: &[(&str, WasmFeatures)] = &[
    ("mutable_global", WasmFeatures::MUTABLE_GLOBAL),
    (
        "saturating_float_to_int",
        WasmFeatures::SATURATING_FLOAT_TO_INT,
    ),
    ("sign_extension", WasmFeatures::SIGN_EXTENSION),
    ("reference_types", WasmFeatures::REFERENCE_TYPES),
    ("multi_value", WasmFeatures::MULTI_VALUE),
    ("bulk_memory", WasmFeatures::BULK_MEMORY),
    ("floats", WasmFeatures::FLOATS),
];

/// Proposals a profile refuses, with the flags that must be added for a
/// module using them to validate. Used to name the proposal in a rejection.
/// Ordered so that a proposal is tried before those that build on it.
pub const REFUSED_PROPOSALS: &[(&str, WasmFeatures)] = &[
    ("simd", WasmFeatures::SIMD),
    (
        "relaxed_simd",
        WasmFeatures::SIMD.union(WasmFeatures::RELAXED_SIMD),
    ),
    ("threads", WasmFeatures::THREADS),
    ("memory64", WasmFeatures::MEMORY64),
    ("multi_memory", WasmFeatures::MULTI_MEMORY),
    ("tail_call", WasmFeatures::TAIL_CALL),
    ("extended_const", WasmFeatures::EXTENDED_CONST),
    ("exceptions", WasmFeatures::EXCEPTIONS),
    ("legacy_exceptions", WasmFeatures::LEGACY_EXCEPTIONS),
    ("externref (gc types)", WasmFeatures::GC_TYPES),
    (
        "function_references",
        WasmFeatures::FUNCTION_REFERENCES.union(WasmFeatures::GC_TYPES),
    ),
    (
        "gc",
        WasmFeatures::GC
            .union(WasmFeatures::FUNCTION_REFERENCES)
            .union(WasmFeatures::GC_TYPES),
    ),
    ("custom_page_sizes", WasmFeatures::CUSTOM_PAGE_SIZES),
    ("wide_arithmetic", WasmFeatures::WIDE_ARITHMETIC),
    (
        "stack_switching",
        WasmFeatures::STACK_SWITCHING
            .union(WasmFeatures::FUNCTION_REFERENCES)
            .union(WasmFeatures::GC_TYPES)
            .union(WasmFeatures::EXCEPTIONS),
    ),
    (
        "shared_everything_threads",
        WasmFeatures::SHARED_EVERYTHING_THREADS.union(WasmFeatures::THREADS),
    ),
    ("memory_control", WasmFeatures::MEMORY_CONTROL),
    ("component_model", WasmFeatures::COMPONENT_MODEL),
];

/// Engine settings that affect semantics, as (name, value). Fixed by this
/// version of Verity; listed so that they are hashed and documented.
pub const ENGINE_SETTINGS: &[(&str, &str)] = &[
    (
        "metering",
        "instrumented (runtime/src/instrument.rs, docs/costs.md); rules versioned by metering.version",
    ),
    (
        "fuel_rule",
        "1 per instruction except block/loop/end/else/nop, charged per basic block on entry; bulk ops 1 per byte or element",
    ),
    (
        "stack_rule",
        "call adds params+locals+max operand height+8 slots; call_indirect adds the largest frame of a defined function of an equivalent type, at least params+8; trap past max_stack_slots",
    ),
    (
        "nan_canonicalization",
        "instrumented, plus cranelift_nan_canonicalization",
    ),
    ("cranelift_nan_canonicalization", "true"),
    ("cranelift_opt_level", "none"),
    ("compiler_inlining", "no"),
    ("wasm_features", "exactly the accepted proposals"),
    ("start_function", "rejected"),
    ("memory_grow_refusal", "store limiter at max_memory_pages"),
];

/// Everything that determines an outcome, besides the module and the
/// transaction. Two runtimes with equal [`Profile::hash`] produce equal
/// receipts for equal transactions.
///
/// ```
/// use verity_runtime::Profile;
///
/// let default = Profile::default();
/// let mut small = Profile::default();
/// small.limits.max_memory_pages = 16;
/// assert_ne!(default.hash(), small.hash());
/// assert_eq!(default.hash(), Profile::default().hash());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// A human-readable name, hashed with the rest.
    pub name: String,
    /// Size and count limits.
    pub limits: Limits,
    /// Host call costs.
    pub costs: CostSchedule,
    /// wasmtime's native stack budget in bytes for wasm frames. The logical
    /// limit (`limits.max_stack_slots`) is always reached first, with a
    /// margin a test measures on both compilers (docs/determinism.md); this
    /// is a backstop, hashed so that receipts name it.
    pub max_native_stack: usize,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            name: "verity-default-v1".to_string(),
            limits: Limits::default(),
            costs: CostSchedule::default(),
            max_native_stack: 1 << 20,
        }
    }
}

impl Profile {
    /// The default profile, but admitting senders the embedder asserts
    /// (`admit_asserted` = 1): for an embedder that authenticates senders
    /// itself, and for tests that act as any address. Its hash differs from
    /// the default's, so its receipts say they trusted the embedder.
    ///
    /// ```
    /// use verity_runtime::{MemoryState, Profile, Runtime, Status, Transaction};
    ///
    /// let wasm = wat::parse_str(r#"(module (func (export "run")))"#)?;
    /// let tx = Transaction::new("run").with_sender(b"alice".to_vec());
    /// let strict = Runtime::new(Profile::default())?;
    /// let receipt = strict.execute(&wasm, &tx, &MemoryState::default())?;
    /// assert!(matches!(receipt.status, Status::Rejected { .. }));
    /// let trusting = Runtime::new(Profile::asserted_senders())?;
    /// let receipt = trusting.execute(&wasm, &tx, &MemoryState::default())?;
    /// assert!(receipt.status.is_success());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn asserted_senders() -> Profile {
        let mut profile = Profile {
            name: "verity-asserted-v1".to_string(),
            ..Profile::default()
        };
        profile.limits.admit_asserted = 1;
        profile
    }

    /// The wasm features this profile's validator accepts.
    pub fn features(&self) -> WasmFeatures {
        ACCEPTED_PROPOSALS
            .iter()
            .fold(WasmFeatures::empty(), |acc, (_, f)| acc.union(*f))
    }

    /// The canonical text of the profile: one `key=value` line per setting,
    /// in a fixed order. The profile hash is SHA-256 over
    /// [`PROFILE_DOMAIN`] and this text; `verity profile` prints it.
    pub fn canonical_text(&self) -> String {
        let mut s = String::new();
        let mut line = |k: &str, v: &dyn std::fmt::Display| {
            let _ = writeln!(s, "{k}={v}");
        };
        line("name", &self.name);
        line("wasmtime", &WASMTIME_VERSION);
        line("wasmparser", &WASMPARSER_VERSION);
        line("wasm_encoder", &WASM_ENCODER_VERSION);
        line("metering.version", &METERING_VERSION);
        line("metering.frame_overhead_slots", &FRAME_OVERHEAD_SLOTS);
        line(
            "metering.canonical_nan_f32",
            &format_args!("{CANONICAL_NAN_F32:#010x}"),
        );
        line(
            "metering.canonical_nan_f64",
            &format_args!("{CANONICAL_NAN_F64:#018x}"),
        );
        line("abi_version", &ABI_VERSION);
        line("receipt_format", &FORMAT_VERSION);
        for (name, _) in ACCEPTED_PROPOSALS {
            line(&format!("proposal.{name}"), &"accepted");
        }
        for (k, v) in ENGINE_SETTINGS {
            line(&format!("engine.{k}"), v);
        }
        line("engine.max_native_stack", &self.max_native_stack);
        for (k, v) in self.limits.entries() {
            line(&format!("limit.{k}"), &v);
        }
        for class in CostClass::ALL {
            let c = self.costs.get(*class);
            line(&format!("cost.{}.base", class.name()), &c.base);
            line(&format!("cost.{}.per_unit", class.name()), &c.per_unit);
        }
        for (i, tier) in self.costs.memory_access.tiers.iter().enumerate() {
            line(
                &format!("cost.memory_access.{i}.up_to_pages"),
                &tier.up_to_pages,
            );
            line(&format!("cost.memory_access.{i}.price"), &tier.price);
        }
        s
    }

    /// The profile hash committed in every receipt.
    pub fn hash(&self) -> Hash32 {
        Hash32::of_tagged(PROFILE_DOMAIN, self.canonical_text().as_bytes())
    }

    /// The wasmtime configuration this profile runs under, compiling with
    /// `compiler`: the semantic settings only (features, NaN
    /// canonicalisation, optimisation level, native stack budget), without
    /// the runtime's allocation strategy. Public so that harnesses (the
    /// spec testsuite run) compile exactly as the runtime does.
    ///
    /// ```
    /// use verity_runtime::{Compiler, Profile};
    ///
    /// let engine = wasmtime::Engine::new(&Profile::default().wasmtime_config(Compiler::Winch))?;
    /// # let _ = engine;
    /// # Ok::<(), wasmtime::Error>(())
    /// ```
    pub fn wasmtime_config(&self, compiler: Compiler) -> wasmtime::Config {
        let mut c = wasmtime::Config::new();
        c.strategy(match compiler {
            Compiler::Cranelift => wasmtime::Strategy::Cranelift,
            Compiler::Winch => wasmtime::Strategy::Winch,
        });
        // The engine accepts exactly the profile's features: everything else
        // is switched off, so wasmtime's own validation agrees with ours.
        c.wasm_features(WasmFeatures::all().difference(self.features()), false)
            .wasm_features(self.features(), true)
            .wasm_simd(false)
            .wasm_relaxed_simd(false)
            // Fuel is metered by the instrumented module itself
            // (instrument.rs), identically under every compiler.
            .consume_fuel(false)
            .cranelift_nan_canonicalization(true)
            // No e-graph pass: its GVN and loop-invariant code motion keep
            // values live across calls that no wasm local or operand holds,
            // so a frame of a few logical slots could take kilobytes of
            // native stack and run out of it before the logical limit, at
            // a depth only Cranelift decides (test:
            // `no_accepted_module_reaches_the_native_stack_limit`).
            .cranelift_opt_level(wasmtime::OptLevel::None)
            // Inlining merges frames the logical stack counts separately.
            // Off is wasmtime 48's default; stated so it cannot drift.
            .compiler_inlining(wasmtime::Inlining::No)
            .wasm_backtrace_max_frames(None)
            .max_wasm_stack(self.max_native_stack);
        c
    }
}

/// Which wasmtime compiler turns modules into machine code.
///
/// Not part of the profile and not in any receipt: fuel, the stack limit and
/// float results are properties of the instrumented module, so both
/// compilers produce the same receipt for the same transaction (tests check
/// this; `verity run --compiler` lets anyone check it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Compiler {
    /// The optimising compiler (default).
    #[default]
    Cranelift,
    /// The baseline compiler: fast to compile, slower code.
    Winch,
}

impl Compiler {
    /// The compiler's name as the CLI spells it.
    pub fn name(self) -> &'static str {
        match self {
            Compiler::Cranelift => "cranelift",
            Compiler::Winch => "winch",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wasmtime_version_matches_cargo_lock() {
        let lock = include_str!("../../Cargo.lock");
        let needle = format!("name = \"wasmtime\"\nversion = \"{WASMTIME_VERSION}\"");
        assert!(
            lock.contains(&needle),
            "Cargo.lock's wasmtime is not {WASMTIME_VERSION}: update WASMTIME_VERSION"
        );
    }

    #[test]
    fn receipt_shaping_dependencies_match_cargo_lock() {
        let lock = include_str!("../../Cargo.lock");
        for (name, version) in [
            ("wasmparser", WASMPARSER_VERSION),
            ("wasm-encoder", WASM_ENCODER_VERSION),
        ] {
            let needle = format!("name = \"{name}\"\nversion = \"{version}\"");
            assert!(
                lock.contains(&needle),
                "Cargo.lock's {name} is not {version}: update the profile's constant"
            );
        }
    }

    #[test]
    fn dependency_and_metering_versions_are_hashed() {
        let text = Profile::default().canonical_text();
        for line in [
            format!("wasmparser={WASMPARSER_VERSION}"),
            format!("wasm_encoder={WASM_ENCODER_VERSION}"),
            format!("metering.version={METERING_VERSION}"),
            format!("metering.frame_overhead_slots={FRAME_OVERHEAD_SLOTS}"),
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} is not in the profile"
            );
        }
    }

    #[test]
    fn every_limit_and_cost_changes_the_hash() {
        let base = Profile::default();
        let h = base.hash();
        for (name, value) in base.limits.entries() {
            let mut p = base.clone();
            assert!(p.limits.set(name, value ^ 1), "{name} cannot be set");
            assert_ne!(p.hash(), h, "limit {name} is not hashed");
        }
        for class in CostClass::ALL {
            let mut p = base.clone();
            p.costs.get_mut(*class).per_unit += 1;
            assert_ne!(p.hash(), h, "cost {} is not hashed", class.name());
        }
        for i in 0..base.costs.memory_access.tiers.len() {
            let mut p = base.clone();
            p.costs.memory_access.tiers[i].price += 1;
            assert_ne!(p.hash(), h, "access tier {i}'s price is not hashed");
            let mut p = base.clone();
            p.costs.memory_access.tiers[i].up_to_pages -= 1;
            assert_ne!(p.hash(), h, "access tier {i}'s bound is not hashed");
        }
        let mut p = base.clone();
        p.max_native_stack += 1;
        assert_ne!(p.hash(), h);
        let mut p = base;
        p.name.push('x');
        assert_ne!(p.hash(), h);
    }
}
