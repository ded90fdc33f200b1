//! How much it costs one core to write memory the other core wrote last,
//! against rewriting memory it wrote itself (1 MiB, alternately, many
//! times), and one empty job of the kernels' pool on two threads (the
//! round trip every split product or layer pays). On a VM the host places
//! the vCPUs, and these figures move with the placement (cores that share
//! a last-level cache, or not), taking multi-threaded figures with them. `scripts/bench_vs_torch.sh` prints it
//! before every round; one JSON line, in microseconds.
//!
//! `cargo run --release -p dlwb-engine --example handoff`

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use dlwb_engine::kernels::workers;

const BYTES: usize = 1 << 20;
const ROUNDS: usize = 2000;

fn main() {
    let buf = Mutex::new(vec![0u64; BYTES / 8]);
    let same = {
        let mut b = buf.lock().unwrap_or_else(|e| e.into_inner());
        let t = Instant::now();
        for round in 0..ROUNDS {
            b.fill(black_box(round as u64));
            black_box(&mut b[..]);
        }
        t.elapsed() / ROUNDS as u32
    };
    let turn = AtomicUsize::new(0);
    let other: Duration = std::thread::scope(|s| {
        let takers: Vec<_> = (0..2)
            .map(|me| {
                let (buf, turn) = (&buf, &turn);
                s.spawn(move || alternate(me, buf, turn))
            })
            .collect();
        takers
            .into_iter()
            .map(|t| t.join().unwrap_or_default())
            .sum()
    });
    println!(
        "{{\"same_core_us_per_mib\":{:.1},\"other_core_us_per_mib\":{:.1},\"pool_job_us\":{:.2}}}",
        micros(same),
        micros(other / ROUNDS as u32),
        micros(pool_job())
    );
}

/// Thread `me` of two: on its turns, overwrites the buffer the other just
/// wrote; the time it spent writing.
fn alternate(me: usize, buf: &Mutex<Vec<u64>>, turn: &AtomicUsize) -> Duration {
    let mut spent = Duration::ZERO;
    for round in (me..ROUNDS).step_by(2) {
        workers::wait_for(|| turn.load(Ordering::Acquire) == round);
        let mut b = buf.lock().unwrap_or_else(|e| e.into_inner());
        let t = Instant::now();
        b.fill(black_box(round as u64));
        black_box(&mut b[..]);
        spent += t.elapsed();
        drop(b);
        turn.store(round + 1, Ordering::Release);
    }
    spent
}

/// The mean time of an empty two-part job of the kernels' pool.
fn pool_job() -> Duration {
    const JOBS: u32 = 20_000;
    dlwb_engine::kernels::matmul::set_threads(2);
    let job = || {
        workers::run(2, |part| {
            black_box(part);
        })
    };
    job();
    let t = Instant::now();
    for _ in 0..JOBS {
        job();
    }
    t.elapsed() / JOBS
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
