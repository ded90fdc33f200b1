//! A right-hand side packed once for many products: a weight matrix used
//! at every step of a sequence, or for every batch of an evaluation.

use super::{block_product, pack_b_on, Block, Blocking, Isa, OutPtr, Strided, BUFFERS, NR};
use crate::kernels::matmul::threads;
use crate::kernels::parts::PARAMETER_SHARE;
use crate::kernels::workers;

/// A buffer holding `len` values from a 64-byte aligned offset, all
/// written by `fill`, with no pass zeroing them first (a weight packed
/// every training step is hundreds of kilobytes, and that pass ran on one
/// thread before the product split); the values around them are zeroed.
/// The buffer and the offset.
///
/// # Safety
/// `fill` writes every one of the `len` values from the pointer it gets.
unsafe fn written_aligned(len: usize, fill: impl FnOnce(*mut f32)) -> (Vec<f32>, usize) {
    let mut v = Vec::<f32>::with_capacity(len + 16);
    let base = v.as_mut_ptr();
    let offset = base.align_offset(64).min(15);
    fill(base.add(offset));
    for i in (0..offset).chain(offset + len..len + 16) {
        base.add(i).write(0.0);
    }
    // SAFETY: `fill` wrote `offset..offset + len`, the loop the rest.
    v.set_len(len + 16);
    (v, offset)
}

/// One panel of a packed right-hand side: `b[pc.., j..]` (`kc x cols`),
/// stored from value `at` on.
struct Panel {
    pc: usize,
    kc: usize,
    j: usize,
    cols: usize,
    at: usize,
}

/// Every panel of a `k x n` right-hand side in the order [`PackedB`]
/// stores them (and [`PackedB::product`] reads them): column blocks of
/// `nc`, depth blocks within, panels within those.
fn panels(blocking: &Blocking, k: usize, n: usize) -> Vec<Panel> {
    let mut all = Vec::with_capacity(n.div_ceil(NR) * k.div_ceil(blocking.depth(k)));
    let mut at = 0;
    for cut in blocking.blocks(k, n, false) {
        for j in (cut.jc..cut.jc + cut.nc).step_by(NR) {
            all.push(Panel {
                pc: cut.pc,
                kc: cut.kc,
                j,
                cols: NR.min(cut.jc + cut.nc - j),
                at,
            });
            at += cut.kc * NR;
        }
    }
    all
}

/// Threads packing `values` values: as many as a parameter's passes
/// use (`parts::PARAMETER_SHARE`), so a weight is packed in the runs it
/// was updated in.
fn workers_for(values: usize) -> usize {
    threads().min(values / PARAMETER_SHARE).max(1)
}

/// A right-hand side packed once for many products (a weight matrix used
/// at every step of a sequence, or for every batch of an evaluation).
pub struct PackedB {
    k: usize,
    n: usize,
    /// The blocks it was packed in, which its products must use.
    blocking: Blocking,
    /// The kernel that packed it and runs its products.
    isa: Isa,
    data: Vec<f32>,
    /// Where the packed values start in `data` (64-byte aligned).
    offset: usize,
}

// SAFETY: the packed copy owns its values and is only read after packing.
unsafe impl Send for PackedB {}
unsafe impl Sync for PackedB {}

impl PackedB {
    /// Packs `b` (`k x n`), cut into runs of panels, one per thread, when
    /// the copy is big enough to share. A weight updated in chunks (one
    /// per thread, in element order) then has each thread copying the
    /// rows it has just updated: as `Wᵀ` its panels are runs of `W`'s
    /// rows, as `W` its depth blocks are.
    ///
    /// # Safety
    /// [`available`](super::available) must be true and every `(r, c)` in
    /// `k x n` in bounds.
    pub unsafe fn new(b: Strided, k: usize, n: usize) -> Self {
        let parts = workers_for(n.div_ceil(NR) * NR * k);
        let isa = super::isa().expect("`available` said a packed kernel runs");
        Self::new_in_parts(b, (k, n), parts, (isa, Blocking::of_this_cpu()))
    }

    /// [`new`](Self::new) cut into `parts` runs of panels, for products
    /// on `isa`'s kernel blocked by `blocking`.
    ///
    /// # Safety
    /// As for [`new`](Self::new), and the CPU must have `isa`.
    pub(crate) unsafe fn new_in_parts(
        b: Strided,
        (k, n): (usize, usize),
        parts: usize,
        (isa, blocking): (Isa, Blocking),
    ) -> Self {
        let panels = panels(&blocking, k, n);
        let parts = parts.clamp(1, panels.len().max(1));
        // SAFETY: the panels fill `n.div_ceil(NR) * NR * k` values: each is
        // written whole, padding included, at its own offset.
        let (data, offset) = written_aligned(n.div_ceil(NR) * NR * k, |start| {
            let start = OutPtr(start);
            workers::run(parts, |p| {
                let run = &panels[p * panels.len() / parts..(p + 1) * panels.len() / parts];
                for panel in run {
                    let cut = Block {
                        pc: panel.pc,
                        kc: panel.kc,
                        jc: panel.j,
                        nc: panel.cols,
                        load: false,
                    };
                    pack_b_on(isa, b, &cut, start.at(panel.at));
                }
            });
        });
        PackedB {
            k,
            n,
            blocking,
            isa,
            data,
            offset,
        }
    }

    pub fn rows(&self) -> usize {
        self.k
    }

    pub fn cols(&self) -> usize {
        self.n
    }

    /// `c[m, n] (+)= a[m, k] · self`.
    ///
    /// # Safety
    /// [`available`] must be true; `a` must hold `m x k` and `c` (row
    /// stride `ldc`) `m x n` in bounds, not overlapping `a`.
    pub unsafe fn product(&self, m: usize, a: Strided, c: *mut f32, ldc: usize, acc: bool) {
        let rows = self.blocking.rows(m);
        BUFFERS.with(|buffers| {
            let pa = &mut buffers.borrow_mut().a;
            let mut at = self.data.as_ptr().add(self.offset);
            for cut in self.blocking.blocks(self.k, self.n, acc) {
                block_product(self.isa, (m, rows), a, &cut, at, (c, ldc), pa);
                at = at.add(cut.packed_len());
            }
        });
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    /// Packing cut between threads lays out the very values one thread
    /// does: for plain and transposed operands, one or several depth
    /// blocks, column blocks past `NC`, and a last panel cut short.
    #[test]
    fn packing_in_parts_gives_the_values_of_packing_whole() {
        if !crate::kernels::packed::available() {
            return;
        }
        for (k, n) in [
            (1, 1),
            (64, 512),
            (128, 512),
            (512, 128),
            (300, 70),
            (5, 2100),
        ] {
            let values: Vec<f32> = (0..k * n).map(|i| (i % 251) as f32 - 125.0).collect();
            let layouts = [
                Strided {
                    ptr: values.as_ptr(),
                    rs: n,
                    cs: 1,
                },
                Strided {
                    ptr: values.as_ptr(),
                    rs: 1,
                    cs: k,
                },
            ];
            let total = n.div_ceil(NR) * NR * k;
            let packed = |p: &PackedB| p.data[p.offset..p.offset + total].to_vec();
            for b in layouts {
                // SAFETY: the CPU has AVX-512; both layouts index `k x n`
                // values inside `values`.
                let plan = (super::super::isa().unwrap(), Blocking::of_this_cpu());
                let whole = unsafe { PackedB::new_in_parts(b, (k, n), 1, plan) };
                for parts in [2, 3, 7] {
                    let cut = unsafe { PackedB::new_in_parts(b, (k, n), parts, plan) };
                    assert!(
                        packed(&cut) == packed(&whole),
                        "{k}x{n} (row stride {}) in {parts} parts",
                        b.rs
                    );
                }
            }
        }
    }
}
