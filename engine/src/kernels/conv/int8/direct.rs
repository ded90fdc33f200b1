//! The int8 convolution at stride 1 straight from the sample's bytes, with
//! no unfolded copy. As the float direct kernel, it computes "wide": each
//! output row as long as a padded input row (the last `K - 1` positions of
//! each are garbage), so every tap reads the padded byte plane at one fixed
//! offset from the output position, and a vector of 16 positions is one
//! load.
//!
//! `vpdpbusd` takes four bytes per lane, so taps go in fours ("quads"):
//! along a kernel row (`Quad::Row`: each position's next four bytes) and,
//! for the columns a row's fours leave over, down a kernel column
//! (`Quad::Column`: four bytes a padded row apart). Each quad reads its own
//! array of 4-byte lanes built once per sample (8 bytes per input position
//! in all). A 5x5 kernel is 5 row quads and 2 column quads per channel: 28
//! lanes of work for 25 taps, where row quads alone would take 40.

use super::{Geometry, Rectify};
use crate::kernels::int8::{quantize_row, QuantWeight};

/// Positions per vector (i32 lanes of a 512-bit register).
pub const VECTOR: usize = 16;

/// Four taps read as one lane: `(ky, kx..kx+4)` or `(ky..ky+4, kx)`. Taps
/// past the kernel's edge get weight 0, so what they read never counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quad {
    Row { ky: usize, kx: usize },
    Column { ky: usize, kx: usize },
}

impl Quad {
    /// The taps this quad covers, in lane byte order (`None` past the edge).
    fn taps(self, k: usize) -> [Option<(usize, usize)>; 4] {
        std::array::from_fn(|d| {
            let (ky, kx) = match self {
                Quad::Row { ky, kx } => (ky, kx + d),
                Quad::Column { ky, kx } => (ky + d, kx),
            };
            (ky < k && kx < k).then_some((ky, kx))
        })
    }
}

/// A kernel's taps in quads: whole row quads, then column quads for the
/// `k mod 4` columns left over.
fn quads(k: usize) -> Vec<Quad> {
    let whole = k / 4 * 4;
    let rows = (0..k).flat_map(|ky| (0..whole).step_by(4).map(move |kx| Quad::Row { ky, kx }));
    let columns =
        (whole..k).flat_map(|kx| (0..k).step_by(4).map(move |ky| Quad::Column { ky, kx }));
    rows.chain(columns).collect()
}

/// One layer's wide layout and its weights in quads, made once per call.
pub struct Plan {
    channels: usize,
    n: usize,
    /// Padded input width: the wide row length.
    wp: usize,
    pad: usize,
    ho: usize,
    wo: usize,
    /// Wide positions computed per output channel: whole vectors.
    len: usize,
    /// Lanes per channel in each quad array (whole vectors), and bytes per
    /// padded plane (the plane plus the rows the last quads reach past it).
    lanes: usize,
    plane: usize,
    /// Whether any quad reads down a column (not for kernels of 4, 8, ...).
    columns: bool,
    /// Lane offset of each `(channel, quad)` in the quad arrays.
    offsets: Vec<usize>,
    /// Each `(channel, quad)`'s four weight bytes for every output:
    /// `weights[t * n + j]`.
    weights: Vec<i32>,
}

impl Plan {
    pub fn new(w: &QuantWeight, n: usize, g: &Geometry) -> Plan {
        let k = g.kernel;
        let (ho, wo) = g.out_hw();
        let wp = g.width + 2 * g.pad;
        let len = (ho * wp).div_ceil(VECTOR) * VECTOR;
        let lanes = (len + (k - 1) * wp + k).div_ceil(VECTOR) * VECTOR;
        let quads = quads(k);
        let columns = quads.iter().any(|q| matches!(q, Quad::Column { .. }));
        let mut offsets = Vec::with_capacity(g.channels * quads.len());
        let mut weights = Vec::with_capacity(g.channels * quads.len() * n);
        for c in 0..g.channels {
            for &q in &quads {
                let (array, ky, kx) = match q {
                    Quad::Row { ky, kx } => (c, ky, kx),
                    Quad::Column { ky, kx } => (g.channels + c, ky, kx),
                };
                offsets.push(array * lanes + ky * wp + kx);
                let taps = q.taps(k);
                weights.extend((0..n).map(|j| {
                    let row = &w.q[j * w.cols + c * k * k..][..k * k];
                    let bytes = taps.map(|t| t.map_or(0, |(ky, kx)| row[ky * k + kx] as u8));
                    i32::from_le_bytes(bytes)
                }));
            }
        }
        Plan {
            channels: g.channels,
            n,
            wp,
            pad: g.pad,
            ho,
            wo,
            len,
            lanes,
            plane: lanes + 3 * wp + 4,
            columns,
            offsets,
            weights,
        }
    }

    /// The integer sums of one quantized sample (`[C, H, W]` bytes, padding
    /// taking `zero`): `sums[j * len + p]` at wide position `p`. `bytes` and
    /// `lanes` are scratch kept between samples.
    pub fn sums(&self, x: &[u8], zero: u8, g: &Geometry, scratch: &mut Scratch, sums: &mut [i32]) {
        self.planes(x, zero, g, &mut scratch.bytes);
        self.quad_lanes(&scratch.bytes, &mut scratch.lanes);
        assert!(sums.len() >= self.n * self.len, "a wide row per output");
        assert!(self
            .offsets
            .iter()
            .all(|o| o + self.len <= scratch.lanes.len()));
        assert_eq!(self.weights.len(), self.offsets.len() * self.n);
        // SAFETY: `available` found AVX512-VNNI; every offset plus `len`
        // lanes lies inside the quad arrays (asserted), and the asserts size
        // the weights and the sums.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            super::vnni512::sums(
                &scratch.lanes,
                &self.offsets,
                &self.weights,
                self.n,
                self.len,
                sums,
            )
        }
    }

    /// The sample's padded byte planes: the border and the slack past it
    /// hold the zero point (the byte of 0.0).
    fn planes(&self, x: &[u8], zero: u8, g: &Geometry, bytes: &mut Vec<u8>) {
        let (h, w, p) = (g.height, g.width, self.pad);
        bytes.clear();
        bytes.resize(self.channels * self.plane, zero);
        for (c, plane) in bytes.chunks_exact_mut(self.plane).enumerate() {
            for y in 0..h {
                plane[(y + p) * self.wp + p..][..w].copy_from_slice(&x[(c * h + y) * w..][..w]);
            }
        }
    }

    /// The quad arrays: per channel, every position's next four bytes
    /// along the row, then (if any quad needs them) its four bytes down
    /// the column.
    fn quad_lanes(&self, bytes: &[u8], lanes: &mut Vec<u32>) {
        let arrays = if self.columns { 2 } else { 1 };
        lanes.resize(arrays * self.channels * self.lanes, 0);
        let (rows, columns) = lanes.split_at_mut(self.channels * self.lanes);
        for (c, plane) in bytes.chunks_exact(self.plane).enumerate() {
            let row = &mut rows[c * self.lanes..][..self.lanes];
            // SAFETY: `available` found AVX-512; a plane holds `3 * wp`
            // bytes past its last lane's first.
            #[cfg(target_arch = "x86_64")]
            unsafe {
                super::vnni512::gather(plane, 1, row);
                if self.columns {
                    let column = &mut columns[c * self.lanes..][..self.lanes];
                    super::vnni512::gather(plane, self.wp, column);
                }
            }
        }
    }

    /// `y` (`[S, N, Ho, Wo]`) of the samples `x` (`[S, C, H, W]`); with
    /// `pooled`, `y` is `[S, N, Ho / 2, Wo / 2]`: each 2x2 window's max
    /// (stride 2), taken from the sums before they are rescaled.
    pub fn forward(
        &self,
        x: &[f32],
        (w, bias): (&QuantWeight, &[f32]),
        g: &Geometry,
        (rectify, pooled): (Rectify, Pooled),
        y: &mut [f32],
    ) {
        let in_len = g.channels * g.height * g.width;
        let plane_len = match pooled {
            Pooled::No => self.ho * self.wo,
            Pooled::Max2x2 => (self.ho / 2) * (self.wo / 2),
        };
        let weight_sums = w.weight_sums();
        let mut scratch = Scratch::default();
        let mut sample = vec![0; in_len];
        let mut sums = vec![0; self.n * self.len];
        for (yb, xb) in y.chunks_mut(self.n * plane_len).zip(x.chunks(in_len)) {
            let (sx, z) = quantize_row(xb, &mut sample);
            self.sums(&sample, z as u8, g, &mut scratch, &mut sums);
            for (j, plane) in yb.chunks_mut(plane_len).enumerate() {
                let rescale = (z * weight_sums[j], sx * w.scales[j], bias[j], rectify);
                let wide = &sums[j * self.len..][..self.len];
                // SAFETY: `available` found AVX-512; `wide` holds `wp`
                // positions for each of the `ho` output rows, `wo <= wp`.
                #[cfg(target_arch = "x86_64")]
                unsafe {
                    match pooled {
                        Pooled::No => {
                            super::vnni512::rescale(wide, self.wp, self.wo, rescale, plane)
                        }
                        Pooled::Max2x2 => super::vnni512::rescale_pooled(
                            wide,
                            self.wp,
                            self.wo / 2,
                            rescale,
                            plane,
                        ),
                    }
                };
            }
        }
    }
}

/// Whether a 2x2, stride-2 max pool follows on the way out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooled {
    No,
    Max2x2,
}

/// Buffers a part keeps between samples.
#[derive(Default)]
pub struct Scratch {
    bytes: Vec<u8>,
    lanes: Vec<u32>,
}

/// Whether this CPU and geometry take the direct path.
pub fn available(g: &Geometry) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use crate::kernels::int8::Kernel;
        g.stride == 1
            && Kernel::best() == Kernel::Avx512Vnni
            && std::is_x86_feature_detected!("avx512bw")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = g;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quads_cover_every_tap_once() {
        for k in 1..=9 {
            let mut seen = vec![0; k * k];
            for q in quads(k) {
                for (ky, kx) in q.taps(k).into_iter().flatten() {
                    seen[ky * k + kx] += 1;
                }
            }
            assert!(seen.iter().all(|&s| s == 1), "k={k}: {seen:?}");
        }
        assert_eq!(quads(5).len(), 7);
        assert_eq!(quads(3).len(), 3);
    }

    /// The wide sums against the integer definition, exactly: bytes 0 and
    /// 255, weights ±127, padding at the zero point, several geometries.
    #[test]
    fn direct_sums_equal_the_integer_definition() {
        for (channels, h, w, k, pad, n) in [
            (1, 28, 28, 5, 2, 6),
            (6, 14, 14, 5, 0, 16),
            (3, 9, 7, 3, 1, 5),
            (2, 10, 11, 4, 2, 9),
            (5, 6, 6, 1, 0, 3),
            (1, 12, 9, 7, 3, 2),
            (2, 7, 7, 3, 1, 1),
        ] {
            let g = Geometry {
                channels,
                height: h,
                width: w,
                kernel: k,
                stride: 1,
                pad,
            };
            if !available(&g) {
                eprintln!("no AVX512-VNNI: the direct int8 convolution is not tested here");
                return;
            }
            let x: Vec<u8> = (0..channels * h * w)
                .map(|i| match i % 11 {
                    0 => 0,
                    1 => 255,
                    _ => (i * 7919 % 256) as u8,
                })
                .collect();
            let q: Vec<i8> = (0..n * channels * k * k)
                .map(|i| match i % 9 {
                    0 => -127,
                    1 => 127,
                    _ => ((i * 31 % 255) as i32 - 127) as i8,
                })
                .collect();
            let weights = QuantWeight::new(q.clone(), vec![1.0; n], n, channels * k * k);
            let plan = Plan::new(&weights, n, &g);
            let zero = 37u8;
            let mut sums = vec![0; n * plan.len];
            plan.sums(&x, zero, &g, &mut Scratch::default(), &mut sums);
            let (ho, wo) = g.out_hw();
            let at = |c: usize, iy: usize, ix: usize| -> i32 {
                let (iy, ix) = (iy.wrapping_sub(pad), ix.wrapping_sub(pad));
                if iy < h && ix < w {
                    x[(c * h + iy) * w + ix] as i32
                } else {
                    zero as i32
                }
            };
            for j in 0..n {
                for oy in 0..ho {
                    for ox in 0..wo {
                        let mut want = 0;
                        for c in 0..channels {
                            for ky in 0..k {
                                for kx in 0..k {
                                    let wq = q[((j * channels + c) * k + ky) * k + kx] as i32;
                                    want += at(c, oy + ky, ox + kx) * wq;
                                }
                            }
                        }
                        let got = sums[j * plan.len + oy * plan.wp + ox];
                        assert_eq!(got, want, "{g:?} n={n} at ({j}, {oy}, {ox})");
                    }
                }
            }
        }
    }
}
