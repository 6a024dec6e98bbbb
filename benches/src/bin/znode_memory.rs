//! Measures memory per znode: builds `/app/svc-NNNNN/key-NNNNN` with 32-byte values
//! (1,000 services × 1,000 keys = 1M leaves by default) and reports
//! - heap bytes requested per znode (a counting global allocator: exact, but blind to the
//!   allocator's own per-chunk overhead), and
//! - resident-set growth per znode (from /proc/self/status: all-in, what the machine pays).
//!
//! Usage: `cargo run --release -p arbor-benches --bin znode_memory [SERVICES [KEYS]]`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use arbor_benches::Fixture;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY (the one unsafe block of this program): forwards every call to the system
// allocator unchanged and only counts the bytes.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

#[allow(clippy::print_stdout)] // a measurement program's output is its report
fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<u32>().expect("a count"));
    let services = args.next().unwrap_or(1000);
    let keys = args.next().unwrap_or(1000);

    let mut fx = Fixture::new();
    let heap_before = LIVE.load(Ordering::Relaxed);
    let rss_before = rss_bytes();
    let nodes_before = fx.tree.node_count();
    fx.populate(services, keys, 32);
    let nodes = fx.tree.node_count() - nodes_before;
    let heap = LIVE.load(Ordering::Relaxed) - heap_before;
    let rss = rss_bytes().saturating_sub(rss_before);

    println!("znodes added:          {nodes}");
    println!("heap requested/znode:  {:.1} B", heap as f64 / nodes as f64);
    println!("RSS growth/znode:      {:.1} B", rss as f64 / nodes as f64);
    println!(
        "{{\"znodes\":{nodes},\"heap_bytes_per_znode\":{:.1},\"rss_bytes_per_znode\":{:.1},\"digest\":\"{:016x}\"}}",
        heap as f64 / nodes as f64,
        rss as f64 / nodes as f64,
        fx.tree.digest()
    );
}
