//! `--arg name=VALUE` and `--args JSON`: typed entry arguments encoded by
//! the module's contract spec (`verity_host_abi::spec_json`), and outputs,
//! typed errors and declared events decoded back.
//!
//! A VALUE is JSON (docs/sdk.md, "Values as JSON"). For types written as
//! JSON strings (`String`, `Vec<u8>`, `[u8; N]`, `Address`, and options of
//! them) the quotes may be left out: `--arg to=ab12…` and `--arg memo=hi`
//! are taken as strings.

use anyhow::{Result, anyhow, bail};
use serde_json::{Map, Value, json};
use verity_runtime::abi::spec::{ContractSpec, EntrySpec, TypeSpec};
use verity_runtime::{Receipt, Status, spec_json};

use super::print::terminal_safe;

/// The input of `entry` from `--arg` pairs and an optional `--args`
/// object.
pub fn encode_args(
    spec: &ContractSpec,
    entry: &EntrySpec,
    pairs: &[String],
    object: Option<&str>,
) -> Result<Vec<u8>> {
    let mut given: Map<String, Value> = match object {
        None => Map::new(),
        Some(text) => match serde_json::from_str(text) {
            Ok(Value::Object(m)) => m,
            Ok(other) => bail!("--args is JSON but not an object of arguments: {other}"),
            Err(e) => bail!("--args is not JSON: {e}"),
        },
    };
    for p in pairs {
        let (name, text) = p
            .split_once('=')
            .ok_or_else(|| anyhow!("--arg `{p}` is not NAME=VALUE"))?;
        let Some(arg) = entry.args.iter().find(|a| a.name == name) else {
            bail!(
                "`{}` has no argument `{name}` (it is {})",
                entry.name,
                entry.signature()
            );
        };
        if given.contains_key(name) {
            bail!("argument {name} is given twice");
        }
        given.insert(name.to_string(), arg_value(&arg.ty, text)?);
    }
    spec_json::encode_args(spec, entry, &given).map_err(|e| {
        // The argument the fault is in: the first part of its path.
        let head = e.path.split(['.', '[']).next().unwrap_or_default();
        match entry.args.iter().find(|a| a.name == head) {
            Some(a) if !given.contains_key(head) => {
                anyhow!("missing argument {head}: give --arg {head}=<{}>", a.ty)
            }
            Some(a) => anyhow!("argument {e} (an argument of type {})", a.ty),
            None => anyhow!("argument {e}"),
        }
    })
}

/// Whether `ty`'s JSON form is a string (through options).
fn stringy(ty: &TypeSpec) -> bool {
    match ty {
        TypeSpec::String | TypeSpec::Bytes | TypeSpec::FixedBytes(_) | TypeSpec::Address => true,
        TypeSpec::Option(inner) => stringy(inner),
        _ => false,
    }
}

/// One `--arg` value: JSON, or for a string-like type a bare string.
fn arg_value(ty: &TypeSpec, text: &str) -> Result<Value> {
    match serde_json::from_str::<Value>(text) {
        Ok(v @ (Value::String(_) | Value::Null)) => Ok(v),
        _ if stringy(ty) => Ok(Value::String(text.to_string())),
        Ok(v) => Ok(v),
        Err(e) => Err(anyhow!(
            "`{text}` is not JSON ({e}); a {ty} is written as JSON (docs/sdk.md)"
        )),
    }
}

/// What the contract spec says about a finished run: its return value,
/// its typed error, its declared events.
pub struct Decoded {
    /// The return type and value of a successful run that decodes.
    pub output: Option<(String, Value)>,
    /// `Type::Variant` of a run that reverted with a declared error code.
    pub error: Option<String>,
    /// Per receipt event: the declared event's name and its data, if it
    /// is declared and decodes.
    pub events: Vec<Option<(String, Value)>>,
    /// Set when decoding stopped at the receipt's budget: what was not
    /// decoded shows only raw (in the receipt's own lines).
    pub note: Option<String>,
}

impl Decoded {
    /// Decodes what `receipt` holds by `spec` (`entry`, if the spec has it).
    /// One budget of JSON values ([`spec_json::MAX_DECODED_VALUES`]) covers
    /// the output and every event, so printing any receipt is bounded.
    pub fn new(spec: &ContractSpec, entry: Option<&EntrySpec>, receipt: &Receipt) -> Decoded {
        let mut budget = spec_json::DecodeBudget::new(spec_json::MAX_DECODED_VALUES);
        let output = entry
            .filter(|e| receipt.status.is_success() && e.returns != TypeSpec::Unit)
            .and_then(|e| {
                let v = spec_json::decode_within(spec, &e.returns, &receipt.output, &mut budget)
                    .ok()?;
                Some((e.returns.to_string(), v))
            });
        let error = match (&receipt.status, entry.and_then(|e| e.error.as_deref())) {
            (Status::Reverted { message }, Some(name)) => {
                let code = message
                    .strip_prefix("error ")
                    .and_then(|m| m.split_once(':'))
                    .and_then(|(c, _)| c.parse::<u32>().ok());
                code.and_then(|c| spec.error(name)?.variant(c))
                    .map(|v| format!("{name}::{}", v.name))
            }
            _ => None,
        };
        let events = receipt
            .events
            .iter()
            .map(|e| {
                let def = spec.event(&e.topic)?;
                let v = spec_json::decode_within(spec, &def.data, &e.data, &mut budget).ok()?;
                Some((def.name.clone(), v))
            })
            .collect();
        let note = budget.exhausted().then(|| {
            format!(
                "decoding stopped after {} values: the rest shows raw",
                spec_json::MAX_DECODED_VALUES
            )
        });
        Decoded {
            output,
            error,
            events,
            note,
        }
    }

    /// Lines for a terminal, after the receipt.
    pub fn human(&self) -> String {
        let mut s = String::new();
        if let Some((ty, v)) = &self.output {
            s += &terminal_safe(&format!("returns  {v} ({ty})"));
            s += "\n";
        }
        if let Some(e) = &self.error {
            s += &terminal_safe(&format!("error    {e}"));
            s += "\n";
        }
        for (name, v) in self.events.iter().flatten() {
            s += &terminal_safe(&format!("event    {name} {v}"));
            s += "\n";
        }
        if let Some(note) = &self.note {
            s += &format!("note     {note}\n");
        }
        s
    }

    /// The `decoded` member of `--json` output.
    pub fn json(&self) -> Value {
        let mut m = Map::new();
        if let Some((ty, v)) = &self.output {
            m.insert("output".into(), json!({"type": ty, "value": v}));
        }
        if let Some(e) = &self.error {
            m.insert("error".into(), json!(e));
        }
        let events: Vec<Value> = self
            .events
            .iter()
            .map(|e| match e {
                Some((name, v)) => json!({"event": name, "data": v}),
                None => Value::Null,
            })
            .collect();
        m.insert("events".into(), Value::Array(events));
        if let Some(note) = &self.note {
            m.insert("note".into(), json!(note));
        }
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use verity_runtime::abi::spec::ArgSpec;

    fn entry(args: Vec<(&str, TypeSpec)>) -> EntrySpec {
        EntrySpec {
            name: "f".into(),
            doc: String::new(),
            args: args
                .into_iter()
                .map(|(n, ty)| ArgSpec { name: n.into(), ty })
                .collect(),
            returns: TypeSpec::Unit,
            error: None,
        }
    }

    fn encode(e: &EntrySpec, pairs: &[&str], object: Option<&str>) -> Result<Vec<u8>> {
        let pairs: Vec<String> = pairs.iter().map(|s| s.to_string()).collect();
        encode_args(&ContractSpec::default(), e, &pairs, object)
    }

    #[test]
    fn text_encodes_as_the_sdk_decodes_it() {
        let e = entry(vec![
            ("to", TypeSpec::Address),
            ("amount", TypeSpec::U64),
            ("memo", TypeSpec::Option(Box::new(TypeSpec::String))),
            ("delta", TypeSpec::I32),
        ]);
        // An address of decimal digits only is still hex, not a number.
        let to = "12".repeat(32);
        let got = encode(
            &e,
            &["amount=300", &format!("to={to}"), "memo=hi", "delta=-2"],
            None,
        )
        .unwrap();
        let expected =
            postcard::to_allocvec(&([0x12u8; 32], 300u64, Some("hi".to_string()), -2i32)).unwrap();
        assert_eq!(got, expected);
        let none = encode(
            &e,
            &[&format!("to={to}"), "amount=0", "memo=null", "delta=0"],
            None,
        )
        .unwrap();
        assert_eq!(
            none,
            postcard::to_allocvec(&([0x12u8; 32], 0u64, None::<String>, 0i32)).unwrap()
        );
        // The same through --args, and mixed.
        let object = format!(r#"{{"to": "{to}", "amount": 300, "memo": "hi"}}"#);
        let mixed = encode(&e, &["delta=-2"], Some(&object)).unwrap();
        assert_eq!(mixed, expected);
    }

    #[test]
    fn bad_arguments_are_named() {
        let e = entry(vec![("n", TypeSpec::U8)]);
        let err = |pairs: &[&str], object: Option<&str>| {
            format!("{:#}", encode(&e, pairs, object).unwrap_err())
        };
        assert_eq!(err(&[], None), "missing argument n: give --arg n=<u8>");
        assert_eq!(
            err(&["n=300"], None),
            "argument n: 300 is not a u8 (an argument of type u8)"
        );
        assert!(err(&["n=1", "n=2"], None).contains("given twice"));
        assert!(err(&["n=1"], Some(r#"{"n": 1}"#)).contains("given twice"));
        assert!(err(&["m=1"], None).contains("no argument `m`"));
        assert!(err(&["n"], None).contains("not NAME=VALUE"));
        assert!(err(&["n=x"], None).contains("`x` is not JSON"));
        assert!(err(&[], Some("[1]")).contains("not an object"));
        assert!(err(&[], Some(r#"{"n": 1, "m": 2}"#)).contains("no such argument"));
        let custom = entry(vec![("p", TypeSpec::Named("Point".into()))]);
        let msg = format!("{:#}", encode(&custom, &["p={}"], None).unwrap_err());
        assert!(msg.contains("#[contracttype]"), "{msg}");
    }
}
