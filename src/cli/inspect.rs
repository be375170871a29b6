//! `verity inspect`.

use std::collections::HashSet;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use serde_json::{Value, json};
use verity_runtime::abi::spec::{ContractSpec, Fields, TypeBody, TypeDef, TypeSpec};
use verity_runtime::{Hash32, contract_spec};

use super::Outcome;
use super::inputs::read_module;
use super::print::terminal_safe;

#[derive(Args)]
pub struct InspectArgs {
    /// The module: a .wasm binary or a .wat text file.
    module: PathBuf,
    /// Print one JSON document.
    #[arg(long)]
    json: bool,
    /// Also write the spec, in its canonical encoding (the `verity.spec`
    /// section's records), to this file: the committed spec a caller's
    /// `contractclient!` reads.
    #[arg(long, value_name = "FILE")]
    spec_out: Option<PathBuf>,
}

/// Prints the contract spec: entry points in declaration order with their
/// doc summaries, argument and return types and error type; the types,
/// error codes and events the contract declares. Exit 1 if the module
/// carries none or it is malformed.
pub fn inspect(args: InspectArgs) -> Result<Outcome> {
    let code = read_module(&args.module)?;
    let code_hash = Hash32::of(&code);
    let spec = match contract_spec(&code) {
        Ok(Some(spec)) => spec,
        Ok(None) => {
            outln!(
                "{}: no verity.spec section (the module was not built with verity-sdk's #[contract])",
                args.module.display()
            );
            return Ok(Outcome::Failed);
        }
        Err(e) => {
            outln!("{}: {e}", args.module.display());
            return Ok(Outcome::Failed);
        }
    };
    if let Some(out) = &args.spec_out {
        std::fs::write(out, spec.encode())
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
    }
    if args.json {
        let doc = spec_json(&code_hash, &spec);
        outln!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        out!("{}", spec_human(&code_hash, &spec));
    }
    Ok(Outcome::Ok)
}

/// `{ a: u64, b: String }`, `(u64, String)` or nothing.
fn fields_text(fields: &Fields) -> String {
    match fields {
        Fields::Unit => String::new(),
        Fields::Tuple(types) => {
            let t: Vec<String> = types.iter().map(ToString::to_string).collect();
            format!("({})", t.join(", "))
        }
        Fields::Named(fields) => {
            let f: Vec<String> = fields
                .iter()
                .map(|f| format!("{}: {}", f.name, f.ty))
                .collect();
            format!(" {{ {} }}", f.join(", "))
        }
    }
}

fn type_text(t: &TypeDef) -> String {
    match &t.body {
        TypeBody::Struct(fields) => format!("struct {}{}", t.name, fields_text(fields)),
        TypeBody::Enum(variants) => {
            let v: Vec<String> = variants
                .iter()
                .map(|v| format!("{}{}", v.name, fields_text(&v.fields)))
                .collect();
            format!("enum {} {{ {} }}", t.name, v.join(", "))
        }
    }
}

fn spec_human(code_hash: &Hash32, spec: &ContractSpec) -> String {
    let mut s = format!("code     {code_hash}\n");
    let mut item = |kind: &str, text: String, doc: &str| {
        s += &format!("{kind:<9}{}\n", terminal_safe(&text));
        if !doc.is_empty() {
            s += &format!("           {}\n", terminal_safe(doc));
        }
    };
    for e in &spec.entries {
        item("entry", e.signature(), &e.doc);
    }
    // Each type is printed once, so the output stays proportional to the
    // spec: an event's data type in full with the first event that carries
    // it, by name with the others, and not again as a type.
    let event_types: HashSet<&str> = spec
        .events
        .iter()
        .filter_map(|ev| match &ev.data {
            TypeSpec::Named(n) => Some(n.as_str()),
            _ => None,
        })
        .collect();
    for t in spec
        .types
        .iter()
        .filter(|t| !event_types.contains(t.name.as_str()))
    {
        item("type", type_text(t), &t.doc);
    }
    let mut shown: HashSet<&str> = HashSet::new();
    for ev in &spec.events {
        let data = match &ev.data {
            TypeSpec::Named(n) if shown.insert(n.as_str()) => spec.type_def(n).map(type_text),
            _ => None,
        };
        let data = data.unwrap_or_else(|| ev.data.to_string());
        item("event", format!("{:?}: {data}", ev.topic), &ev.doc);
    }
    for e in &spec.errors {
        item("error", e.name.clone(), &e.doc);
        for v in &e.variants {
            item("", format!("{:>4} {}: {}", v.code, v.name, v.message), "");
        }
    }
    s
}

fn fields_json(fields: &Fields) -> Value {
    match fields {
        Fields::Unit => json!({"kind": "unit"}),
        Fields::Tuple(types) => json!({
            "kind": "tuple",
            "types": types.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }),
        Fields::Named(fields) => json!({
            "kind": "named",
            "fields": fields.iter().map(|f| json!({"name": f.name, "doc": f.doc, "type": f.ty.to_string()})).collect::<Vec<_>>(),
        }),
    }
}

fn spec_json(code_hash: &Hash32, spec: &ContractSpec) -> Value {
    let entries: Vec<_> = spec
        .entries
        .iter()
        .map(|e| {
            json!({
                "name": e.name,
                "doc": e.doc,
                "args": e.args.iter().map(|a| json!({"name": a.name, "type": a.ty.to_string()})).collect::<Vec<_>>(),
                "returns": e.returns.to_string(),
                "error": e.error,
                "signature": e.signature(),
            })
        })
        .collect();
    let types: Vec<_> = spec
        .types
        .iter()
        .map(|t| match &t.body {
            TypeBody::Struct(fields) => {
                json!({"name": t.name, "doc": t.doc, "kind": "struct", "fields": fields_json(fields)})
            }
            TypeBody::Enum(variants) => json!({
                "name": t.name,
                "doc": t.doc,
                "kind": "enum",
                "variants": variants.iter().map(|v| json!({"name": v.name, "doc": v.doc, "fields": fields_json(&v.fields)})).collect::<Vec<_>>(),
            }),
        })
        .collect();
    let errors: Vec<_> = spec
        .errors
        .iter()
        .map(|e| {
            json!({
                "name": e.name,
                "doc": e.doc,
                "variants": e.variants.iter().map(|v| json!({"name": v.name, "doc": v.doc, "code": v.code, "message": v.message})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let events: Vec<_> = spec
        .events
        .iter()
        .map(
            |e| json!({"name": e.name, "doc": e.doc, "topic": e.topic, "data": e.data.to_string()}),
        )
        .collect();
    json!({
        "code_hash": code_hash.to_hex(),
        "entries": entries,
        "types": types,
        "errors": errors,
        "events": events,
    })
}
