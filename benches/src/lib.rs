//! Criterion benchmarks (`benches/benches/`) and measurement programs (`src/bin/`) for
//! Arbor. Benchmarks report numbers; they never assert on time.
