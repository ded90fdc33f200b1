//! Sums over slices with several running sums: a single sum in order is a
//! chain of dependent additions the compiler may not reorder (floating-point
//! addition is not associative), one element per add latency.

/// `Σ v`, over sixteen running sums.
pub fn sum(v: &[f32]) -> f32 {
    let mut lanes = [0f32; 16];
    let chunks = v.chunks_exact(16);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        lanes.iter_mut().zip(c).for_each(|(l, x)| *l += x);
    }
    lanes.iter().sum::<f32>() + tail
}

/// `Σ v²` in f64, over eight running sums.
/// Values per block of [`sum_of_squares`]: a fixed size, not one block per
/// thread, so that every thread count sums the same blocks in the same
/// order and gives the same bits.
const SQUARES_BLOCK: usize = 1 << 15;

/// `Σ v²` in f64: blocks of [`SQUARES_BLOCK`] values shared between
/// threads, their sums added in order (a large weight's gradient norm, taken
/// every step, was a serial pass on the training thread).
pub fn sum_of_squares(v: &[f32]) -> f64 {
    if v.len() <= SQUARES_BLOCK {
        return block_sum_of_squares(v);
    }
    let blocks: Vec<&[f32]> = v.chunks(SQUARES_BLOCK).collect();
    super::workers::map(blocks, block_sum_of_squares)
        .into_iter()
        .sum()
}

fn block_sum_of_squares(v: &[f32]) -> f64 {
    let mut lanes = [0f64; 8];
    let chunks = v.chunks_exact(8);
    let tail: f64 = chunks.remainder().iter().map(|x| (*x as f64).powi(2)).sum();
    for c in chunks {
        lanes
            .iter_mut()
            .zip(c)
            .for_each(|(l, x)| *l += (*x as f64) * (*x as f64));
    }
    lanes.iter().sum::<f64>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_match_sums_in_order() {
        for n in [0, 1, 7, 16, 17, 100, 1001] {
            let v: Vec<f32> = (0..n)
                .map(|i| ((i * 13 % 29) as f32 - 14.0) / 8.0)
                .collect();
            let want: f64 = v.iter().map(|x| *x as f64).sum();
            assert!((sum(&v) as f64 - want).abs() < 1e-4, "sum of {n}");
            let want: f64 = v.iter().map(|x| (*x as f64).powi(2)).sum();
            assert!((sum_of_squares(&v) - want).abs() < 1e-9, "squares of {n}");
        }
    }

    /// Past one block, the blocks' sums in order, whichever thread took
    /// each: the same bits for any thread count.
    #[test]
    fn large_sums_of_squares_add_fixed_blocks_in_order() {
        let v: Vec<f32> = (0..3 * SQUARES_BLOCK + 123)
            .map(|i| ((i * 13 % 29) as f32 - 14.0) / 8.0)
            .collect();
        let blocks: f64 = v.chunks(SQUARES_BLOCK).map(block_sum_of_squares).sum();
        assert_eq!(sum_of_squares(&v).to_bits(), blocks.to_bits());
        let exact: f64 = v.iter().map(|x| (*x as f64).powi(2)).sum();
        assert!((sum_of_squares(&v) - exact).abs() < 1e-6 * exact);
    }
}
