//! `DLWB_CUDA_PROFILE=1`: where the GPU's time goes, by kernel, product,
//! copy and allocation, printed when the backend is dropped. Each timed
//! operation waits for the GPU before and after it, so the figures add up
//! to a slower run than an unprofiled one; they say which part to look at.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cudarc::driver::CudaStream;

#[derive(Default)]
pub(crate) struct Profile {
    on: bool,
    times: Mutex<HashMap<&'static str, (u64, Duration)>>,
}

impl Profile {
    pub(crate) fn from_env() -> Profile {
        Profile {
            on: std::env::var_os("DLWB_CUDA_PROFILE").is_some_and(|v| v != "0"),
            times: Mutex::default(),
        }
    }

    /// The start of a timed operation, once the GPU is idle.
    pub(crate) fn start(&self, stream: &CudaStream) -> Option<Instant> {
        self.on.then(|| {
            let _ = stream.synchronize();
            Instant::now()
        })
    }

    pub(crate) fn stop(&self, what: &'static str, started: Option<Instant>, stream: &CudaStream) {
        let Some(t) = started else { return };
        let _ = stream.synchronize();
        let mut times = self.times.lock().unwrap_or_else(|p| p.into_inner());
        let e = times.entry(what).or_default();
        e.0 += 1;
        e.1 += t.elapsed();
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        let times = self.times.get_mut().unwrap_or_else(|p| p.into_inner());
        if times.is_empty() {
            return;
        }
        let total: Duration = times.values().map(|t| t.1).sum();
        let mut rows: Vec<_> = times.iter().collect();
        rows.sort_by_key(|r| std::cmp::Reverse(r.1 .1));
        eprintln!(
            "GPU time by operation (DLWB_CUDA_PROFILE), {:.1} ms in all:",
            total.as_secs_f64() * 1e3
        );
        for (what, (n, t)) in rows {
            eprintln!(
                "  {what:<24} {:>8} calls {:>10.1} ms {:>5.1}%  {:>8.1} us each",
                n,
                t.as_secs_f64() * 1e3,
                100.0 * t.as_secs_f64() / total.as_secs_f64().max(1e-12),
                t.as_secs_f64() * 1e6 / *n as f64
            );
        }
    }
}
