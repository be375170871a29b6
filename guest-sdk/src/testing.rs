//! A native test environment: the same contract source, under `cargo test`,
//! against an in-memory host with the runtime's semantics.
//!
//! What matches the Verity runtime: storage reads see the run's own writes;
//! writes and events are kept only when the run succeeds; `revert`, a
//! contract error and a panic all end the run as `reverted` with the same
//! message text as on wasm; key, value, output, topic, event-data, event-count
//! and write-set limits of the default profile trap with the same trap kinds.
//! What differs: no fuel is charged. Panic messages are what the wasm build
//! reports: a formatted one (`expect("...")`, `Result::unwrap`,
//! `assert_eq!`) is the placeholder unless the `panic-fmt` feature is on
//! (see [`FORMATTED_PANICS_KEPT`]).
//!
//! ```
//! use verity_sdk::testing::{Status, TestEnv};
//! use verity_sdk::{contract, storage::Item};
//!
//! const COUNT: Item<u64> = Item::new(b"count");
//!
//! pub struct Counter;
//!
//! #[contract]
//! impl Counter {
//!     pub fn add(by: u64) -> u64 {
//!         let n = COUNT.get().unwrap_or(0) + by;
//!         COUNT.set(&n);
//!         n
//!     }
//! }
//!
//! let mut env = TestEnv::new();
//! assert_eq!(env.call::<Counter>("add", &(2u64,)).output::<u64>(), 2);
//! assert_eq!(env.call::<Counter>("add", &(3u64,)).output::<u64>(), 5);
//! // Direct calls work too, inside a run:
//! assert_eq!(env.invoke(|| Counter::add(1)), Ok(6));
//! // Overflow panics (debug build) and the run reverts, leaving state alone:
//! let out = env.call::<Counter>("add", &(u64::MAX,));
//! assert!(matches!(out.status, Status::Reverted(_)));
//! assert_eq!(env.invoke(|| COUNT.get()), Ok(Some(6)));
//! ```

use std::boxed::Box;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::string::{String, ToString};
use std::sync::Once;
use std::vec::Vec;

use serde::Serialize;
use serde::de::DeserializeOwned;
use verity_host_abi::spec::ContractSpec;
use verity_host_abi::{Event, Limits, TrapKind};

use crate::{Address, Contract, codec};

/// How a test run ended (the runtime's statuses, without `out_of_fuel`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// The entry returned normally.
    Success,
    /// The contract reverted: `revert`, a contract error, or a panic.
    Reverted(String),
    /// A host function trapped, e.g. a key longer than the profile allows.
    Trapped(TrapKind),
    /// The entry does not exist.
    Rejected(String),
}

/// The result of [`TestEnv::call`].
#[derive(Clone, Debug)]
pub struct Outcome {
    /// How the run ended.
    pub status: Status,
    /// The output bytes (empty unless the run succeeded).
    pub output: Vec<u8>,
    /// Events emitted (empty unless the run succeeded).
    pub events: Vec<Event>,
    /// The write set, sorted by key; `None` is a removal (empty unless the
    /// run succeeded).
    pub writes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

impl Outcome {
    /// Whether the run succeeded.
    pub fn is_success(&self) -> bool {
        self.status == Status::Success
    }

    /// Decodes the output as `T`. Panics (failing the test) if the run did
    /// not succeed or the output is not a `T`.
    #[track_caller]
    pub fn output<T: DeserializeOwned>(&self) -> T {
        assert_eq!(self.status, Status::Success, "the run did not succeed");
        codec::decode(&self.output).expect("output does not decode as the requested type")
    }

    /// The revert message, if the run reverted.
    pub fn revert_message(&self) -> Option<&str> {
        match &self.status {
            Status::Reverted(m) => Some(m),
            _ => None,
        }
    }
}

/// An in-memory host: committed state plus the transaction fields of the
/// next call.
#[derive(Clone, Debug, Default)]
pub struct TestEnv {
    state: BTreeMap<Vec<u8>, Vec<u8>>,
    sender: Vec<u8>,
    context: Vec<u8>,
    limits: Limits,
}

impl TestEnv {
    /// An empty state, empty sender and context, default limits.
    pub fn new() -> Self {
        TestEnv::default()
    }

    /// Sets the sender of the following calls.
    pub fn set_sender(&mut self, sender: &[u8]) -> &mut Self {
        self.sender = sender.to_vec();
        self
    }

    /// Sets the sender of the following calls to an address.
    pub fn set_sender_address(&mut self, sender: Address) -> &mut Self {
        self.set_sender(&sender.0)
    }

    /// Sets the context blob of the following calls.
    pub fn set_context(&mut self, context: &[u8]) -> &mut Self {
        self.context = context.to_vec();
        self
    }

    /// The committed state.
    pub fn state(&self) -> &BTreeMap<Vec<u8>, Vec<u8>> {
        &self.state
    }

    /// Seeds or overwrites a committed value.
    pub fn put(&mut self, key: &[u8], value: &[u8]) {
        self.state.insert(key.to_vec(), value.to_vec());
    }

    /// Calls entry `entry` of contract `C` with `args` (a tuple, encoded as
    /// the runtime's input would be). Commits writes only on success.
    pub fn call<C: Contract>(&mut self, entry: &str, args: &impl Serialize) -> Outcome {
        self.call_raw::<C>(entry, &codec::to_vec(args))
    }

    /// Like [`call`](Self::call), with raw input bytes.
    pub fn call_raw<C: Contract>(&mut self, entry: &str, input: &[u8]) -> Outcome {
        let known = ContractSpec::decode(C::SPEC)
            .map(|s| s.entry(entry).is_some())
            .unwrap_or(false);
        if !known {
            return Outcome {
                status: Status::Rejected(std::format!("entry `{entry}` is not exported")),
                output: Vec::new(),
                events: Vec::new(),
                writes: Vec::new(),
            };
        }
        let (result, frame) = self.run(input.to_vec(), || {
            C::__dispatch(entry);
        });
        match result {
            Ok(()) => Outcome {
                status: Status::Success,
                output: frame.output,
                events: frame.events,
                writes: frame.writes.into_iter().collect(),
            },
            Err(status) => Outcome {
                status,
                output: Vec::new(),
                events: Vec::new(),
                writes: Vec::new(),
            },
        }
    }

    /// Runs `f` as a transaction with empty input: contract functions can be
    /// called directly. Commits writes only if `f` returns normally.
    pub fn invoke<R>(&mut self, f: impl FnOnce() -> R) -> Result<R, Status> {
        self.run(Vec::new(), f).0
    }

    fn run<R>(&mut self, input: Vec<u8>, f: impl FnOnce() -> R) -> (Result<R, Status>, Frame) {
        install_panic_hook();
        let frame = Frame {
            input,
            sender: self.sender.clone(),
            context: self.context.clone(),
            state: self.state.clone(),
            writes: BTreeMap::new(),
            write_bytes: 0,
            events: Vec::new(),
            output: Vec::new(),
            limits: self.limits,
        };
        let previous = FRAME.with(|f| f.borrow_mut().replace(frame));
        assert!(
            previous.is_none(),
            "TestEnv runs cannot nest: a contract function called TestEnv"
        );
        IN_RUN.with(|r| r.set(true));
        let result = catch_unwind(AssertUnwindSafe(f));
        IN_RUN.with(|r| r.set(false));
        let frame = FRAME
            .with(|f| f.borrow_mut().take())
            .expect("the run's frame is still installed");
        let result = result.map_err(|payload| match payload.downcast::<Unwind>() {
            Ok(u) => match *u {
                Unwind::Abort(m) => Status::Reverted(m),
                Unwind::Trap(k) => Status::Trapped(k),
            },
            Err(_) => Status::Reverted(
                LAST_PANIC
                    .with(|p| p.borrow_mut().take())
                    .unwrap_or_else(|| "panicked".to_string()),
            ),
        });
        if result.is_ok() {
            for (k, v) in &frame.writes {
                match v {
                    Some(v) => self.state.insert(k.clone(), v.clone()),
                    None => self.state.remove(k),
                };
            }
        }
        (result, frame)
    }
}

/// One run in progress.
struct Frame {
    input: Vec<u8>,
    sender: Vec<u8>,
    context: Vec<u8>,
    state: BTreeMap<Vec<u8>, Vec<u8>>,
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    write_bytes: u64,
    events: Vec<Event>,
    output: Vec<u8>,
    limits: Limits,
}

/// How a host function ends a run early (carried by `resume_unwind`, which
/// skips the panic hook).
enum Unwind {
    Abort(String),
    Trap(TrapKind),
}

std::thread_local! {
    static FRAME: RefCell<Option<Frame>> = const { RefCell::new(None) };
    static IN_RUN: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Whether formatted panic messages are kept (the `panic-fmt` feature). If
/// not, the wasm build reverts with a placeholder instead, and so does
/// [`TestEnv`]: a native test sees exactly the message the contract gives.
pub const FORMATTED_PANICS_KEPT: bool = cfg!(feature = "panic-fmt");

/// Records panics inside runs in the wasm panic handler's format (and keeps
/// them off stderr); other panics go to the previous hook.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_RUN.with(Cell::get) {
                return previous(info);
            }
            // std passes a literal message (`fmt::Arguments::as_str` is
            // `Some`) as a `&'static str` payload and a formatted one as a
            // `String`: exactly the distinction the wasm panic handler makes.
            let payload = info.payload();
            let message = match payload.downcast_ref::<&str>() {
                Some(literal) => literal.to_string(),
                None if FORMATTED_PANICS_KEPT => payload
                    .downcast_ref::<String>()
                    .cloned()
                    .unwrap_or_default(),
                None => crate::msg::FORMATTED_PANIC_PLACEHOLDER.to_string(),
            };
            let text = match info.location() {
                Some(l) => std::format!(
                    "panicked at {}:{}:{}: {message}",
                    l.file(),
                    l.line(),
                    l.column()
                ),
                None => std::format!("panicked at : {message}"),
            };
            LAST_PANIC.with(|p| *p.borrow_mut() = Some(text));
        }));
    });
}

fn with_frame<R>(f: impl FnOnce(&mut Frame) -> Result<R, Unwind>) -> R {
    let r = FRAME.with(|cell| {
        let mut guard = cell.borrow_mut();
        let frame = guard.as_mut().expect(
            "a verity-sdk host function was called outside TestEnv::call or TestEnv::invoke",
        );
        f(frame)
    });
    match r {
        Ok(v) => v,
        Err(u) => resume_unwind(Box::new(u)),
    }
}

fn limit(len: usize, max: u32, kind: TrapKind) -> Result<(), Unwind> {
    if len > max as usize {
        Err(Unwind::Trap(kind))
    } else {
        Ok(())
    }
}

/// The native implementations behind [`crate::host`].
pub(crate) mod host {
    use super::*;

    pub(crate) fn input_len() -> usize {
        with_frame(|f| Ok(f.input.len()))
    }
    pub(crate) fn input_read(dst: &mut [u8]) {
        with_frame(|f| {
            dst.copy_from_slice(&f.input);
            Ok(())
        })
    }
    pub(crate) fn sender_len() -> usize {
        with_frame(|f| Ok(f.sender.len()))
    }
    pub(crate) fn sender_read(dst: &mut [u8]) {
        with_frame(|f| {
            dst.copy_from_slice(&f.sender);
            Ok(())
        })
    }
    pub(crate) fn context_len() -> usize {
        with_frame(|f| Ok(f.context.len()))
    }
    pub(crate) fn context_read(dst: &mut [u8]) {
        with_frame(|f| {
            dst.copy_from_slice(&f.context);
            Ok(())
        })
    }
    pub(crate) fn output_set(data: &[u8]) {
        with_frame(|f| {
            limit(
                data.len(),
                f.limits.max_output_bytes,
                TrapKind::OutputTooLong,
            )?;
            f.output = data.to_vec();
            Ok(())
        })
    }
    pub(crate) fn storage_read(key: &[u8], dst: &mut [u8]) -> Option<usize> {
        with_frame(|f| {
            limit(key.len(), f.limits.max_key_bytes, TrapKind::KeyTooLong)?;
            let value = match f.writes.get(key) {
                Some(w) => w.as_deref(),
                None => f.state.get(key).map(Vec::as_slice),
            };
            Ok(value.map(|v| {
                if v.len() <= dst.len() {
                    dst[..v.len()].copy_from_slice(v);
                }
                v.len()
            }))
        })
    }
    fn put(f: &mut Frame, key: &[u8], value: Option<&[u8]>) -> Result<(), Unwind> {
        let entry = |v: Option<usize>| key.len() as u64 + v.unwrap_or(0) as u64;
        let old = f
            .writes
            .get(key)
            .map_or(0, |v| entry(v.as_ref().map(Vec::len)));
        let total = f.write_bytes - old + entry(value.map(<[u8]>::len));
        if total > u64::from(f.limits.max_write_set_bytes) {
            return Err(Unwind::Trap(TrapKind::WriteSetTooLarge));
        }
        f.writes.insert(key.to_vec(), value.map(<[u8]>::to_vec));
        f.write_bytes = total;
        Ok(())
    }
    pub(crate) fn storage_write(key: &[u8], value: &[u8]) {
        with_frame(|f| {
            limit(
                value.len(),
                f.limits.max_value_bytes,
                TrapKind::ValueTooLong,
            )?;
            limit(key.len(), f.limits.max_key_bytes, TrapKind::KeyTooLong)?;
            put(f, key, Some(value))
        })
    }
    pub(crate) fn storage_remove(key: &[u8]) {
        with_frame(|f| {
            limit(key.len(), f.limits.max_key_bytes, TrapKind::KeyTooLong)?;
            put(f, key, None)
        })
    }
    pub(crate) fn event_emit(topic: &[u8], data: &[u8]) {
        with_frame(|f| {
            if f.events.len() >= f.limits.max_events as usize {
                return Err(Unwind::Trap(TrapKind::TooManyEvents));
            }
            limit(
                topic.len(),
                f.limits.max_topic_bytes,
                TrapKind::TopicTooLong,
            )?;
            limit(
                data.len(),
                f.limits.max_event_data_bytes,
                TrapKind::EventDataTooLong,
            )?;
            f.events.push(Event {
                topic: topic.to_vec(),
                data: data.to_vec(),
            });
            Ok(())
        })
    }
    pub(crate) fn abort(msg: &[u8]) -> ! {
        let keep = with_frame(|f| Ok(msg.len().min(f.limits.max_abort_message_bytes as usize)));
        let message = String::from_utf8_lossy(&msg[..keep]).into_owned();
        resume_unwind(Box::new(Unwind::Abort(message)))
    }
    pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
        use sha2::Digest;
        with_frame(|_| Ok(()));
        sha2::Sha256::digest(data).into()
    }
}
