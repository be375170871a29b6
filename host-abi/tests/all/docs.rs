//! docs/abi.md, docs/costs.md and docs/determinism.md match the code they
//! describe: every host function, cost class and trap kind is documented
//! as the code defines it.

use verity_host_abi::{CostClass, CostSchedule, HOST_FUNCTIONS, TrapKind};

fn doc(name: &str) -> String {
    let path = format!("{}/../docs/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn every_host_function_is_documented_with_its_signature_and_cost_class() {
    let abi = doc("abi.md");
    let rows: Vec<&str> = abi.lines().filter(|l| l.starts_with("| `")).collect();
    assert_eq!(
        rows.len(),
        HOST_FUNCTIONS.len(),
        "docs/abi.md lists another set of functions"
    );
    for f in HOST_FUNCTIONS {
        let row = format!("| `{}` | {} |", f.signature(), f.cost.name());
        assert!(
            rows.iter().any(|r| r.starts_with(&row)),
            "docs/abi.md lacks the row {row}"
        );
    }
}

#[test]
fn every_trap_kind_is_documented() {
    let abi = doc("abi.md");
    for k in TrapKind::ALL {
        assert!(
            abi.contains(&format!("`{}`", k.name())),
            "docs/abi.md lacks trap {}",
            k.name()
        );
    }
}

#[test]
fn docs_costs_table_matches_the_default_schedule() {
    let costs = doc("costs.md");
    let schedule = CostSchedule::default();
    for class in CostClass::ALL {
        let c = schedule.get(*class);
        let row = format!("| {} | {} | {} |", class.name(), c.base, c.per_unit);
        assert!(costs.contains(&row), "docs/costs.md lacks the row {row}");
    }
}

#[test]
fn docs_costs_tiers_match_the_default_access_prices() {
    let costs = doc("costs.md");
    for tier in CostSchedule::default().memory_access.tiers {
        let row = format!("\n| {} | {} |", tier.up_to_pages, tier.price);
        assert!(
            costs.contains(&row),
            "docs/costs.md's max_fuel table lacks the tier row {row:?}"
        );
    }
}

#[test]
fn docs_limits_table_matches_the_default_limits() {
    let text = doc("determinism.md");
    for (name, value) in verity_host_abi::Limits::default().entries() {
        let row = format!("| `{name}` | {value} |");
        assert!(
            text.contains(&row),
            "docs/determinism.md lacks the row {row}"
        );
    }
}
