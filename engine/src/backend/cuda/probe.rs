//! What CUDA this machine has: the libraries the backend loads, the GPUs
//! the driver sees, or exactly why none is usable. cudarc panics when a
//! library it needs is missing, so each is looked for here first.

use std::sync::Arc;

use cudarc::driver::{result, sys, CudaContext};

/// One GPU as `dlwb devices` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Gpu {
    pub ordinal: usize,
    pub name: String,
    pub memory_bytes: usize,
    pub free_bytes: usize,
    pub compute_capability: (i32, i32),
}

/// The GPUs, with the driver's CUDA version (`13000` for 13.0), or why
/// there are none to use.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub driver_version: i32,
    pub gpus: Vec<Gpu>,
}

/// The library files cudarc looks for, by the name it loads them as.
fn candidates(lib: &str) -> String {
    let names = cudarc::get_lib_name_candidates(lib);
    let shown: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| n.contains(".so."))
        .collect();
    shown.join(", ")
}

/// Why the libraries the backend needs cannot be loaded, if they cannot.
pub fn missing_libraries() -> Option<String> {
    // SAFETY: loading a library runs its initializers; these are NVIDIA's
    // own, the same ones cudarc would load.
    let present = unsafe {
        [
            (
                "cuda",
                "the NVIDIA driver",
                cudarc::driver::sys::is_culib_present(),
            ),
            ("cublas", "cuBLAS", cudarc::cublas::sys::is_culib_present()),
            ("nvrtc", "NVRTC", cudarc::nvrtc::sys::is_culib_present()),
        ]
    };
    let missing: Vec<String> = present
        .iter()
        .filter(|(_, _, found)| !found)
        .map(|(lib, what, _)| format!("{what} (none of {} found)", candidates(lib)))
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "{} could not be loaded; install the NVIDIA driver and the CUDA libraries, or add their folder to LD_LIBRARY_PATH",
            missing.join(", ")
        )
    })
}

/// The usable GPUs, or why there are none.
pub fn find() -> Result<Found, String> {
    let (driver_version, count) = count()?;
    let gpus = (0..count).map(gpu).collect::<Result<Vec<_>, _>>()?;
    Ok(Found {
        driver_version,
        gpus,
    })
}

/// The driver's CUDA version and how many GPUs it sees (at least one),
/// without opening any: what choosing a device needs.
pub fn count() -> Result<(i32, usize), String> {
    if let Some(why) = missing_libraries() {
        return Err(why);
    }
    result::init().map_err(|e| format!("the NVIDIA driver did not start: {}", name_of(&e)))?;
    let mut driver_version = 0;
    // SAFETY: a plain out-parameter call after cuInit.
    unsafe { sys::cuDriverGetVersion(&mut driver_version) }
        .result()
        .map_err(|e| format!("the driver's version could not be read: {}", name_of(&e)))?;
    let count = result::device::get_count().map_err(|e| name_of(&e))?;
    if count == 0 {
        return Err("the NVIDIA driver is loaded but sees no GPU".into());
    }
    Ok((driver_version, count as usize))
}

/// GPU `ordinal`'s name, memory and capability (it opens the GPU).
pub fn gpu(ordinal: usize) -> Result<Gpu, String> {
    let ctx = CudaContext::new(ordinal)
        .map_err(|e| format!("GPU {ordinal} could not be opened: {}", name_of(&e)))?;
    let err = |e: result::DriverError| format!("GPU {ordinal}: {}", name_of(&e));
    let (free_bytes, memory_bytes) = ctx.mem_get_info().map_err(err)?;
    Ok(Gpu {
        ordinal,
        name: ctx.name().map_err(err)?,
        memory_bytes,
        free_bytes,
        compute_capability: ctx.compute_capability().map_err(err)?,
    })
}

/// A driver error by its CUDA name (`CUDA_ERROR_NO_DEVICE`).
pub fn name_of(e: &result::DriverError) -> String {
    format!("{:?}", e.0)
}

/// `cuda:N (model, memory)`, as run records and headers name a GPU.
pub(crate) fn label(ctx: &Arc<CudaContext>, ordinal: usize) -> String {
    let name = ctx.name().unwrap_or_else(|_| "unknown GPU".into());
    let gib = ctx.total_mem().unwrap_or(0) as f64 / f64::from(1u32 << 30);
    format!("cuda:{ordinal} ({name}, {gib:.0} GiB)")
}
