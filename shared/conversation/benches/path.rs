//! Criterion: the per-frame path, both directions, 1 and 100 interleaved
//! streams. `cargo bench -p voxdial-conversation --bench path`.
#![allow(missing_docs, clippy::disallowed_methods)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use voxdial_conversation::bench_support::{Direction, Fixture};

fn path(c: &mut Criterion) {
    let mut g = c.benchmark_group("path");
    for dir in [Direction::Inbound, Direction::Outbound] {
        for streams in [1usize, 100] {
            let mut f = Fixture::new(dir, streams, 40);
            g.throughput(Throughput::Elements(1));
            g.bench_function(format!("{dir:?}/{streams}"), |b| b.iter(|| f.step()));
        }
    }
    g.finish();
}

criterion_group!(benches, path);
criterion_main!(benches);
