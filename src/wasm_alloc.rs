//! The allocator and panic handler of the `no_std` wasm build (`wasm-core`
//! without `std`).
//!
//! Why not dlmalloc: a trap (the JS stack running out is enough) can stop wasm
//! code at any function call. dlmalloc updates its bins across several calls, so
//! a trap inside it could leave the heap broken for every limiter. Here `alloc`
//! and `dealloc` call nothing (`memory.grow` is an instruction), so a trap can
//! only hit them at their entry, before they touch anything.
//!
//! Blocks come in power-of-two size classes from 16 bytes up; a freed block goes
//! on its class's free list and is reused by the next allocation of that class,
//! so creating and disposing limiters in a loop leaves memory flat. Up to half
//! of a block may be unused: the sizes here are small (a few windows, a log).

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;

/// 16 bytes to 2 GiB: the largest block a 32-bit address space can hold.
const CLASSES: usize = 28;
const MIN_SHIFT: u32 = 4;
const PAGE: usize = 65_536;

struct Heap {
    /// Head of each class's free list (0: empty); a free block holds the next.
    free: [usize; CLASSES],
    /// The untouched memory between `next` and `end`.
    next: usize,
    end: usize,
}

/// Size classes: 16 bytes << class.
pub struct ClassAlloc(UnsafeCell<Heap>);

// SAFETY: wasm32-unknown-unknown without threads has one thread.
unsafe impl Sync for ClassAlloc {}

fn class_of(layout: &Layout) -> Option<usize> {
    let size = layout.size().max(layout.align()).max(1 << MIN_SHIFT);
    let class = (usize::BITS - (size - 1).leading_zeros()).saturating_sub(MIN_SHIFT) as usize;
    (class < CLASSES).then_some(class)
}

unsafe impl GlobalAlloc for ClassAlloc {
    #[inline(never)]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let heap = &mut *self.0.get();
        let Some(class) = class_of(&layout) else { return core::ptr::null_mut() };
        let head = heap.free[class];
        if head != 0 {
            heap.free[class] = *(head as *const usize);
            return head as *mut u8;
        }
        let size = 1usize << (class as u32 + MIN_SHIFT);
        // Blocks are aligned to their size (sizes are powers of two, so the
        // largest alignment a layout of that size can ask for).
        let mut start = (heap.next + size - 1) & !(size - 1);
        if start < heap.next || start > heap.end || heap.end - start < size {
            let memory_end = core::arch::wasm32::memory_size(0) * PAGE;
            if heap.end != memory_end {
                // The first allocation: the heap starts past the memory the module came with.
                heap.next = memory_end;
                heap.end = memory_end;
            }
            start = (heap.next + size - 1) & !(size - 1);
            let Some(pages) = start.checked_add(size).map(|end| (end - heap.end).div_ceil(PAGE)) else {
                return core::ptr::null_mut();
            };
            if core::arch::wasm32::memory_grow(0, pages) == usize::MAX {
                return core::ptr::null_mut();
            }
            heap.end += pages * PAGE;
        }
        heap.next = start + size;
        start as *mut u8
    }

    #[inline(never)]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let heap = &mut *self.0.get();
        if let Some(class) = class_of(&layout) {
            *(ptr as *mut usize) = heap.free[class];
            heap.free[class] = ptr as usize;
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        if class_of(&layout) == class_of(&new_layout) {
            return ptr;
        }
        // A trap between these steps leaks the new block; the caller still owns the old one.
        let new = self.alloc(new_layout);
        if !new.is_null() {
            core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
            self.dealloc(ptr, layout);
        }
        new
    }
}

#[global_allocator]
static ALLOC: ClassAlloc = ClassAlloc(UnsafeCell::new(Heap { free: [0; CLASSES], next: 0, end: 0 }));

/// A panic is a bug in the core; it traps without formatting a message (no
/// `core::fmt` in the wasm); the boundary marks the limiter it was changing as
/// broken (see `wasm.rs`).
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}
