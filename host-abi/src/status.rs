//! How a run ended.

use alloc::string::String;
use core::fmt;

/// The outcome of a transaction, as committed in its receipt.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// The entry point returned; the write set is committed.
    Success,
    /// The guest called `abort` (the SDK maps panics and errors to it).
    Reverted {
        /// The guest's message, UTF-8, cut to the profile's limit.
        message: String,
    },
    /// The guest trapped, or broke a run limit through a host call.
    Trapped {
        /// What kind of trap.
        trap: TrapKind,
    },
    /// The fuel limit was reached.
    OutOfFuel,
    /// The module or the transaction was refused before anything ran.
    Rejected {
        /// A precise, human-readable reason.
        reason: String,
    },
}

impl Status {
    /// The status name used in JSON and on the terminal.
    ///
    /// ```
    /// use verity_host_abi::Status;
    /// assert_eq!(Status::OutOfFuel.name(), "out_of_fuel");
    /// ```
    pub const fn name(&self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Reverted { .. } => "reverted",
            Status::Trapped { .. } => "trapped",
            Status::OutOfFuel => "out_of_fuel",
            Status::Rejected { .. } => "rejected",
        }
    }

    /// The one-byte tag of the status in the canonical encoding.
    pub const fn tag(&self) -> u8 {
        match self {
            Status::Success => 0,
            Status::Reverted { .. } => 1,
            Status::Trapped { .. } => 2,
            Status::OutOfFuel => 3,
            Status::Rejected { .. } => 4,
        }
    }

    /// `true` only for [`Status::Success`].
    pub const fn is_success(&self) -> bool {
        matches!(self, Status::Success)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::Success | Status::OutOfFuel => f.write_str(self.name()),
            Status::Reverted { message } => write!(f, "reverted: {message}"),
            Status::Trapped { trap } => write!(f, "trapped: {trap}"),
            Status::Rejected { reason } => write!(f, "rejected: {reason}"),
        }
    }
}

macro_rules! trap_kinds {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, )*) => {
        /// Why a guest trapped. The name (not a number) is what the receipt
        /// encodes, so the set is open to additions without renumbering.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum TrapKind {
            $( $(#[$doc])* $variant, )*
        }

        impl TrapKind {
            /// Every trap kind.
            pub const ALL: &'static [TrapKind] = &[$(TrapKind::$variant),*];

            /// The stable snake_case name of the trap kind.
            pub const fn name(self) -> &'static str {
                match self { $(TrapKind::$variant => $name,)* }
            }

            /// Parses a name produced by [`TrapKind::name`].
            ///
            /// ```
            /// use verity_host_abi::TrapKind;
            /// assert_eq!(TrapKind::from_name("unreachable"), Some(TrapKind::Unreachable));
            /// assert_eq!(TrapKind::from_name("segfault"), None);
            /// ```
            pub fn from_name(name: &str) -> Option<TrapKind> {
                match name { $($name => Some(TrapKind::$variant),)* _ => None }
            }
        }
    };
}

trap_kinds! {
    /// The `unreachable` instruction ran (a guest panic without the SDK).
    Unreachable = "unreachable",
    /// A load or store outside linear memory.
    MemoryOutOfBounds = "memory_out_of_bounds",
    /// A table access outside the table.
    TableOutOfBounds = "table_out_of_bounds",
    /// `call_indirect` on a null table entry.
    IndirectCallToNull = "indirect_call_to_null",
    /// `call_indirect` with the wrong signature.
    BadSignature = "bad_signature",
    /// Integer overflow (e.g. `i32.div_s` of `MIN / -1`).
    IntegerOverflow = "integer_overflow",
    /// Integer division or remainder by zero.
    IntegerDivideByZero = "integer_divide_by_zero",
    /// A float-to-int conversion of NaN or an out-of-range value.
    BadConversionToInteger = "bad_conversion_to_integer",
    /// The call stack limit was reached.
    StackOverflow = "stack_overflow",
    /// A host call got a pointer/length pair outside the guest's memory.
    BadPointer = "bad_pointer",
    /// A storage key longer than `max_key_bytes`.
    KeyTooLong = "key_too_long",
    /// A storage value longer than `max_value_bytes`.
    ValueTooLong = "value_too_long",
    /// An output longer than `max_output_bytes`.
    OutputTooLong = "output_too_long",
    /// An event topic longer than `max_topic_bytes`.
    TopicTooLong = "topic_too_long",
    /// Event data longer than `max_event_data_bytes`.
    EventDataTooLong = "event_data_too_long",
    /// More than `max_events` events.
    TooManyEvents = "too_many_events",
    /// A write set larger than `max_write_set_bytes`.
    WriteSetTooLarge = "write_set_too_large",
    /// A read set with more than `max_read_keys` keys or
    /// `max_read_bytes` bytes.
    ReadSetTooLarge = "read_set_too_large",
    /// A call's entry name longer than `max_entry_bytes`.
    EntryTooLong = "entry_too_long",
    /// A call's input longer than `max_input_bytes`.
    InputTooLong = "input_too_long",
    /// A host function that needs memory was called by a module without one.
    NoMemory = "no_memory",
    /// A trap the engine reported that none of the kinds above describes.
    Other = "other",
}

impl fmt::Display for TrapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trap_names_round_trip_and_are_unique() {
        for (i, k) in TrapKind::ALL.iter().enumerate() {
            assert_eq!(TrapKind::from_name(k.name()), Some(*k));
            for other in &TrapKind::ALL[i + 1..] {
                assert_ne!(k.name(), other.name());
            }
        }
    }

    #[test]
    fn status_tags_are_distinct() {
        let all = [
            Status::Success,
            Status::Reverted {
                message: "m".into(),
            },
            Status::Trapped {
                trap: TrapKind::Unreachable,
            },
            Status::OutOfFuel,
            Status::Rejected { reason: "r".into() },
        ];
        for (i, s) in all.iter().enumerate() {
            assert_eq!(s.tag() as usize, i);
        }
    }
}
