//! Which device a run uses: `--device cpu|cuda|cuda:N|auto` as asked, and
//! what it resolves to on this machine, or exactly why it cannot. `dlwb
//! devices` lists what there is.

use std::fmt;
use std::str::FromStr;

/// A device as asked for on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Choice {
    #[default]
    Cpu,
    /// `cuda` (the first GPU) or `cuda:N`.
    Cuda(Option<usize>),
    /// The first usable GPU, else the CPU.
    Auto,
}

impl FromStr for Choice {
    type Err = String;

    fn from_str(s: &str) -> Result<Choice, String> {
        match s {
            "cpu" => Ok(Choice::Cpu),
            "cuda" => Ok(Choice::Cuda(None)),
            "auto" => Ok(Choice::Auto),
            _ => match s.strip_prefix("cuda:").map(str::parse::<usize>) {
                Some(Ok(n)) => Ok(Choice::Cuda(Some(n))),
                _ => Err(format!(
                    "unknown device `{s}`: use `cpu`, `cuda`, `cuda:N` (the GPU numbered N) or `auto`"
                )),
            },
        }
    }
}

impl fmt::Display for Choice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Choice::Cpu => write!(f, "cpu"),
            Choice::Cuda(None) => write!(f, "cuda"),
            Choice::Cuda(Some(n)) => write!(f, "cuda:{n}"),
            Choice::Auto => write!(f, "auto"),
        }
    }
}

/// A device a run can use on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    Cpu,
    /// The GPU of this ordinal.
    Cuda(usize),
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => write!(f, "cpu"),
            Device::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

/// What `choice` is on this machine, or why it cannot be had.
pub fn resolve(choice: Choice) -> Result<Device, String> {
    match choice {
        Choice::Cpu => Ok(Device::Cpu),
        Choice::Auto => Ok(gpu(0).unwrap_or(Device::Cpu)),
        Choice::Cuda(n) => gpu(n.unwrap_or(0))
            .map_err(|why| format!("device `{choice}` needs a usable NVIDIA GPU: {why}")),
    }
}

#[cfg(feature = "cuda")]
fn gpu(ordinal: usize) -> Result<Device, String> {
    let (_, count) = crate::backend::cuda::probe::count()?;
    match count {
        n if ordinal < n => Ok(Device::Cuda(ordinal)),
        n => Err(format!(
            "there is no GPU {ordinal}: the driver sees {n} (numbered from 0; `dlwb devices` lists them)"
        )),
    }
}

#[cfg(not(feature = "cuda"))]
fn gpu(_: usize) -> Result<Device, String> {
    Err("this dlwb was built without CUDA support (the `cuda` feature, on by default, was turned off)".into())
}

/// Refuses a model whose training would not fit in the GPU's free memory,
/// before anything is allocated there. The data stays on the host (each
/// batch goes up on its own), so the estimate without it is what counts.
pub fn check_fits(device: Device, g: &dlwb_dsl::Graph) -> Result<(), String> {
    let Device::Cuda(ordinal) = device else {
        return Ok(());
    };
    let need = g.memory.total().saturating_sub(g.memory.data);
    fits(
        need,
        free_bytes(ordinal)? as u64,
        g.experiment.train.batch,
        device,
    )
}

fn fits(need: u64, free: u64, batch: usize, device: Device) -> Result<(), String> {
    if need > free {
        return Err(format!(
            "training this model needs about {} on the GPU (dlwb check's estimate: parameters, optimizer state and activations at batch {batch}), but {device} has {} free",
            gib(need),
            gib(free)
        ));
    }
    Ok(())
}

fn gib(bytes: u64) -> String {
    format!("{:.2} GiB", bytes as f64 / f64::from(1u32 << 30))
}

#[cfg(feature = "cuda")]
fn free_bytes(ordinal: usize) -> Result<usize, String> {
    Ok(crate::backend::cuda::probe::gpu(ordinal)?.free_bytes)
}

#[cfg(not(feature = "cuda"))]
fn free_bytes(_: usize) -> Result<usize, String> {
    Ok(0)
}

/// This machine's processor as `dlwb devices` shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Cpu {
    pub model: String,
    pub cores: usize,
    /// The vector extensions the kernels can use: `avx2`, `fma`,
    /// `avx512f`, `avx512_vnni`, `avx_vnni`, `amx_tile`, ...
    pub extensions: Vec<String>,
}

/// The flags of `/proc/cpuinfo` that matter to dlwb's kernels.
const EXTENSIONS: [&str; 9] = [
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx_vnni",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
];

pub fn cpu() -> Cpu {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        info.lines()
            .find(|l| l.split(':').next().is_some_and(|k| k.trim() == name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    };
    let flags = field("flags").unwrap_or_default();
    let flags: Vec<&str> = flags.split_whitespace().collect();
    Cpu {
        model: field("model name").unwrap_or_else(|| std::env::consts::ARCH.into()),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        extensions: EXTENSIONS
            .iter()
            .filter(|e| flags.contains(e))
            .map(|e| e.to_string())
            .collect(),
    }
}

/// One GPU as `dlwb devices` shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Gpu {
    pub device: String,
    pub name: String,
    pub memory_bytes: usize,
    pub free_bytes: usize,
    pub compute_capability: String,
}

/// Every GPU with the driver's CUDA version (`13.0`), or why none is usable.
pub fn gpus() -> Result<(String, Vec<Gpu>), String> {
    #[cfg(feature = "cuda")]
    {
        let found = crate::backend::cuda::probe::find()?;
        let v = found.driver_version;
        let gpus = found
            .gpus
            .into_iter()
            .map(|g| Gpu {
                device: format!("cuda:{}", g.ordinal),
                name: g.name,
                memory_bytes: g.memory_bytes,
                free_bytes: g.free_bytes,
                compute_capability: format!(
                    "{}.{}",
                    g.compute_capability.0, g.compute_capability.1
                ),
            })
            .collect();
        Ok((format!("{}.{}", v / 1000, v % 1000 / 10), gpus))
    }
    #[cfg(not(feature = "cuda"))]
    Err("this dlwb was built without CUDA support (the `cuda` feature)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_parse_as_the_flag_documents() {
        assert_eq!("cpu".parse(), Ok(Choice::Cpu));
        assert_eq!("cuda".parse(), Ok(Choice::Cuda(None)));
        assert_eq!("cuda:3".parse(), Ok(Choice::Cuda(Some(3))));
        assert_eq!("auto".parse(), Ok(Choice::Auto));
        for name in ["cpu", "cuda", "cuda:3", "auto"] {
            assert_eq!(name.parse::<Choice>().unwrap().to_string(), name);
        }
        for bad in ["gpu", "cuda:", "cuda:x", "CUDA", "cuda:-1"] {
            let e = bad.parse::<Choice>().unwrap_err();
            assert!(
                e.contains(&format!("`{bad}`")) && e.contains("cuda:N"),
                "{e}"
            );
        }
    }

    #[test]
    fn a_model_larger_than_the_gpus_free_memory_is_refused_with_both_figures() {
        let gib = 1u64 << 30;
        let e = fits(150 * gib, 139 * gib, 64, Device::Cuda(0)).unwrap_err();
        assert!(
            e.contains("150.00 GiB") && e.contains("139.00 GiB free") && e.contains("cuda:0"),
            "{e}"
        );
        assert!(e.contains("batch 64"), "{e}");
        assert_eq!(fits(2 * gib, 139 * gib, 64, Device::Cuda(0)), Ok(()));
    }

    #[test]
    fn the_cpu_is_always_there_and_auto_falls_back_to_it() {
        assert_eq!(resolve(Choice::Cpu), Ok(Device::Cpu));
        let auto = resolve(Choice::Auto).expect("auto always resolves");
        // Without a GPU (CI), auto is the CPU; with one, its first GPU.
        assert!(matches!(auto, Device::Cpu | Device::Cuda(0)), "{auto:?}");
    }
}
