//! The stack probe of the wasm boundary: a full stack never cuts a change short.
//!
//! A wasm engine traps on a full stack only where a function is entered: it
//! compares the stack pointer with the JavaScript stack limit (JS cannot run
//! out of stack any other way inside a call: the limiter module imports
//! nothing). So a change that starts with more stack left than its deepest call
//! can use runs to its end. Every export that changes anything calls [`reach`]
//! first. `reach`'s frame is `REACH` bytes, and for a frame that large V8
//! checks, on entry, that the whole frame fits above the limit (baseline and
//! optimizing tier alike; measured on V8 only, other engines are not tested): so `reach`
//! traps, with nothing changed yet, unless `REACH` bytes are left. The deepest
//! path of any export without the probe, measured with
//! `tests/bench/stack-depth.mjs`, is about 2 KB in either tier; `REACH` is 8 KB.
//!
//! The frame's size comes from values that would be live across a call, in a
//! branch that never runs: an engine sizes a frame for the whole function,
//! branch taken or not. So the probe costs a call, not a loop. The values are
//! written as one nested expression, `c ^ (c ^ (... ^ touch()))`, which stays
//! on the wasm operand stack: the same few bytes repeated, which compress to
//! almost nothing.

use core::ptr::{addr_of, addr_of_mut, read_volatile};

// `REACH`: the values live across the call in the never-taken branch, 8
// bytes each: 1,024 of them (`hold!` below), 8 KB.

/// Where the values would come from.
static mut CELL: u64 = 0;
/// Never set: read so that no compiler can drop the branch that holds the values.
static mut ARMED: u32 = 0;

/// A read of the cell (volatile: each one stays, so each is its own value).
#[inline(always)]
fn cell() -> u64 {
    // SAFETY: wasm32 without threads: one thread, and no export re-enters.
    unsafe { read_volatile(addr_of!(CELL)) }
}

/// Never runs (see `reach`): a call that no compiler inlines (the allocator,
/// called from everywhere), so that the values are live across it.
fn touch() -> u64 {
    // SAFETY: a valid layout; the block would leak, but this never runs.
    unsafe { alloc::alloc::alloc(core::alloc::Layout::new::<u64>()) as usize as u64 }
}

/// Sixteen reads of the cell per token, each kept until the call under all of
/// them has returned.
macro_rules! hold {
    () => { touch() };
    ($head:tt $($rest:tt)*) => {
        cell() ^ (cell() ^ (cell() ^ (cell() ^ (cell() ^ (cell() ^ (cell() ^ (cell() ^ (
        cell() ^ (cell() ^ (cell() ^ (cell() ^ (cell() ^ (cell() ^ (cell() ^ (cell() ^ hold!($($rest)*)
        )))))))))))))))
    };
}

/// Traps (a RangeError in JS) unless `REACH` bytes of native stack are left.
#[inline(never)]
pub(crate) fn reach() {
    // SAFETY: as in `cell`.
    if unsafe { read_volatile(addr_of!(ARMED)) } == 0 {
        return;
    }
    // 64 tokens of 16: 1,024 values.
    let folded = hold!(x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x
                       x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x);
    // SAFETY: as in `cell`.
    unsafe { *addr_of_mut!(CELL) = folded };
}
