//! Typed contract errors.

/// An error an entry point returns as `Err(e)`: the run reverts with the
/// message `error <code>: <message>`, so both reach the receipt.
///
/// Derive it for a fieldless enum:
///
/// ```
/// use verity_sdk::ContractError;
///
/// #[derive(ContractError)]
/// enum TokenError {
///     #[error("insufficient balance")]
///     InsufficientBalance = 1,
///     #[error("not the owner")]
///     Unauthorized,
/// }
/// assert_eq!(TokenError::Unauthorized.code(), 2);
/// assert_eq!(TokenError::InsufficientBalance.message(), "insufficient balance");
/// ```
pub trait ContractError {
    /// A stable number for the error, for programs reading receipts.
    fn code(&self) -> u32;
    /// A human-readable description.
    fn message(&self) -> &str;
}
