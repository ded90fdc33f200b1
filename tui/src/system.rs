//! Facts about the machine and the terminal.

use std::io::IsTerminal;

use dlwb_engine::run::record::SlurmTask;

/// Bytes of memory a run may use: what the kernel reports as available.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// `NO_COLOR` (any non-empty value) turns colour off everywhere.
pub fn color_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Colour on stderr unless it is not a terminal or `NO_COLOR` is set.
pub fn stderr_color() -> bool {
    std::io::stderr().is_terminal() && color_allowed()
}

/// The Slurm job this process runs in, from the variables Slurm sets
/// (`SLURM_JOB_ID`, `SLURM_ARRAY_JOB_ID`, `SLURM_ARRAY_TASK_ID`,
/// `SLURMD_NODENAME`); none outside Slurm.
pub fn slurm_task() -> Option<SlurmTask> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    Some(SlurmTask {
        job_id: var("SLURM_JOB_ID")?,
        array_job_id: var("SLURM_ARRAY_JOB_ID"),
        array_task_id: var("SLURM_ARRAY_TASK_ID").and_then(|v| v.parse().ok()),
        node: var("SLURMD_NODENAME"),
    })
}
