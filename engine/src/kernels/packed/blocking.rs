//! How the packed product cuts its operands, sized from the caches this
//! CPU reports rather than from the one machine it was first tuned on.
//!
//! The loops are BLIS's (see the module above): a panel of the right-hand
//! side, `kc x NR`, is read once per strip of the left-hand side, so it
//! should live in L1; a block of the left-hand side, `mc x kc`, is read
//! once per panel, so it should live in L2; a block of the right-hand
//! side, `kc x nc`, is read once per block of rows, so it should live in
//! the thread's share of L3.

use std::fmt;
use std::sync::OnceLock;

use super::{MR, NR};

/// One level of data cache as a thread sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cache {
    pub bytes: usize,
    /// Logical processors that share it, as CPUID counts them (at most
    /// this process's threads: siblings we do not run on take no share).
    pub shared_by: usize,
}

impl Cache {
    /// What one of `threads` working threads may count on.
    fn share(self, threads: usize) -> usize {
        self.bytes / self.shared_by.clamp(1, threads.max(1))
    }
}

/// The data caches the blocks are sized for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caches {
    pub l1d: Cache,
    pub l2: Cache,
    pub l3: Option<Cache>,
}

impl Caches {
    /// What a CPU that reports nothing is assumed to have: the smallest
    /// L1 and L2 of any AVX-512 core (Skylake-SP's L1, Ice Lake client's
    /// L2 is larger), so blocks err towards fitting.
    pub const ASSUMED: Caches = Caches {
        l1d: Cache {
            bytes: 32 << 10,
            shared_by: 1,
        },
        l2: Cache {
            bytes: 1 << 20,
            shared_by: 1,
        },
        l3: None,
    };

    /// The caches CPUID reports (leaf 4 on Intel, 0x8000_001D on AMD),
    /// or [`Caches::ASSUMED`] where a level is missing (some hypervisors
    /// hide the leaf).
    pub fn of_this_cpu() -> Caches {
        let reported = reported();
        let level = |n: u8| reported.iter().find(|(l, _)| *l == n).map(|(_, c)| *c);
        Caches {
            l1d: level(1).unwrap_or(Self::ASSUMED.l1d),
            l2: level(2).unwrap_or(Self::ASSUMED.l2),
            l3: level(3),
        }
    }
}

/// Data and unified caches by level.
#[cfg(target_arch = "x86_64")]
fn reported() -> Vec<(u8, Cache)> {
    use raw_cpuid::{CacheType, CpuId};
    let Some(caches) = CpuId::new().get_cache_parameters() else {
        return Vec::new();
    };
    caches
        .filter(|c| matches!(c.cache_type(), CacheType::Data | CacheType::Unified))
        .map(|c| {
            let bytes = c.associativity()
                * c.physical_line_partitions()
                * c.coherency_line_size()
                * c.sets();
            let shared_by = c.max_cores_for_cache();
            (c.level(), Cache { bytes, shared_by })
        })
        .collect()
}

#[cfg(not(target_arch = "x86_64"))]
fn reported() -> Vec<(u8, Cache)> {
    Vec::new()
}

/// The block sizes of one product: depth `kc`, rows `mc`, columns `nc`
/// (the largest of each; an operand is cut into equal blocks no larger).
/// Built by [`Blocking::new`], so none is zero and `nc` is whole panels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blocking {
    kc: usize,
    mc: usize,
    nc: usize,
}

/// The ranges each size is held to, whatever the caches report: a depth
/// below 64 spends more on loading and storing the result than on the
/// sums, and rows past 960 or columns past 8192 stop paying back their
/// packing buffers.
const KC_RANGE: (usize, usize) = (64, 512);
const MC_RANGE: (usize, usize) = (MR, 960);
const NC_RANGE: (usize, usize) = (8 * NR, 8192);

impl Blocking {
    /// Blocks of at most `kc` deep, `mc` rows and `nc` columns, `nc`
    /// rounded up to whole panels (a packed right-hand side is laid out
    /// panel by panel; a block ending inside one would overrun it).
    pub fn new(kc: usize, mc: usize, nc: usize) -> Blocking {
        Blocking {
            kc: kc.max(1),
            mc: mc.max(1),
            nc: nc.max(1).next_multiple_of(NR),
        }
    }

    /// Sizes for `caches` shared by `threads` working threads.
    ///
    /// - `kc`: the panel (`kc x NR` values) fills the thread's L1; the
    ///   strip streamed past it is broadcast a value at a time, which the
    ///   hardware prefetcher keeps coming from L2. On a Zen 4 core the
    ///   MLP's 64x784x128 product ran within 2% of itself at `kc` 128,
    ///   192, 256 and 384: the depth is not where these shapes lose.
    /// - `mc`: the left-hand block (`mc x kc`) fills half of the L2,
    ///   leaving the other half to the panels streaming through and the
    ///   result. On a Skylake-SP core (1 MiB L2) that is 504 rows at `kc`
    ///   256; BLIS's hand-set sizes there are 480 rows at 384.
    /// - `nc`: the right-hand block (`kc x nc`) fills half of the
    ///   thread's share of L3; without an L3, four times the L2.
    pub fn for_caches(caches: &Caches, threads: usize) -> Blocking {
        let bytes = std::mem::size_of::<f32>();
        let kc = round_down(caches.l1d.share(threads) / (NR * bytes), 16, KC_RANGE);
        let mc = round_down(caches.l2.share(threads) / 2 / (kc * bytes), MR, MC_RANGE);
        let outer = match caches.l3 {
            Some(l3) => l3.share(threads) / 2,
            None => 4 * caches.l2.share(threads),
        };
        let nc = round_down(outer / (kc * bytes), NR, NC_RANGE);
        Blocking::new(kc, mc, nc)
    }

    /// The sizes for this CPU and this process's threads, read once.
    pub fn of_this_cpu() -> Blocking {
        static BLOCKING: OnceLock<Blocking> = OnceLock::new();
        *BLOCKING.get_or_init(|| {
            let threads = crate::kernels::matmul::cores();
            Blocking::for_caches(&Caches::of_this_cpu(), threads)
        })
    }

    /// `k` cut into equal blocks of at most `kc`: 784 is four blocks of
    /// 196, not three of 256 and one of 16.
    pub(super) fn depth(&self, k: usize) -> usize {
        equal_cut(k, self.kc)
    }

    /// The blocks a product with a `k x n` right-hand side runs, in the
    /// order a packed right-hand side stores them: column blocks, depth
    /// blocks within each. A block adds to the result (`load`) when `acc`
    /// asks it to or an earlier depth block has written there.
    pub(super) fn blocks(&self, k: usize, n: usize, acc: bool) -> impl Iterator<Item = Block> {
        let (depth, most) = (self.depth(k), self.nc);
        (0..n).step_by(most).flat_map(move |jc| {
            (0..k).step_by(depth).map(move |pc| Block {
                pc,
                kc: depth.min(k - pc),
                jc,
                nc: most.min(n - jc),
                load: acc || pc > 0,
            })
        })
    }

    /// `m` cut into equal blocks of rows of at most `mc`: 512 rows under
    /// `mc` 504 are two blocks of 256, not one of 504 and one of 8.
    pub(super) fn rows(&self, m: usize) -> usize {
        equal_cut(m, self.mc)
    }
}

/// One depth block of a product against one block of columns:
/// `a[.., pc..pc + kc]` times `b[pc..pc + kc, jc..jc + nc]`, added to the
/// result when `load`, else written over it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Block {
    pub pc: usize,
    pub kc: usize,
    pub jc: usize,
    pub nc: usize,
    pub load: bool,
}

impl Block {
    /// Values its packed right-hand side takes: whole panels of `NR`.
    pub(super) fn packed_len(&self) -> usize {
        self.nc.div_ceil(NR) * self.kc * NR
    }
}

impl fmt::Display for Blocking {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Blocking { kc, mc, nc } = self;
        write!(f, "kc {kc}, mc {mc}, nc {nc}")
    }
}

impl fmt::Display for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.bytes {
            b if b >= 1 << 20 && b % (1 << 20) == 0 => write!(f, "{} MiB", b >> 20)?,
            b => write!(f, "{} KiB", b >> 10)?,
        }
        match self.shared_by {
            1 => Ok(()),
            n => write!(f, " shared by {n}"),
        }
    }
}

impl fmt::Display for Caches {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "L1d {}, L2 {}", self.l1d, self.l2)?;
        match self.l3 {
            Some(l3) => write!(f, ", L3 {l3}"),
            None => write!(f, ", no L3"),
        }
    }
}

/// The size of the equal blocks, each at most `most`, that `n` is cut into.
fn equal_cut(n: usize, most: usize) -> usize {
    n.div_ceil(n.div_ceil(most).max(1)).max(1)
}

/// `n` rounded down to a multiple of `step`, held to `lo..=hi`.
fn round_down(n: usize, step: usize, (lo, hi): (usize, usize)) -> usize {
    (n / step * step).clamp(lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caches(l1d: usize, l2: usize, l3: Option<(usize, usize)>) -> Caches {
        let private = |bytes| Cache {
            bytes,
            shared_by: 1,
        };
        Caches {
            l1d: private(l1d),
            l2: private(l2),
            l3: l3.map(|(bytes, shared_by)| Cache { bytes, shared_by }),
        }
    }

    #[test]
    fn blocks_follow_the_caches_of_each_kind_of_core() {
        // Zen 4 (EPYC 9004): 32 KiB L1, 1 MiB L2, 32 MiB L3 per 8 cores.
        let zen4 = caches(32 << 10, 1 << 20, Some((32 << 20, 16)));
        assert_eq!(
            Blocking::for_caches(&zen4, 2),
            Blocking::new(256, 504, 8192)
        );
        // Sapphire Rapids: 48 KiB L1, 2 MiB L2, 1.875 MiB of L3 a core.
        let spr = caches(48 << 10, 2 << 20, Some((105 << 20, 112)));
        let b = Blocking::for_caches(&spr, 2);
        assert_eq!((b.kc, b.mc), (384, 672));
        // 52.5 MiB of L3 for each of two threads: the cap.
        assert_eq!(b.nc, 8192);
        // On all 112 threads of that socket, each has under 1 MiB of L3.
        assert_eq!(Blocking::for_caches(&spr, 112).nc, 320);
    }

    #[test]
    fn siblings_halve_the_caches_they_share() {
        let mut smt = caches(48 << 10, 2 << 20, None);
        smt.l1d.shared_by = 2;
        smt.l2.shared_by = 2;
        assert_eq!(Blocking::for_caches(&smt, 2).kc, 192);
        // One thread has the core to itself.
        assert_eq!(Blocking::for_caches(&smt, 1).kc, 384);
    }

    #[test]
    fn absurd_reports_are_held_to_workable_sizes() {
        let tiny = Blocking::for_caches(&caches(1024, 4096, None), 1);
        assert_eq!(tiny, Blocking::new(KC_RANGE.0, MR, NC_RANGE.0));
        let huge = Blocking::for_caches(&caches(1 << 30, 1 << 34, Some((1 << 40, 1))), 1);
        assert_eq!(
            (huge.kc, huge.mc, huge.nc),
            (KC_RANGE.1, MC_RANGE.1, NC_RANGE.1)
        );
    }

    #[test]
    fn column_blocks_are_whole_panels() {
        assert_eq!(Blocking::new(0, 0, 0), Blocking::new(1, 1, NR));
        assert_eq!(Blocking::new(64, 24, 40).nc, 2 * NR);
    }

    #[test]
    fn blocks_run_column_blocks_then_depth_blocks() {
        let b = Blocking::new(100, 12, 64);
        let cuts: Vec<_> = b
            .blocks(150, 70, false)
            .map(|c| (c.jc, c.nc, c.pc, c.kc, c.load))
            .collect();
        let want = [
            (0, 64, 0, 75, false),
            (0, 64, 75, 75, true),
            (64, 6, 0, 75, false),
            (64, 6, 75, 75, true),
        ];
        assert_eq!(cuts, want);
        assert!(b.blocks(150, 70, true).all(|c| c.load));
        assert_eq!(
            b.blocks(150, 70, false).next().unwrap().packed_len(),
            2 * NR * 75
        );
    }

    #[test]
    fn operands_are_cut_into_equal_blocks() {
        let b = Blocking::new(256, 504, 2048);
        assert_eq!(b.depth(784), 196);
        assert_eq!(b.depth(256), 256);
        assert_eq!(b.depth(0), 1);
        assert_eq!(b.rows(512), 256);
        assert_eq!(b.rows(64), 64);
        assert_eq!(b.rows(504), 504);
    }

    #[test]
    fn reports_name_sizes_in_their_units() {
        let zen4 = caches(32 << 10, 1 << 20, Some((32 << 20, 2)));
        assert_eq!(
            zen4.to_string(),
            "L1d 32 KiB, L2 1 MiB, L3 32 MiB shared by 2"
        );
        let b = Blocking::for_caches(&zen4, 2);
        assert_eq!(b.to_string(), "kc 256, mc 504, nc 8192");
        let small = caches(48 << 10, 1280 << 10, None);
        assert_eq!(small.to_string(), "L1d 48 KiB, L2 1280 KiB, no L3");
    }

    #[test]
    fn this_cpu_reports_caches_the_blocks_can_use() {
        let c = Caches::of_this_cpu();
        assert!(c.l1d.bytes >= 8 << 10 && c.l2.bytes > c.l1d.bytes, "{c:?}");
    }
}
