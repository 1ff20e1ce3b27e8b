//! ns per decision of the core, natively: `cargo bench --bench core`.
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use tollgate::{Decision, Limiter, WindowSpec};

const MIN: u64 = 60_000;

fn decisions(c: &mut Criterion) {
    // Admitted: Hex's two windows with limits high enough never to refuse, the
    // log kept short by a clock that moves 1 ms per call.
    c.bench_function("try_acquire, two sliding windows, admitted", |b| {
        let mut lim = Limiter::new(&[WindowSpec::sliding(1_000_000, MIN), WindowSpec::sliding(10_000_000, 60 * MIN)]).unwrap();
        let mut now = 0;
        b.iter(|| {
            now += 1;
            black_box(lim.try_acquire(black_box(now), 1).unwrap())
        })
    });
    // Refused: Hex's quota spent; each call computes the exact come-back time.
    c.bench_function("try_acquire, two sliding windows, refused with the exact wait", |b| {
        let mut lim = Limiter::new(&[WindowSpec::sliding(20, MIN), WindowSpec::sliding(60, 60 * MIN)]).unwrap();
        for _ in 0..20 {
            lim.try_acquire(0, 1).unwrap();
        }
        b.iter(|| {
            let d = lim.try_acquire(black_box(30_000), 1).unwrap();
            debug_assert!(matches!(d, Decision::Wait { .. }));
            black_box(d)
        })
    });
    c.bench_function("try_acquire, fixed minute AND sliding hour (SecureCodingHub), admitted", |b| {
        let mut lim = Limiter::new(&[WindowSpec::fixed(1_000_000, MIN, 0), WindowSpec::sliding(10_000_000, 60 * MIN)]).unwrap();
        let mut now = 0;
        b.iter(|| {
            now += 1;
            black_box(lim.try_acquire(black_box(now), 1).unwrap())
        })
    });
}

criterion_group!(benches, decisions);
criterion_main!(benches);
