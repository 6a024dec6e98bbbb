//! The global allocator: mimalloc, entered through its plain `malloc` family whenever the
//! requested alignment is one every mimalloc block already has.
//!
//! The `mimalloc` crate's allocator sends every request through `mi_malloc_aligned`. For
//! blocks over 1 KiB (and whenever the size class's free list is empty) that takes
//! mimalloc's generic aligned path, which over-allocates and aligns by hand: measured under
//! callgrind on `arbor sim --seeds 0..2 --nodes 5 --clients 5`, 15 % of the allocations
//! took it at ≈ 250 instructions each, against ≈ 30 for a plain `mi_malloc`. Every mimalloc
//! block is aligned to at least 8 bytes (the smallest size class is one machine word and
//! blocks of a class are laid out at whole-word strides), so requests aligned to 8 or less
//! go straight to `mi_malloc`; stricter alignments keep the aligned entry points.
//! `mi_free` accepts either kind of block.

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as ffi;

/// The alignment every block from `mi_malloc` / `mi_zalloc` / `mi_realloc` has.
const PLAIN_ALIGN: usize = std::mem::size_of::<usize>();

/// mimalloc, without the aligned detour for ordinary alignments.
pub struct Mimalloc;

// SAFETY (for every method): the pointers returned come from mimalloc's allocation
// functions with a size of `layout.size()` (or `new_size`) and an alignment of at least
// `layout.align()` — guaranteed by `mi_*_aligned` for any power of two, and by the plain
// functions for alignments up to `PLAIN_ALIGN` as argued above; `dealloc` and `realloc`
// only ever receive pointers this allocator returned, which `mi_free` / `mi_realloc*` accept.
unsafe impl GlobalAlloc for Mimalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= PLAIN_ALIGN {
            unsafe { ffi::mi_malloc(layout.size()) as *mut u8 }
        } else {
            unsafe { ffi::mi_malloc_aligned(layout.size(), layout.align()) as *mut u8 }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= PLAIN_ALIGN {
            unsafe { ffi::mi_zalloc(layout.size()) as *mut u8 }
        } else {
            unsafe { ffi::mi_zalloc_aligned(layout.size(), layout.align()) as *mut u8 }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        unsafe { ffi::mi_free(ptr as *mut c_void) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= PLAIN_ALIGN {
            unsafe { ffi::mi_realloc(ptr as *mut c_void, new_size) as *mut u8 }
        } else {
            unsafe {
                ffi::mi_realloc_aligned(ptr as *mut c_void, new_size, layout.align()) as *mut u8
            }
        }
    }
}

// mimalloc's option API (`mimalloc.h`), declared here because `libmimalloc-sys` exports it only
// with its `extended` feature; the symbols are in the library it already links. Only the
// simulator subcommand uses them.
#[cfg(feature = "sim")]
extern "C" {
    fn mi_option_get(option: std::ffi::c_int) -> std::ffi::c_long;
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

/// `mi_option_purge_delay` in both of mimalloc's option enums (v2 and v3): the delay, in ms,
/// before freed memory is returned to the OS; -1 never returns it.
#[cfg(feature = "sim")]
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

/// Keeps freed memory in the process instead of returning it to the OS after a delay, for
/// simulator sweeps: every seed builds and drops a whole world, and with purging on the
/// next seed faulted the same pages back in (with transparent huge pages, the kernel zeroes
/// 2 MiB per fault: 7 % of a 30-seed profile, ≈ 4,300 page faults per 100 seeds against ≈ 230
/// without purging; peak RSS unchanged). Not used by `serve`, whose idle memory should go
/// back. A `MIMALLOC_PURGE_DELAY` set in the environment wins.
#[cfg(feature = "sim")]
pub fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: plain calls into mimalloc's option table; any option index is accepted.
    unsafe {
        mi_option_set(MI_OPTION_PURGE_DELAY, -1);
        debug_assert_eq!(mi_option_get(MI_OPTION_PURGE_DELAY), -1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every alignment from 1 to 4 KiB and a spread of sizes (small classes, the 1 KiB
    /// boundary, large blocks): allocations come back aligned, zeroed when asked, keep
    /// their contents across growth and shrinkage, and free without complaint.
    #[test]
    fn blocks_are_aligned_zeroed_and_keep_contents() {
        let a = Mimalloc;
        let sizes = [
            1usize,
            3,
            8,
            9,
            16,
            24,
            40,
            100,
            1000,
            1024,
            1025,
            4096,
            70_000,
            1 << 20,
        ];
        for shift in 0..=12 {
            let align = 1usize << shift;
            for &size in &sizes {
                let layout = Layout::from_size_align(size, align).expect("valid layout");
                unsafe {
                    let p = a.alloc(layout);
                    assert!(!p.is_null(), "alloc {size}/{align}");
                    assert_eq!(p as usize % align, 0, "alloc {size}/{align} misaligned");
                    std::ptr::write_bytes(p, 0xA5, size);
                    let grown = a.realloc(p, layout, size * 3);
                    assert_eq!(
                        grown as usize % align,
                        0,
                        "realloc {size}/{align} misaligned"
                    );
                    for i in 0..size {
                        assert_eq!(*grown.add(i), 0xA5, "realloc {size}/{align} lost byte {i}");
                    }
                    let big = Layout::from_size_align(size * 3, align).expect("valid layout");
                    let shrunk = a.realloc(grown, big, size.div_ceil(2));
                    assert_eq!(
                        shrunk as usize % align,
                        0,
                        "shrink {size}/{align} misaligned"
                    );
                    assert_eq!(*shrunk, 0xA5, "shrink {size}/{align} lost byte 0");
                    a.dealloc(
                        shrunk,
                        Layout::from_size_align(size.div_ceil(2), align).expect("valid"),
                    );

                    let z = a.alloc_zeroed(layout);
                    assert_eq!(z as usize % align, 0, "zalloc {size}/{align} misaligned");
                    assert!(
                        (0..size).all(|i| *z.add(i) == 0),
                        "zalloc {size}/{align} not zeroed"
                    );
                    a.dealloc(z, layout);
                }
            }
        }
    }

    /// The option index is right: in the bundled mimalloc (v3, pinned by Cargo.lock) index 15
    /// holds `purge_delay`, whose default is 1000 ms (no neighbouring option has that
    /// default), and `keep_freed_memory` turns it to -1. An upgrade that moves the option or
    /// changes its default fails here instead of silently setting another option.
    #[cfg(feature = "sim")]
    #[test]
    fn keep_freed_memory_sets_the_purge_delay_option() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return; // the environment decides; nothing of ours to check
        }
        // SAFETY: reads mimalloc's option table.
        let before = unsafe { mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(
            before, 1000,
            "option {MI_OPTION_PURGE_DELAY} is not mimalloc's purge_delay at its default"
        );
        keep_freed_memory();
        // SAFETY: as above.
        assert_eq!(unsafe { mi_option_get(MI_OPTION_PURGE_DELAY) }, -1);
    }
}
