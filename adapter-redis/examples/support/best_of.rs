//! The timing loop the measuring examples share.

use std::time::Instant;

/// Nanoseconds per call of each of two paths: five rounds of `n` calls each, the paths
/// interleaved, the best round of each.
pub(crate) fn best_of_five(n: usize, paths: [&dyn Fn(); 2]) -> (f64, f64) {
    let mut best = [f64::MAX; 2];
    for _ in 0..5 {
        for (path, best) in paths.iter().zip(best.iter_mut()) {
            let start = Instant::now();
            for _ in 0..n {
                path();
            }
            *best = best.min(start.elapsed().as_nanos() as f64 / n as f64);
        }
    }
    (best[0], best[1])
}
