//! # tollgate: multi-window client-side rate limiting with exact waits
//!
//! APIs state their quotas in several windows at once (Hex: 20 run triggers a
//! minute AND 60 an hour; Hexagraph: 30 a minute AND 1,000 a day). A client
//! that must never draw a 429 has to admit a request only when *every* window
//! allows it, and, when one does not, know to the millisecond when to come back.
//!
//! This crate is the decision core. It is `no_std` + `alloc`, reads no clock and
//! owns no random source: every method takes the time as an argument, in
//! **integer milliseconds since the Unix epoch** (`*_ms`). The JS package wraps
//! it in a `Limiter` class with timers and a rate-limited `fetch`.
//!
//! ```
//! use tollgate::{Decision, Limiter, WindowSpec};
//! const MIN: u64 = 60_000;
//! let mut hexagraph = Limiter::new(&[WindowSpec::sliding(30, MIN), WindowSpec::sliding(1_000, 1_440 * MIN)])?;
//! let now = 1_795_441_320_000; // 2026-11-23T13:42:00Z
//! match hexagraph.try_acquire(now, 1)? {
//!     Decision::Admit(permit) => { /* send; then */ hexagraph.complete(permit, now + 120)?; }
//!     Decision::Wait { retry_at_ms } => { /* come back at retry_at_ms, not before */ let _ = retry_at_ms; }
//! }
//! # Ok::<(), tollgate::Error>(())
//! ```
//!
//! ## Window kinds
//!
//! * [`Kind::Sliding`] (the default): never more than `limit` in any interval
//!   of `per_ms`. A unit used at `t` is free again at exactly `t + per_ms`.
//!   It is the default because it is safe against every way a server may read
//!   "N per P": a sliding log, fixed buckets of any alignment (each bucket is an
//!   interval of length P), and a token bucket of capacity N refilling N per P
//!   (any interval of length `d` then holds at most `N * ceil(d / P) <= N + N d / P`).
//! * [`Kind::Fixed`]: up to `limit` in each bucket aligned to the Unix epoch
//!   plus `offset_ms`, so buckets of a minute, hour or day are UTC calendar
//!   ones (SecureCodingHub's per-minute window). It may spend the whole limit
//!   right after each boundary; use it only for servers that count that way.
//! * [`Kind::Bucket`]: a token bucket of capacity `limit` refilled at `limit`
//!   per `per_ms`, starting full, in exact integer GCRA; for servers that
//!   declare one.
//!
//! ### Why a token bucket is not the default
//!
//! A bucket of capacity N refilling N per P admits N at once and then one more
//! every P / N, so the first interval of length P holds N + (N - 1) = 2N - 1.
//! Hex's trigger quota as buckets (the hand-written limiter in Hex's own
//! documentation does exactly this): 20 at 0 s, then one every 3 s, 39 in the
//! first minute; 60 at once, then one a minute, 119 in the first hour. A server
//! that counts 20 per minute strictly refuses 19 of the first 39, and 59 of the
//! first 119 in the hour. A sliding window of 20 per minute AND 60 per hour
//! admits exactly 20 in any minute and 60 in any hour.
//!
//! ## All or nothing, exact waits
//!
//! A [`Limiter`] admits a request only when every window and the pause gate
//! allow it; when one refuses, no window is charged. A refusal carries the
//! earliest time at which all of them allow it: each window admits from its own
//! earliest time on, so the latest of those is exact, never early and never
//! later than necessary (the property tests check both).
//!
//! ## Waiters
//!
//! [`Limiter::enqueue`] queues a waiter (priority first, then first come, first
//! served; O(1) insert and O(log n) cancel per priority in use). [`Limiter::admit_next`] lets the head in
//! when it fits, and [`Limiter::next_wake_ms`] says exactly when that will be, so
//! a caller needs one timer per limiter however many wait.
//!
//! ## Server feedback
//!
//! * [`Limiter::pause_until`]: nothing before a time (Retry-After).
//! * [`Limiter::reconcile`]: the server counts more than we do (the quota is
//!   shared): adopt its count until its reset.
//! * [`Limiter::complete`]: count an admitted request at the time its response
//!   arrived, the latest a server can have seen it, so network latency cannot
//!   squeeze more than the limit into a window at the server.
//!
//! ## Permits are handed back once
//!
//! The limiter holds every [`Permit`] it issued until it comes back, by
//! [`Limiter::complete`] / [`Limiter::complete_at`] (the response arrived) or
//! [`Limiter::release`] (the request was never sent: its units are given back).
//! A permit it does not hold (never issued, already back, an absurd cost) is
//! [`Error::PermitNotHeld`]; a completion time past the clock plus
//! [`COMPLETION_TOLERANCE_MS`] is [`Error::CompletionAhead`]. Every failed call
//! changes nothing, so it can be retried. Memory stays bounded by one period's
//! traffic: permits older than the longest period are pooled by units.
//!
//! ## Bounds, and no panics
//!
//! Times are at most [`MAX_TIME_MS`] (2^53 - 1, exact in a JS number), periods
//! at most [`MAX_PERIOD_MS`] (2^40 ms), limits at most [`MAX_LIMIT`]. Every
//! count and time is checked or saturating: no argument makes the core panic
//! or overflow, in debug or release. A wait that would end past `MAX_TIME_MS`
//! is `u64::MAX`, like a wait for a completion. Counts never exceed a window's
//! limit (units beyond it never change a decision and are dropped).
//!
//! ## Errors as numbers
//!
//! [`Error::code`] is a stable number per variant, with [`Error::window`],
//! [`Error::value`], [`Error::bound`] and [`Error::detail`] for what a message
//! needs, so a boundary without `core::fmt` can build messages on its side.
//! The decision path never formats a string.
//!
//! ## Time going backwards
//!
//! The limiter keeps the latest time it has seen. An earlier `now` is read as
//! that latest time: a clock that jumps back never frees a slot; the limiter
//! waits for the clock to catch up instead.
//!
//! ## Listening to the server, and retrying
//!
//! [`headers::parse_feedback`] reads what a response says about the server's
//! limits (Retry-After in all its forms, `X-RateLimit-*`, the IETF `RateLimit`
//! fields, `Date` for the server's clock) into plain numbers on the client's
//! clock; malformed values are ignored, never an error, a negative or an
//! unbounded time. [`retry::decide`] says whether and when to retry a failed
//! attempt: Retry-After first, else exponential backoff with full jitter, the
//! method's idempotency, a total time and a shared [`retry::RetryBudget`].
//!
//! ## Snapshots
//!
//! [`Limiter::snapshot_at`] and [`Limiter::restore`] turn the state into plain
//! data (serde with the default `serde` feature), versioned; requests in flight
//! are saved so that a restored limiter counts them until it is first used;
//! restore checks every field. See [`snapshot`] for the form.
//!
//! ## Features
//!
//! * `std` (default): implements `std::error::Error`.
//! * `serde` (default): `Serialize`/`Deserialize` for [`Snapshot`],
//!   [`WindowSpec`] and the header feedback. Without it (`default-features =
//!   false`) the crate is `no_std` + `alloc` with no dependency at all.
//! * `wasm-core`, `wasm-feedback`: the two wasm modules of the JS package
//!   (plain exports, no wasm-bindgen; built without `std`).
#![no_std]
// Only the wasm boundaries and their allocator (`wasm-core`, `wasm-feedback`) may use `unsafe`.
#![deny(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod bucket;
mod error;
mod fixed;
mod held;
pub mod headers;
mod limiter;
mod policy;
mod queue;
pub mod retry;
mod sliding;
pub mod snapshot;
mod time;
mod window;

#[cfg(feature = "wasm-core")]
#[allow(unsafe_code)]
mod wasm;
#[cfg(all(any(feature = "wasm-core", feature = "wasm-feedback"), not(feature = "std"), target_arch = "wasm32"))]
#[allow(unsafe_code)]
mod wasm_alloc;
#[cfg(feature = "wasm-core")]
#[allow(unsafe_code)]
mod wasm_probe;
#[cfg(feature = "wasm-feedback")]
#[allow(unsafe_code)]
mod wasm_feedback;

pub use error::{Error, TIME_ARGUMENTS};
pub use limiter::{Decision, Limiter, Options};
pub use policy::Permit;
pub use queue::WaiterId;
pub use snapshot::{Snapshot, SNAPSHOT_VERSION};
pub use time::{ms_from_f64, whole_from_f64, COMPLETION_TOLERANCE_MS, MAX_LIMIT, MAX_PERIOD_MS, MAX_PLAN, MAX_TIME_MS};
pub use window::{Kind, WindowSpec};
