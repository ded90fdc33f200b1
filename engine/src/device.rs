//! Which device a run may use. Every layer is a host kernel recorded on
//! dfdx's tape (see `autograd.rs`), so training runs on the CPU. The `cuda`
//! feature compiles dfdx's CUDA path (`cuda-check` type-checks it without a
//! toolkit, as CI does), but no layer has a CUDA kernel yet, so
//! `--device cuda` is refused with the reason rather than run slowly through
//! host copies.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    Cpu,
}

pub fn select(name: &str) -> Result<Device, String> {
    match name {
        "cpu" => Ok(Device::Cpu),
        "cuda" if cfg!(feature = "cuda") => Err(
            "`--device cuda` is not supported yet: this build has dfdx's CUDA path (feature `cuda`), but dlwb's layers are host kernels with no CUDA implementation; use `--device cpu`".into(),
        ),
        "cuda" => Err(
            "this dlwb was built without CUDA support (`cargo build --release --features cuda` on a machine with the CUDA toolkit); even then, dlwb's layers have no CUDA kernels yet, so training runs on `--device cpu`".into(),
        ),
        other => Err(format!("unknown device `{other}`: use `cpu` or `cuda`")),
    }
}
