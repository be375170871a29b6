//! `token_transfer_signed` (docs/auth.md): a token transfer signed with
//! Ed25519 (the signature check, the nonce's read and write, then the
//! run and its receipt) beside the same transfer with an asserted sender,
//! and one `verify_strict` of the signature alone, timed in turns in one
//! run. Issue 23's target: the signed transfer costs at most the unsigned
//! one plus 1.2x the signature check.

use anyhow::{Result, ensure};
use verity_runtime::{AccountKey, Auth, MemoryState, Runtime, Scheme, Transaction};

use crate::report::Row;
use crate::{BOB, Plain, check_success, fixture, interleaved, token_contract, token_state};

pub(crate) fn token_transfer_signed(quick: bool, rt: &Runtime) -> Result<Row> {
    let token = fixture("token.wasm")?;
    let key = AccountKey::from_secret(Scheme::Ed25519, &[5; 32]).expect("an Ed25519 secret");
    let mut minted: MemoryState = token_state(rt, &token)?;
    let owner = [1u8; 32];
    let mint = Transaction::call(token_contract(&token), "mint")
        .with_input(postcard::to_allocvec(&(key.address(), 1_000_000u64))?)
        .with_sender(owner.to_vec());
    let r = rt.execute_call(&mint, &minted)?;
    check_success(&r)?;
    minted.commit(&r)?;
    let state = Plain::of(&minted);
    let unsigned = Transaction::call(token_contract(&token), "transfer")
        .with_input(postcard::to_allocvec(&(BOB, 1u64))?)
        .with_sender(key.address().to_vec())
        .with_chain_id("bench")
        .with_fuel(1_000_000);
    // Not committed, so the one envelope's nonce is free on every run.
    let signed = rt.sign(unsigned.clone(), &key, 1, 100, None);
    let r = rt.execute_call(&signed, &state)?;
    check_success(&r)?;
    let hash = r.tx_hash().expect("a signed receipt");
    let Auth::Signed(auth) = &signed.auth else {
        unreachable!("signed above")
    };
    let (public, sig) = (auth.public_key.clone(), auth.signature.clone());
    let run = |tx: &Transaction| crate::calls::run_one(rt, &state, tx);
    let verify = || -> Result<()> {
        let ok = verity_runtime::verify_tx_signature(Scheme::Ed25519, &public, &hash.0, &sig);
        ensure!(ok.is_ok(), "the signature verifies");
        Ok(())
    };
    let (reps, batch) = if quick { (5, 200) } else { (21, 2000) };
    let [unsigned_s, signed_s, verify_s] =
        interleaved(reps, batch, [&|| run(&unsigned), &|| run(&signed), &verify])?;
    let mut row = Row::new("token_transfer_signed", "tx/s", true);
    row.verity = Some(1.0 / signed_s);
    row.ratios
        .insert("unsigned_tx_per_s".into(), 1.0 / unsigned_s);
    row.ratios.insert("verify_strict_us".into(), verify_s * 1e6);
    row.ratios
        .insert("signing_overhead_us".into(), (signed_s - unsigned_s) * 1e6);
    // Issue 23's target: at most 1.2.
    row.ratios.insert(
        "overhead_vs_verify".into(),
        (signed_s - unsigned_s) / verify_s,
    );
    let (one_by_one, batched) = batch_gain(quick)?;
    row.ratios
        .insert("verify_64_one_by_one_us".into(), one_by_one * 1e6);
    row.ratios
        .insert("verify_64_batched_us".into(), batched * 1e6);
    row.ratios
        .insert("batch_gain_64".into(), one_by_one / batched);
    Ok(row.finish())
}

/// Seconds to check 64 signatures of 64 keys over 64 transaction hashes
/// one by one (`verify_strict`, what admission does) and in one batch
/// (`verify_batch`), for blocks: a block's envelopes could be checked
/// together. The batch equation is not `verify_strict`'s (it accepts
/// small-order components that strict verification refuses), so a block
/// would batch only what it also screens for those: this measures what
/// that is worth before anyone builds it.
fn batch_gain(quick: bool) -> Result<(f64, f64)> {
    use ed25519_dalek::{Signer, SigningKey};
    let keys: Vec<SigningKey> = (0..64u8)
        .map(|i| SigningKey::from_bytes(&[i.wrapping_add(1); 32]))
        .collect();
    let messages: Vec<[u8; 32]> = (0..64u8).map(|i| [i; 32]).collect();
    let signatures: Vec<_> = keys.iter().zip(&messages).map(|(k, m)| k.sign(m)).collect();
    let public: Vec<_> = keys.iter().map(|k| k.verifying_key()).collect();
    let refs: Vec<&[u8]> = messages.iter().map(|m| &m[..]).collect();
    let one = || -> Result<()> {
        for ((k, m), s) in public.iter().zip(&messages).zip(&signatures) {
            ensure!(k.verify_strict(m, s).is_ok(), "a signature verifies");
        }
        Ok(())
    };
    let batch = || -> Result<()> {
        ensure!(
            ed25519_dalek::verify_batch(&refs, &signatures, &public).is_ok(),
            "the batch verifies"
        );
        Ok(())
    };
    let (reps, batch_size) = if quick { (3, 5) } else { (11, 40) };
    let [one_s, batch_s] = interleaved(reps, batch_size, [&one, &batch])?;
    Ok((one_s, batch_s))
}
