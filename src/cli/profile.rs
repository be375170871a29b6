//! `verity profile`.

use anyhow::Result;
use clap::Args;
use serde_json::json;
use verity_runtime::Profile;

use super::Outcome;

#[derive(Args)]
pub struct ProfileArgs {
    /// Print the profile as one JSON document.
    #[arg(long)]
    json: bool,
}

pub fn profile(args: ProfileArgs) -> Result<Outcome> {
    let profile = Profile::default();
    if args.json {
        let settings: serde_json::Map<String, serde_json::Value> = profile
            .canonical_text()
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.into()))
            .collect();
        let doc = json!({ "profile_hash": profile.hash().to_hex(), "settings": settings });
        outln!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        outln!("profile_hash={}", profile.hash());
        out!("{}", profile.canonical_text());
    }
    Ok(Outcome::Ok)
}
