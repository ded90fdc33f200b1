//! Which device a run may use. Layers run on a backend (`backend/`), and
//! the CPU's is the only one built so far, so `--device cuda` is refused
//! with the reason. The `cuda` feature still compiles dfdx's CUDA path
//! (`cuda-check` type-checks it without a toolkit, as CI does); the CUDA
//! backend, on cudarc, is what replaces it.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    Cpu,
}

pub fn select(name: &str) -> Result<Device, String> {
    match name {
        "cpu" => Ok(Device::Cpu),
        "cuda" if cfg!(feature = "cuda") => Err(
            "`--device cuda` is not supported yet: this build has dfdx's CUDA path (feature `cuda`), but dlwb has no CUDA backend yet; use `--device cpu`".into(),
        ),
        "cuda" => Err(
            "this dlwb was built without CUDA support (`cargo build --release --features cuda` on a machine with the CUDA toolkit); even then, dlwb has no CUDA backend yet, so training runs on `--device cpu`".into(),
        ),
        other => Err(format!("unknown device `{other}`: use `cpu` or `cuda`")),
    }
}
