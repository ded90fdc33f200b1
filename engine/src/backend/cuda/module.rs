//! The kernel sources, compiled by NVRTC once per process and GPU, and
//! their functions by name. The names come from the sources themselves
//! (every `extern "C" __global__ void NAME(`), so a kernel is added by
//! writing it, nowhere else.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use cudarc::driver::{CudaContext, CudaFunction};
use cudarc::nvrtc::{compile_ptx_with_opts, CompileOptions};

use super::{driver_error, GPU};
use crate::backend::{Error, Result};

/// What every family begins with: the launch loop, block sums, sigmoid.
const COMMON: &str = include_str!("common.cuh");

/// The kernel families, one source file each.
pub(crate) const FAMILIES: [(&str, &str); 5] = [
    ("elementwise.cu", include_str!("elementwise.cu")),
    ("conv.cu", include_str!("conv.cu")),
    ("norm.cu", include_str!("norm.cu")),
    ("sequence.cu", include_str!("sequence.cu")),
    ("loss.cu", include_str!("loss.cu")),
];

/// The kernels a source defines, in order.
pub(crate) fn kernel_names(source: &str) -> Vec<&str> {
    const MARK: &str = "extern \"C\" __global__ void ";
    source
        .match_indices(MARK)
        .filter_map(|(at, _)| {
            let rest = &source[at + MARK.len()..];
            rest.find('(').map(|end| rest[..end].trim())
        })
        .collect()
}

/// `family` compiled to PTX for `arch` (`compute_90`), or NVRTC's log.
pub(crate) fn compile(
    family: &str,
    source: &str,
    arch: &str,
) -> std::result::Result<String, String> {
    let opts = CompileOptions {
        options: vec![format!("--gpu-architecture={arch}"), "--std=c++17".into()],
        name: Some(family.into()),
        ..Default::default()
    };
    compile_ptx_with_opts(format!("{COMMON}\n{source}"), opts)
        .map(|ptx| ptx.to_src())
        .map_err(|e| format!("NVRTC could not compile {family} for {arch}: {e:?}"))
}

/// Every compiled kernel of one GPU.
pub(crate) struct Kernels {
    functions: HashMap<&'static str, CudaFunction>,
}

impl Kernels {
    pub(crate) fn get(&self, name: &str) -> Result<&CudaFunction> {
        self.functions.get(name).ok_or_else(|| Error::Device {
            device: GPU,
            why: format!("no kernel named {name} was compiled"),
        })
    }
}

/// The kernels on `ctx`'s GPU, compiled on first use.
pub(crate) fn kernels(ctx: &Arc<CudaContext>) -> Result<Arc<Kernels>> {
    static CACHE: OnceLock<Mutex<HashMap<usize, Arc<Kernels>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(k) = cache.get(&ctx.ordinal()) {
        return Ok(k.clone());
    }
    let k = Arc::new(load(ctx)?);
    cache.insert(ctx.ordinal(), k.clone());
    Ok(k)
}

fn load(ctx: &Arc<CudaContext>) -> Result<Kernels> {
    let (major, minor) = ctx
        .compute_capability()
        .map_err(|e| driver_error("reading the compute capability", e))?;
    let arch = format!("compute_{major}{minor}");
    let mut functions = HashMap::new();
    for (family, source) in FAMILIES {
        let ptx =
            compile(family, source, &arch).map_err(|why| Error::Device { device: GPU, why })?;
        let module = ctx
            .load_module(cudarc::nvrtc::Ptx::from_src(ptx))
            .map_err(|e| driver_error(family, e))?;
        for name in kernel_names(source) {
            let f = module
                .load_function(name)
                .map_err(|e| driver_error(name, e))?;
            functions.insert(name, f);
        }
    }
    Ok(Kernels { functions })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kernel source compiles with NVRTC to PTX for Ampere and Hopper
    /// and defines every kernel it names: a real compile, with no GPU.
    /// `scripts/test.sh` installs NVRTC and sets `DLWB_REQUIRE_NVRTC`, so
    /// there a missing library fails this rather than skipping it.
    #[test]
    fn every_kernel_compiles_to_ptx_for_sm_80_and_sm_90() {
        // SAFETY: loading NVIDIA's library, as cudarc would.
        if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
            let required = std::env::var_os("DLWB_REQUIRE_NVRTC").is_some();
            assert!(
                !required,
                "DLWB_REQUIRE_NVRTC is set but libnvrtc cannot be loaded (LD_LIBRARY_PATH)"
            );
            println!("skipped: no libnvrtc to compile with (scripts/test.sh installs one)");
            return;
        }
        let mut total = 0;
        for arch in ["compute_80", "compute_90"] {
            for (family, source) in FAMILIES {
                let ptx = compile(family, source, arch).unwrap_or_else(|e| panic!("{e}"));
                let names = kernel_names(source);
                assert!(!names.is_empty(), "{family} defines no kernel");
                for name in names {
                    assert!(
                        ptx.contains(&format!(".entry {name}(")),
                        "{family} for {arch}: no entry {name}"
                    );
                    total += 1;
                }
            }
        }
        println!("{total} kernel entries compiled");
    }

    #[test]
    fn kernel_names_are_read_from_the_sources() {
        let src = "extern \"C\" __global__ void add(const float* a) {}\n__device__ int f() {}\nextern \"C\" __global__ void  mul (int n) {}";
        assert_eq!(kernel_names(src), ["add", "mul"]);
    }
}
