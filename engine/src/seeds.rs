//! Every random stream of a run, derived from the file's seed and a
//! purpose. One table, so that no two purposes can share a stream by
//! accident, and a resumed run can rebuild any stream from its position.

/// Initial weights.
pub const INIT: u64 = 1;
/// Dropout masks within one forward pass (the pass's own seed mixed in).
pub const DROPOUT: u64 = 2;
/// The held-out splits' choice of samples.
pub const SPLITS: u64 = 0x5EED;
/// Augmentation, mixed with the epoch and then the batch.
pub const AUGMENT: u64 = 0xA5A5;
/// Text samples after an epoch, mixed with the epoch.
pub const SAMPLE: u64 = 0x5A11;
/// Training steps' forward passes, mixed with the global step.
pub const TRAIN_STEP: u64 = 0x7EA1;
/// Fine-tuning steps after compression, mixed with the fine-tune step.
pub const FINETUNE_STEP: u64 = 0xF17E;

/// Mixes a seed with a counter (SplitMix64), so that nearby epochs get
/// unrelated streams.
pub fn mix(seed: u64, n: u64) -> u64 {
    let mut z = seed.wrapping_add(n.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The seed of one forward pass in a stream of steps: step `n` of
/// `purpose` under the run's `seed`.
pub fn step(seed: u64, purpose: u64, n: u64) -> u64 {
    mix(mix(seed, purpose), n)
}
