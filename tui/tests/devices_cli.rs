//! Choosing a device: `dlwb devices`, `--device cpu|cuda|cuda:N|auto`,
//! `train { device }`, and what a machine without a usable GPU (CI's)
//! answers: exit 2 naming what is missing, before a run folder is made.
//! On a machine with a GPU the no-GPU answers are not asserted (they say
//! so); scripts/gpu_check.sh checks that machine.

mod common;

use common::{dlwb, first_run, root, tempdir, text};

const TINY: &str = "experiment tiny
data synthetic spirals { classes 2; samples 64 }
model { dense 8 relu; dense classes }
train { epochs 1; batch 16 }
";

fn devices_json() -> serde_json::Value {
    let out = dlwb(&root(), &["devices", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

/// Whether this machine has a GPU dlwb can use.
fn has_gpu() -> bool {
    let v = devices_json();
    let gpus = v["cuda"]["gpus"].as_array().map_or(0, Vec::len);
    if gpus > 0 {
        println!("a GPU is usable here: the no-GPU answers are not asserted");
    }
    gpus > 0
}

#[test]
fn devices_lists_the_cpu_with_its_extensions_and_says_why_there_is_no_gpu() {
    let v = devices_json();
    let cpu = &v["cpu"];
    assert!(cpu["cores"].as_u64().unwrap() >= 1, "{v}");
    assert!(!cpu["model"].as_str().unwrap().is_empty(), "{v}");
    assert!(cpu["extensions"].is_array(), "{v}");
    let out = dlwb(&root(), &["devices"]);
    let lines = text(&out.stdout);
    assert!(lines.starts_with("cpu "), "{lines}");
    assert!(
        lines.contains(&format!("({} cores", cpu["cores"])),
        "{lines}"
    );
    if has_gpu() {
        assert!(lines.contains("cuda:0 "), "{lines}");
        return;
    }
    let why = v["cuda"]["unavailable"].as_str().expect("a reason");
    assert!(
        lines.contains(&format!("cuda     unavailable: {why}")),
        "{lines}"
    );
    // Without the driver, the library the loader looked for is named.
    assert!(
        why.contains("libcuda.so.1") || why.contains("no GPU"),
        "{why}"
    );
}

#[test]
fn device_cuda_without_a_gpu_is_exit_2_naming_what_is_missing_before_any_folder() {
    if has_gpu() {
        return;
    }
    let dir = tempdir("nogpu");
    std::fs::write(dir.join("t.net"), TINY).unwrap();
    for device in ["cuda", "cuda:1"] {
        let out = dlwb(&dir, &["--headless", "t.net", "--device", device]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains(&format!("device `{device}` needs a usable NVIDIA GPU")),
            "{err}"
        );
        assert!(err.contains("libcuda.so.1"), "{err}");
    }
    let out = dlwb(&dir, &["--headless", "t.net", "--device", "cuda", "--json"]);
    let line: serde_json::Value = serde_json::from_slice(&out.stdout)
        .or_else(|_| serde_json::from_slice(&out.stderr))
        .expect("the error as a JSON line");
    assert!(
        line.to_string().contains("needs a usable NVIDIA GPU"),
        "{line}"
    );
    let out = dlwb(&dir, &["bench", "t.net", "--device", "cuda"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(!dir.join("runs").exists(), "a refused run made a folder");
}

#[test]
fn the_files_device_is_used_unless_the_flag_says_otherwise() {
    let dir = tempdir("filedevice");
    let on_gpu = TINY.replace("train {", "train { device cuda;");
    std::fs::write(dir.join("t.net"), on_gpu).unwrap();
    let out = dlwb(&dir, &["--headless", "t.net", "--device", "cpu"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let rec = std::fs::read_to_string(first_run(&dir.join("runs/tiny")).join("run.yaml")).unwrap();
    assert!(rec.contains("\ndevice: cpu\n"), "{rec}");
    if has_gpu() {
        return;
    }
    let out = dlwb(&dir, &["--headless", "t.net"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("device `cuda` needs a usable NVIDIA GPU"));
}

#[test]
fn auto_trains_on_the_cpu_where_there_is_no_gpu() {
    if has_gpu() {
        return;
    }
    let dir = tempdir("auto");
    std::fs::write(dir.join("t.net"), TINY).unwrap();
    let out = dlwb(&dir, &["--headless", "t.net", "--device", "auto"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let rec = std::fs::read_to_string(first_run(&dir.join("runs/tiny")).join("run.yaml")).unwrap();
    assert!(rec.contains("\ndevice: cpu\n"), "{rec}");
}

#[test]
fn an_unknown_device_is_exit_2_with_the_names_that_work() {
    let dir = tempdir("baddevice");
    std::fs::write(dir.join("t.net"), TINY).unwrap();
    let out = dlwb(&dir, &["--headless", "t.net", "--device", "cuda:x"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("unknown device `cuda:x`: use `cpu`, `cuda`, `cuda:N`"),
        "{err}"
    );
}

#[test]
fn a_sweep_of_a_file_asking_for_a_gpu_is_refused_before_any_trial_where_there_is_none() {
    if has_gpu() {
        return;
    }
    let dir = tempdir("sweepgpu");
    std::fs::write(
        dir.join("t.net"),
        TINY.replace("train {", "train { device cuda;"),
    )
    .unwrap();
    let out = dlwb(&dir, &["sweep", "t.net", "--seeds", "2"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("device `cuda` needs a usable NVIDIA GPU"),
        "{err}"
    );
    assert!(!dir.join("runs").exists(), "a refused sweep made a folder");
}
