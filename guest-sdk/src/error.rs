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
/// assert!(matches!(TokenError::from_code(2), Some(TokenError::Unauthorized)));
/// assert!(TokenError::from_code(3).is_none());
/// ```
pub trait ContractError {
    /// A stable number for the error, for programs reading receipts.
    fn code(&self) -> u32;
    /// A human-readable description.
    fn message(&self) -> &str;
    /// The error whose code is `code`, if there is one: how a caller's
    /// [`env::try_call`](crate::env::try_call) turns a callee's revert back
    /// into its type. The derive implements it; by default there is none.
    fn from_code(code: u32) -> Option<Self>
    where
        Self: Sized,
    {
        let _ = code;
        None
    }

    /// The error a revert message `error <code>: <message>` (exactly as
    /// [`env::revert_with`](crate::env::revert_with) writes it: a
    /// canonical decimal code, and this type's message for that code)
    /// stands for; `None` for any other message.
    ///
    /// ```
    /// use verity_sdk::ContractError;
    ///
    /// #[derive(ContractError, Debug, PartialEq)]
    /// enum E {
    ///     #[error("too low")]
    ///     TooLow = 7,
    /// }
    /// assert_eq!(E::from_revert_message(b"error 7: too low"), Some(E::TooLow));
    /// assert_eq!(E::from_revert_message(b"error 07: too low"), None);
    /// assert_eq!(E::from_revert_message(b"error 7: too high"), None);
    /// ```
    fn from_revert_message(message: &[u8]) -> Option<Self>
    where
        Self: Sized,
    {
        let rest = message.strip_prefix(b"error ")?;
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let (number, rest) = rest.split_at(digits);
        let text = rest.strip_prefix(b": ")?;
        if number.is_empty() || (number.len() > 1 && number[0] == b'0') {
            return None;
        }
        let mut code: u32 = 0;
        for d in number {
            code = code.checked_mul(10)?.checked_add(u32::from(d - b'0'))?;
        }
        let error = Self::from_code(code)?;
        (error.message().as_bytes() == text).then_some(error)
    }
}
