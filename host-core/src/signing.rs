//! Keys of accounts that sign transactions (docs/auth.md): made from a
//! 32-byte secret, giving the public key, the account's address and
//! signatures over transaction hashes that [`verify_tx_signature`]
//! accepts.
//!
//! [`verify_tx_signature`]: crate::verify_tx_signature

use verity_host_abi::auth::{Scheme, account_address};

/// A signing key of one scheme.
///
/// ```
/// use verity_host_abi::auth::Scheme;
/// use verity_host_core::{AccountKey, verify_tx_signature};
///
/// for scheme in [Scheme::Ed25519, Scheme::P256] {
///     let key = AccountKey::from_secret(scheme, &[9; 32]).unwrap();
///     let hash = [4u8; 32];
///     let sig = key.sign(&hash);
///     assert_eq!(verify_tx_signature(scheme, &key.public_key(), &hash, &sig), Ok(()));
/// }
/// ```
#[derive(Clone)]
pub enum AccountKey {
    /// Ed25519.
    Ed25519(ed25519_dalek::SigningKey),
    /// ECDSA P-256.
    P256(p256::ecdsa::SigningKey),
}

impl core::fmt::Debug for AccountKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let address = verity_host_abi::Hash32(self.address());
        write!(
            f,
            "AccountKey({}, {})",
            self.scheme().name(),
            address.to_hex()
        )
    }
}

impl AccountKey {
    /// The key of `scheme` with the secret `secret`; `None` if it is not
    /// a valid P-256 scalar (zero, or not below the group order).
    pub fn from_secret(scheme: Scheme, secret: &[u8; 32]) -> Option<AccountKey> {
        Some(match scheme {
            Scheme::Ed25519 => AccountKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(secret)),
            Scheme::P256 => AccountKey::P256(p256::ecdsa::SigningKey::from_slice(secret).ok()?),
        })
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        match self {
            AccountKey::Ed25519(_) => Scheme::Ed25519,
            AccountKey::P256(_) => Scheme::P256,
        }
    }

    /// The 32-byte secret.
    pub fn secret(&self) -> [u8; 32] {
        match self {
            AccountKey::Ed25519(k) => k.to_bytes(),
            AccountKey::P256(k) => k.to_bytes().into(),
        }
    }

    /// The public key: 32 bytes (Ed25519), or 33 bytes of compressed SEC1
    /// (P-256).
    pub fn public_key(&self) -> Vec<u8> {
        match self {
            AccountKey::Ed25519(k) => k.verifying_key().to_bytes().to_vec(),
            AccountKey::P256(k) => k.verifying_key().to_encoded_point(true).as_bytes().to_vec(),
        }
    }

    /// The account's address.
    pub fn address(&self) -> [u8; 32] {
        account_address(self.scheme(), &self.public_key())
    }

    /// The signature over the transaction hash `tx_hash` (P-256: low `S`,
    /// deterministic by RFC 6979).
    pub fn sign(&self, tx_hash: &[u8; 32]) -> [u8; 64] {
        match self {
            AccountKey::Ed25519(k) => {
                use ed25519_dalek::Signer;
                k.sign(tx_hash).to_bytes()
            }
            AccountKey::P256(k) => {
                use p256::ecdsa::signature::Signer;
                let sig: p256::ecdsa::Signature = k.sign(tx_hash);
                let sig = sig.normalize_s().unwrap_or(sig);
                sig.to_bytes().into()
            }
        }
    }
}

/// The fuel admitting a transaction signed with `scheme` takes
/// (docs/auth.md): the signature check over the 32-byte transaction hash,
/// and the nonce entry's read and write. The runtime charges it before the
/// entry runs, and `TestEnv` charges the same.
///
/// ```
/// use verity_host_abi::CostSchedule;
/// use verity_host_abi::auth::Scheme;
///
/// let costs = CostSchedule::default();
/// let fuel = verity_host_core::admission_fuel(&costs, Scheme::Ed25519);
/// assert!(fuel > costs.ed25519_verify.total(32));
/// ```
pub fn admission_fuel(costs: &verity_host_abi::CostSchedule, scheme: Scheme) -> u64 {
    let verify = match scheme {
        Scheme::Ed25519 => costs.ed25519_verify.total(32),
        Scheme::P256 => costs.p256_verify.total(32),
    };
    let entry = (verity_host_abi::auth::NONCE_KEY_BYTES + 8) as u64;
    verify
        .saturating_add(costs.storage_read.total(entry))
        .saturating_add(costs.storage_write.total(entry))
}
