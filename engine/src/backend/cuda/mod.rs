//! The CUDA backend, on cudarc: device buffers, cuBLAS for the products,
//! and NVRTC kernels (`*.cu` beside this file, compiled once per process
//! by `module.rs`) for everything else.
//!
//! Why not dfdx's own CUDA device: it keeps its device and every tensor's
//! memory private, so no kernel of ours can run on its tensors, and its
//! convolutions need nightly (`../shared/DFDX-NOTES.md`). cudarc is the
//! crate dfdx's device is built on; with dynamic loading it builds and
//! links with no CUDA installed and finds `libcuda`, `libcublas` and
//! `libnvrtc` at run time, so one binary serves CPU-only machines and GPUs.
//!
//! One stream, so every launch, copy and free is ordered after the ones
//! before it; cudarc's per-buffer events, which multi-stream code needs,
//! are off. Buffers come from the stream-ordered pool (`cuMemAllocAsync`),
//! so a training step's temporaries cost no system call.

mod conv;
mod linear;
mod loss;
pub(crate) mod module;
mod norm;
pub(crate) mod probe;
mod profile;
mod sequence;
mod storage;
mod update;

use std::sync::Arc;

use cudarc::cublas::{sys::cublasOperation_t, CudaBlas, Gemm, GemmConfig};
use cudarc::driver::{
    CudaContext, CudaSlice, CudaStream, CudaView, DevicePtr, DevicePtrMut, LaunchConfig,
};

use super::{Error, Result};
use crate::kernels::matmul::Out;
use module::Kernels;

/// The device's name in errors.
const GPU: &str = "GPU";

/// A buffer on the GPU. Cloning shares it; writing to a shared buffer
/// copies it first (on the device), as the CPU backend's `Arc` does.
#[derive(Clone)]
pub(crate) struct DevBuf {
    data: Arc<CudaSlice<f32>>,
    /// The logical length: an empty buffer holds one unused element, since
    /// the driver allocates no zero-byte buffers.
    len: usize,
}

impl DevBuf {
    fn slice(&self) -> &CudaSlice<f32> {
        &self.data
    }
}

/// A GPU: its context, the one stream, cuBLAS on that stream, and the
/// compiled kernels.
pub(crate) struct Cuda {
    stream: Arc<CudaStream>,
    blas: CudaBlas,
    kernels: Arc<Kernels>,
    /// `cuda:N (model, memory)`, for run records and headers.
    label: String,
    profile: profile::Profile,
}

/// A driver error as the engine reports it: the CUDA error's own name.
pub(crate) fn driver_error(what: &str, e: cudarc::driver::DriverError) -> Error {
    use cudarc::driver::sys::cudaError_enum::CUDA_ERROR_OUT_OF_MEMORY;
    if e.0 == CUDA_ERROR_OUT_OF_MEMORY {
        return Error::OutOfMemory { device: GPU };
    }
    // The enum's name is the CUDA error's (`CUDA_ERROR_ILLEGAL_ADDRESS`).
    Error::Device {
        device: GPU,
        why: format!("{:?} in {what}", e.0),
    }
}

fn blas_error(what: &str, e: cudarc::cublas::result::CublasError) -> Error {
    Error::Device {
        device: GPU,
        why: format!("{:?} in {what}", e.0),
    }
}

/// Threads per block: a whole number of warps, as `block_sum` needs.
const BLOCK: u32 = 256;
/// Blocks at most per launch; the kernels' loops stride over the rest.
const MAX_GRID: u32 = 65_535;

/// One thread per element, at most [`MAX_GRID`] blocks.
fn elements(n: usize) -> LaunchConfig {
    let blocks = n.div_ceil(BLOCK as usize).clamp(1, MAX_GRID as usize) as u32;
    LaunchConfig {
        grid_dim: (blocks, 1, 1),
        block_dim: (BLOCK, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// One block per group (row, column or channel).
fn groups(n: usize) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (n.clamp(1, MAX_GRID as usize) as u32, 1, 1),
        block_dim: (BLOCK, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// A size as the kernels take it.
fn int(n: usize) -> i32 {
    i32::try_from(n).expect("buffers on the GPU hold fewer than 2^31 elements")
}

/// Launches kernel `$name` with `$cfg` and the arguments (references that
/// live past the launch).
macro_rules! launch {
    ($be:expr, $name:literal, $cfg:expr, $($arg:expr),* $(,)?) => {{
        let be: &$crate::backend::cuda::Cuda = $be;
        let f = be.kernels.get($name)?;
        let mut b = be.stream.launch_builder(f);
        $( cudarc::driver::PushKernelArg::arg(&mut b, $arg); )*
        let started = be.profile.start(&be.stream);
        // SAFETY: every argument matches the kernel's parameter list in
        // its `.cu` file, and sizes passed bound every index it reaches.
        let launched = unsafe { b.launch($cfg) }
            .map(|_| ())
            .map_err(|e| $crate::backend::cuda::driver_error($name, e));
        be.profile.stop($name, started, &be.stream);
        launched
    }};
}
pub(crate) use launch;

/// A matrix operand of [`Cuda::gemm`]: a buffer, used transposed or not.
struct Mat<'a> {
    buf: CudaView<'a, f32>,
    transposed: bool,
}

impl Cuda {
    /// Opens GPU `ordinal`, compiling the kernels for its architecture
    /// (once per process).
    pub(crate) fn open(ordinal: usize) -> Result<Cuda> {
        let ctx = CudaContext::new(ordinal).map_err(|e| driver_error("opening the GPU", e))?;
        // SAFETY: one stream only, so every use of a buffer is ordered on it.
        unsafe { ctx.disable_event_tracking() };
        keep_freed_memory(&ctx)?;
        let stream = ctx.default_stream();
        let blas = CudaBlas::new(stream.clone()).map_err(|e| blas_error("starting cuBLAS", e))?;
        let kernels = module::kernels(&ctx)?;
        let label = probe::label(&ctx, ordinal);
        Ok(Cuda {
            stream,
            blas,
            kernels,
            label,
            profile: profile::Profile::from_env(),
        })
    }

    fn alloc(&self, len: usize) -> Result<DevBuf> {
        let started = self.profile.start(&self.stream);
        // SAFETY: every caller writes all `len` elements before reading them.
        let data = unsafe { self.stream.alloc::<f32>(len.max(1)) }
            .map_err(|e| driver_error("allocating", e))?;
        self.profile.stop("allocate", started, &self.stream);
        Ok(DevBuf {
            data: Arc::new(data),
            len,
        })
    }

    fn zeroed(&self, len: usize) -> Result<DevBuf> {
        let data = self
            .stream
            .alloc_zeros::<f32>(len.max(1))
            .map_err(|e| driver_error("allocating", e))?;
        Ok(DevBuf {
            data: Arc::new(data),
            len,
        })
    }

    /// `b`'s memory to write to, copied first if anything else holds it.
    fn writable<'a>(&self, b: &'a mut DevBuf) -> Result<&'a mut CudaSlice<f32>> {
        if Arc::get_mut(&mut b.data).is_none() {
            let started = self.profile.start(&self.stream);
            let copy = self
                .stream
                .clone_dtod(&*b.data)
                .map_err(|e| driver_error("copying", e))?;
            b.data = Arc::new(copy);
            self.profile
                .stop("copy a shared buffer", started, &self.stream);
        }
        Ok(Arc::get_mut(&mut b.data).expect("just made unique"))
    }

    fn upload_typed<T: cudarc::driver::DeviceRepr>(&self, data: &[T]) -> Result<CudaSlice<T>> {
        if data.is_empty() {
            // SAFETY: never read: the kernels are told its length is 0.
            return unsafe { self.stream.alloc::<T>(1) }.map_err(|e| driver_error("allocating", e));
        }
        self.stream
            .clone_htod(data)
            .map_err(|e| driver_error("uploading", e))
    }

    fn download_typed<T: cudarc::driver::DeviceRepr + Default + Clone>(
        &self,
        b: &CudaSlice<T>,
        len: usize,
    ) -> Result<Vec<T>> {
        let mut host = vec![T::default(); len];
        if len > 0 {
            self.stream
                .memcpy_dtoh(&b.slice(..len), &mut host)
                .map_err(|e| driver_error("downloading", e))?;
        }
        Ok(host)
    }

    /// The raw address of a buffer, for a kernel parameter that may be null.
    fn address<T>(&self, b: Option<&CudaSlice<T>>) -> u64 {
        b.map_or(0, |b| b.device_ptr(&self.stream).0)
    }

    /// Row-major `c[m, n] (+)= a[m, k] · b[k, n]` on cuBLAS: in its
    /// column-major terms `cᵀ = bᵀ · aᵀ`, so the operands swap places. Full
    /// fp32 arithmetic (no TF32), so results match the CPU's.
    fn gemm(
        &self,
        c: &mut impl DevicePtrMut<f32>,
        (a, b): (Mat<'_>, Mat<'_>),
        (m, k, n): (usize, usize, usize),
        out: Out,
    ) -> Result<()> {
        if m == 0 || n == 0 {
            return Ok(());
        }
        let cfg = gemm_config((a.transposed, b.transposed), (m, k, n), out);
        if k == 0 {
            // cuBLAS leaves c alone at k = 0 only where beta is 1.
            return match out {
                Out::Accumulate => Ok(()),
                Out::Overwrite => self
                    .stream
                    .memset_zeros(c)
                    .map_err(|e| driver_error("zeroing", e)),
            };
        }
        let started = self.profile.start(&self.stream);
        // SAFETY: the sizes and leading dimensions describe `a`, `b` and `c`
        // as the callers allocated them (m*k, k*n and m*n elements).
        let done = unsafe { self.blas.gemm(cfg, &b.buf, &a.buf, c) }
            .map_err(|e| blas_error("a product", e));
        self.profile.stop("cuBLAS sgemm", started, &self.stream);
        done
    }
}

/// Keeps memory freed into the stream-ordered pool there for the next
/// allocation: by default the pool hands it back to the driver at every
/// synchronization, and each training step (which synchronizes to read its
/// loss) would map its temporaries afresh, the unfolded inputs of a
/// convolution hundreds of megabytes of them.
fn keep_freed_memory(ctx: &Arc<CudaContext>) -> Result<()> {
    use cudarc::driver::sys;
    let mut pool = std::ptr::null_mut();
    let mut keep = u64::MAX;
    // SAFETY: out-parameter calls on the context's own device; the
    // attribute takes a pointer to a u64.
    unsafe {
        sys::cuDeviceGetDefaultMemPool(&mut pool, ctx.cu_device())
            .result()
            .and_then(|()| {
                sys::cuMemPoolSetAttribute(
                    pool,
                    sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_RELEASE_THRESHOLD,
                    (&mut keep as *mut u64).cast(),
                )
                .result()
            })
    }
    .map_err(|e| driver_error("setting up the memory pool", e))
}

/// cuBLAS's column-major arguments for the row-major product `c[m, n]
/// (+)= a[m, k] · b[k, n]` (`a` stored `[k, m]` when transposed, `b` `[n,
/// k]`): in column-major terms `cᵀ = bᵀ · aᵀ`, so `b` is cuBLAS's first
/// operand, and a row-major matrix read column-major is its transpose.
fn gemm_config(
    (a_t, b_t): (bool, bool),
    (m, k, n): (usize, usize, usize),
    out: Out,
) -> GemmConfig<f32> {
    let op = |t: bool| match t {
        true => cublasOperation_t::CUBLAS_OP_T,
        false => cublasOperation_t::CUBLAS_OP_N,
    };
    GemmConfig {
        transa: op(b_t),
        transb: op(a_t),
        m: int(n),
        n: int(m),
        k: int(k),
        alpha: 1.0f32,
        lda: int(if b_t { k } else { n }).max(1),
        ldb: int(if a_t { m } else { k }).max(1),
        beta: match out {
            Out::Overwrite => 0.0,
            Out::Accumulate => 1.0,
        },
        ldc: int(n).max(1),
    }
}

fn plain(b: &DevBuf) -> Mat<'_> {
    Mat {
        buf: b.slice().as_view(),
        transposed: false,
    }
}

fn transposed(b: &DevBuf) -> Mat<'_> {
    Mat {
        buf: b.slice().as_view(),
        transposed: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// cuBLAS's sgemm as its documentation defines it, column-major.
    fn sgemm(cfg: &GemmConfig<f32>, a: &[f32], b: &[f32], c: &mut [f32]) {
        let t = |op| op == cublasOperation_t::CUBLAS_OP_T;
        let (m, n, k) = (cfg.m as usize, cfg.n as usize, cfg.k as usize);
        let (lda, ldb, ldc) = (cfg.lda as usize, cfg.ldb as usize, cfg.ldc as usize);
        for i in 0..m {
            for j in 0..n {
                let dot: f32 = (0..k)
                    .map(|p| {
                        let x = if t(cfg.transa) {
                            a[p + i * lda]
                        } else {
                            a[i + p * lda]
                        };
                        let y = if t(cfg.transb) {
                            b[j + p * ldb]
                        } else {
                            b[p + j * ldb]
                        };
                        x * y
                    })
                    .sum();
                c[i + j * ldc] = cfg.alpha * dot + cfg.beta * c[i + j * ldc];
            }
        }
    }

    /// The row-major product every layer asks for, through the arguments
    /// given to cuBLAS, for each operand layout and both output modes.
    #[test]
    fn products_map_to_cublas_arguments_for_every_layout() {
        let (m, k, n) = (3, 4, 5);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.91).cos()).collect();
        let want = |c0: f32| -> Vec<f32> {
            (0..m * n)
                .map(|ij| {
                    c0 + (0..k)
                        .map(|p| a[ij / n * k + p] * b[p * n + ij % n])
                        .sum::<f32>()
                })
                .collect()
        };
        let transpose = |x: &[f32], rows: usize, cols: usize| -> Vec<f32> {
            (0..rows * cols)
                .map(|i| x[i % rows * cols + i / rows])
                .collect()
        };
        for (a_t, b_t) in [(false, false), (true, false), (false, true), (true, true)] {
            let a_stored = if a_t { transpose(&a, m, k) } else { a.clone() };
            let b_stored = if b_t { transpose(&b, k, n) } else { b.clone() };
            for (out, c0) in [(Out::Overwrite, 0.0), (Out::Accumulate, 1.5)] {
                let cfg = gemm_config((a_t, b_t), (m, k, n), out);
                let mut c = vec![1.5; m * n];
                sgemm(&cfg, &b_stored, &a_stored, &mut c);
                let expect = want(c0);
                for (got, w) in c.iter().zip(&expect) {
                    assert!(
                        (got - w).abs() < 1e-5,
                        "a_t {a_t} b_t {b_t} {out:?}: {c:?} vs {expect:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_cuda_error_is_named_as_cuda_names_it_with_what_failed() {
        use cudarc::driver::sys::cudaError_enum as E;
        let e = driver_error(
            "lstm_step",
            cudarc::driver::DriverError(E::CUDA_ERROR_ILLEGAL_ADDRESS),
        );
        assert_eq!(
            e.to_string(),
            "the GPU failed: CUDA_ERROR_ILLEGAL_ADDRESS in lstm_step"
        );
        let e = driver_error(
            "allocating",
            cudarc::driver::DriverError(E::CUDA_ERROR_OUT_OF_MEMORY),
        );
        assert_eq!(e.to_string(), "out of memory on the GPU");
    }

    #[test]
    fn launches_cover_every_element_within_the_grid_limit() {
        for n in [0, 1, 255, 256, 257, 10_000_000, 1 << 30] {
            let cfg = elements(n);
            let (blocks, threads) = (cfg.grid_dim.0 as usize, cfg.block_dim.0 as usize);
            assert!(
                (1..=MAX_GRID as usize).contains(&blocks),
                "{n}: {blocks} blocks"
            );
            // The kernels' loops stride by the grid, so any grid covers n;
            // below the limit there is a thread per element.
            if n.div_ceil(threads) <= MAX_GRID as usize {
                assert!(blocks * threads >= n, "{n}");
            }
            assert_eq!(threads % 32, 0, "block_sum needs whole warps");
        }
        assert_eq!(groups(0).grid_dim.0, 1);
        assert_eq!(groups(70_000).grid_dim.0, MAX_GRID);
        assert_eq!(groups(10).grid_dim.0, 10);
    }
}
