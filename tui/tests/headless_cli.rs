//! `dlwb --headless` as CI runs it: exit codes, the JSON stream, the
//! summary, and Ctrl-C.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::{dlwb, first_run, root, tempdir, text};

const GOOD: &str = "experiment spirals
data synthetic spirals { classes 2; samples 400; validation 25% }
model { dense 32 relu; dense 32 relu; dense classes }
train { optimizer adam lr=0.01; epochs 15; batch 16; seed 1 }
expect { val.accuracy >= 0.9 }
";

#[test]
fn exit_0_when_every_expect_is_met_with_a_summary_and_a_run_folder() {
    let dir = tempdir("ok");
    std::fs::write(dir.join("s.net"), GOOD).unwrap();
    let out = dlwb(&dir, &["--headless", "s.net", "--threads", "1"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("epoch 15/15  train.accuracy"), "{err}");
    assert!(err.contains("val.accuracy >= 0.9"), "{err}");
    assert!(err.contains(" met\n"), "{err}");
    assert!(dir.join("runs/spirals").read_dir().unwrap().count() == 1);
}

#[test]
fn exit_1_when_an_expect_is_missed() {
    let dir = tempdir("miss");
    std::fs::write(dir.join("s.net"), GOOD.replace(">= 0.9", ">= 1.5")).unwrap();
    let out = dlwb(&dir, &["--headless", "s.net", "--epochs", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("MISSED"));
}

#[test]
fn exit_2_for_invalid_files_data_and_arguments() {
    let dir = tempdir("bad");
    std::fs::write(
        dir.join("bad.net"),
        "data mnist { path \"d\" }\nmodel { dence 10 }\n",
    )
    .unwrap();
    let out = dlwb(&dir, &["--headless", "bad.net"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("bad.net:2:9"),
        "{}",
        text(&out.stderr)
    );

    std::fs::write(
        dir.join("nodata.net"),
        "data mnist { path \"nowhere\" }\nmodel { flatten; dense 10 }\n",
    )
    .unwrap();
    let out = dlwb(&dir, &["--headless", "nodata.net"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("nowhere/train-images-idx3-ubyte not found"),
        "{}",
        text(&out.stderr)
    );

    std::fs::write(dir.join("s.net"), GOOD).unwrap();
    let out = dlwb(&dir, &["--headless", "s.net", "--set", "train.epochs=0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("the number of epochs must be positive, got 0"),
        "{}",
        text(&out.stderr)
    );
    let out = dlwb(&dir, &["--headless", "s.net", "--device", "tpu"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown device `tpu`"));
}

#[test]
fn exit_3_when_training_diverges() {
    let dir = tempdir("diverge");
    std::fs::write(dir.join("s.net"), GOOD).unwrap();
    let out = dlwb(
        &dir,
        &[
            "--headless",
            "s.net",
            "--set",
            "train.optimizer=sgd lr=1e15",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("training diverged at epoch 1"), "{err}");
    let run = first_run(&dir.join("runs/spirals"));
    assert!(run.join("checkpoint.safetensors").is_file());
}

#[test]
fn json_prints_every_event_and_ends_with_finished() {
    let dir = tempdir("json");
    std::fs::write(dir.join("s.net"), GOOD).unwrap();
    let out = dlwb(
        &dir,
        &[
            "--headless",
            "--json",
            "s.net",
            "--epochs",
            "2",
            "--limit-batches",
            "3",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "two epochs do not reach the goal"
    );
    let lines = json_lines(&out.stdout);
    assert_eq!(lines[0]["event"], "started");
    assert_eq!(lines[0]["steps_per_epoch"], 3);
    let last = lines.last().unwrap();
    assert_eq!(last["event"], "finished");
    assert_eq!(last["status"], "completed");
    assert!(last["metrics"]["val.accuracy"].is_f64());
    assert_eq!(last["expect"][0]["met"], false);
    assert!(last["run_dir"].as_str().unwrap().contains("runs/spirals/"));
    assert_eq!(lines.iter().filter(|l| l["event"] == "epoch").count(), 2);
}

#[test]
fn sigint_saves_a_checkpoint_and_exits_130() {
    let dir = tempdir("sigint");
    std::fs::write(
        dir.join("s.net"),
        GOOD.replace("epochs 15", "epochs 100000"),
    )
    .unwrap();
    // `interrupted` waits for an epoch, sends SIGINT and asserts exit 130.
    let events = interrupted(&dir, &["s.net"]);
    let last = events.last().unwrap();
    assert_eq!(last["status"], "interrupted");
    let run = PathBuf::from(last["run_dir"].as_str().unwrap());
    let run = if run.is_absolute() {
        run
    } else {
        dir.join(run)
    };
    assert!(run.join("checkpoint.safetensors").is_file());
    assert!(std::fs::read_to_string(run.join("run.yaml"))
        .unwrap()
        .contains("status: interrupted"));
}

#[test]
fn init_starts_from_a_checkpoint_where_names_and_shapes_match() {
    let dir = tempdir("init");
    std::fs::write(dir.join("s.net"), GOOD).unwrap();
    let out = dlwb(&dir, &["--headless", "s.net", "--epochs", "1"]);
    assert!(matches!(out.status.code(), Some(0 | 1)));
    let run = first_run(&dir.join("runs/spirals"));
    let ck = run.join("checkpoint.safetensors");
    // dense2 narrowed: its two tensors and dense3's weight (its input
    // narrowed too) start anew; dense1's two and dense3's bias are kept.
    std::fs::write(
        dir.join("t.net"),
        GOOD.replace(
            "dense 32 relu; dense 32 relu",
            "dense 32 relu; dense 16 relu",
        ),
    )
    .unwrap();
    let out = dlwb(
        &dir,
        &[
            "--headless",
            "--json",
            "t.net",
            "--epochs",
            "1",
            "--init",
            ck.to_str().unwrap(),
        ],
    );
    let first: serde_json::Value =
        serde_json::from_str(text(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(
        (
            first["warm_kept"].as_u64(),
            first["warm_reinitialized"].as_u64()
        ),
        (Some(3), Some(3)),
        "{first}"
    );
    let out = dlwb(
        &dir,
        &["--headless", "t.net", "--init", "missing.safetensors"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("cannot read checkpoint missing.safetensors"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn bench_prints_one_json_line() {
    let out = dlwb(
        &root(),
        &[
            "bench",
            "examples/mnist_mlp.net",
            "--steps",
            "5",
            "--seconds",
            "0",
            "--threads",
            "1",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert!(v["train_samples_per_s"].as_f64().unwrap() > 0.0);
    assert!(v["infer_samples_per_s"].as_f64().unwrap() > 0.0);
    assert_eq!(v["threads"], 1);
    // What ran, so that figures from two machines can be told apart: the
    // packed kernel names the caches its blocks came from.
    let products = v["products"].as_str().unwrap();
    assert!(
        products.starts_with("f32 gemm") || products.contains(" for L1d "),
        "{products}"
    );
}

/// `DLWB_NO_AVX512` runs the products as on a CPU without AVX-512, and
/// the report says so.
#[test]
fn bench_without_avx512_reports_the_kernel_that_ran() {
    let out = Command::new(env!("CARGO_BIN_EXE_dlwb"))
        .current_dir(root())
        .env("DLWB_NO_AVX512", "1")
        .args([
            "bench",
            "examples/mnist_mlp.net",
            "--steps",
            "2",
            "--seconds",
            "0",
        ])
        .args(["--threads", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    let products = v["products"].as_str().unwrap();
    assert!(
        products.starts_with("f32 avx2") || products.starts_with("f32 gemm"),
        "{products}"
    );
}

fn json_lines(out: &[u8]) -> Vec<serde_json::Value> {
    text(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn a_panic_on_the_training_thread_is_a_failed_event_a_crashed_record_and_exit_3() {
    let dir = tempdir("crash");
    std::fs::write(dir.join("s.net"), GOOD).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dlwb"))
        .args(["--headless", "--json", "s.net"])
        .current_dir(&dir)
        .env("DLWB_TEST_PANIC_AT_STEP", "30")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("panicked"),
        "no backtrace: {}",
        text(&out.stderr)
    );
    let lines = json_lines(&out.stdout);
    let last = lines.last().unwrap();
    assert_eq!(last["event"], "failed");
    assert_eq!(last["kind"], "crashed");
    let error = last["error"].as_str().unwrap();
    assert!(
        error.starts_with("the training thread crashed: DLWB_TEST_PANIC_AT_STEP asked for a panic at step 30 at engine/src/run/train.rs:"),
        "{error}"
    );
    let run = dir.join(last["run_dir"].as_str().unwrap());
    let yaml = std::fs::read_to_string(run.join("run.yaml")).unwrap();
    assert!(yaml.contains("status: crashed"), "{yaml}");
    assert!(yaml.contains("engine/src/run/train.rs:"), "{yaml}");
    // The checkpoint of the epoch before the crash is kept.
    let ck = dlwb_engine::run::Checkpoint::load(&run.join("checkpoint.safetensors")).unwrap();
    assert_eq!(ck.metadata["epochs_done"], "1");
}

#[test]
fn images_of_another_size_are_refused_before_training_naming_the_file() {
    let dir = tempdir("idx14");
    std::fs::create_dir_all(dir.join("d")).unwrap();
    for (prefix, n) in [("train", 30u32), ("t10k", 10)] {
        let mut images = [2051u32, n, 14, 14]
            .iter()
            .flat_map(|w| w.to_be_bytes())
            .collect::<Vec<u8>>();
        images.resize(16 + (n * 196) as usize, 0);
        std::fs::write(dir.join(format!("d/{prefix}-images-idx3-ubyte")), images).unwrap();
        let mut labels = [2049u32, n]
            .iter()
            .flat_map(|w| w.to_be_bytes())
            .collect::<Vec<u8>>();
        labels.resize(8 + n as usize, 1);
        std::fs::write(dir.join(format!("d/{prefix}-labels-idx1-ubyte")), labels).unwrap();
    }
    std::fs::write(
        dir.join("m.net"),
        "data mnist { path \"d\" }\nmodel { flatten; dense 10 }\ntrain { epochs 1 }\n",
    )
    .unwrap();
    for args in [&["--headless", "m.net"][..], &["check", "m.net"]] {
        let out = dlwb(&dir, args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let err = text(&out.stderr);
        assert!(
            err.contains("error: d/train-images-idx3-ubyte: holds 14x14 images; the model was built for 28x28"),
            "{args:?}: {err}"
        );
        assert!(err.contains("m.net:1:19"), "at the path: {err}");
    }
    assert!(
        !dir.join("runs").exists(),
        "no run folder for a refused run"
    );
}

#[test]
fn limit_batches_0_and_threads_0_are_refused() {
    let dir = tempdir("limit0");
    std::fs::write(dir.join("s.net"), GOOD).unwrap();
    let out = dlwb(&dir, &["--headless", "s.net", "--limit-batches", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("0 batches would train nothing"),
        "{}",
        text(&out.stderr)
    );
    let out = dlwb(&dir, &["--headless", "s.net", "--threads", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("give 1 thread or more"));
    assert!(!dir.join("runs").exists());
}

#[test]
fn with_json_every_error_is_a_json_line() {
    let dir = tempdir("jsonerr");
    let out = dlwb(&dir, &["--headless", "--json", "missing.net"]);
    assert_eq!(out.status.code(), Some(2));
    let lines = json_lines(&out.stderr);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let message = lines[0][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("cannot read missing.net: "),
        "{message}"
    );
    assert_eq!(lines[0][0]["file"], "missing.net");
    std::fs::write(dir.join("s.net"), GOOD).unwrap();
    let out = dlwb(
        &dir,
        &["--headless", "--json", "s.net", "--set", "nope.x=1"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(json_lines(&out.stderr)[0][0]["severity"], "error");
}

/// Starts `dlwb --headless --json ARGS` in `dir`, waits for its first
/// epoch, interrupts it, and returns its events.
fn interrupted(dir: &std::path::Path, args: &[&str]) -> Vec<serde_json::Value> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dlwb"))
        .args(["--headless", "--json"])
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let epoch = line.contains("\"event\":\"epoch\"");
        seen.push(serde_json::from_str(&line).unwrap());
        if epoch {
            break;
        }
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    seen.extend(lines.map(|l| serde_json::from_str(&l.unwrap()).unwrap()));
    assert_eq!(child.wait().unwrap().code(), Some(130));
    seen
}

#[test]
fn resume_goes_on_with_the_runs_own_settings_unless_flags_change_them() {
    let dir = tempdir("resume-settings");
    std::fs::write(dir.join("s.net"), GOOD).unwrap();
    let first = interrupted(
        &dir,
        &["s.net", "--epochs", "100000", "--limit-batches", "3"],
    );
    let run = first.last().unwrap()["run_dir"]
        .as_str()
        .unwrap()
        .to_string();
    // The file says 15 epochs; the run was started with 100000.
    let second = interrupted(&dir, &["--resume", &run]);
    assert_eq!(second[0]["event"], "started");
    assert_eq!(second[0]["epochs"], 100000, "{}", second[0]);
    assert_eq!(second[0]["steps_per_epoch"], 3, "--limit-batches kept");
    assert!(second[0]["resumed_at"].is_array(), "{}", second[0]);
    let yaml = std::fs::read_to_string(dir.join(&run).join("run.yaml")).unwrap();
    assert!(yaml.contains("status: interrupted"), "{yaml}");
    // A flag given now wins, and the run's own file keeps it.
    let out = dlwb(
        &dir,
        &["--headless", "--json", "--resume", &run, "--epochs", "2"],
    );
    let lines = json_lines(&out.stdout);
    assert_eq!(lines[0]["epochs"], 2);
    assert_eq!(lines.last().unwrap()["event"], "finished");
    let source = std::fs::read_to_string(dir.join(&run).join("experiment.net")).unwrap();
    assert!(source.contains("epochs 2"), "{source}");
}

#[test]
fn a_reader_that_goes_away_does_not_stop_the_run() {
    let dir = tempdir("epipe");
    std::fs::write(dir.join("s.net"), GOOD.replace("epochs 15", "epochs 300")).unwrap();
    for json in [false, true] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dlwb"));
        cmd.args(["--headless", "s.net", "--threads", "1"])
            .current_dir(&dir);
        if json {
            cmd.arg("--json");
        }
        // `2>&1 | head -1`: read one line, then close the pipe.
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let line = if json {
            let mut out = BufReader::new(child.stdout.take().unwrap());
            drop(child.stderr.take());
            let mut l = String::new();
            out.read_line(&mut l).unwrap();
            l
        } else {
            let mut err = BufReader::new(child.stderr.take().unwrap());
            drop(child.stdout.take());
            let mut l = String::new();
            err.read_line(&mut l).unwrap();
            l
        };
        assert!(!line.is_empty());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "json {json}");
        let run = common::first_run(&dir.join("runs/spirals"));
        let yaml = std::fs::read_to_string(run.join("run.yaml")).unwrap();
        assert!(yaml.contains("status: completed"), "json {json}: {yaml}");
        std::fs::remove_dir_all(dir.join("runs")).unwrap();
    }
}

#[test]
fn a_let_constant_set_on_the_command_line_sizes_the_model() {
    let dir = common::tempdir("set-let");
    std::fs::write(
        dir.join("l.net"),
        "let width = 16\nexperiment lw\ndata synthetic spirals { classes 2; samples 200 }\nmodel { dense width relu; dense classes }\ntrain { epochs 1 }\n",
    )
    .unwrap();
    let out = common::dlwb(&dir, &["--headless", "l.net", "--set", "let.width=40"]);
    assert_eq!(out.status.code(), Some(0), "{}", common::text(&out.stderr));
    let run = common::first_run(&dir.join("runs/lw"));
    let record = std::fs::read_to_string(run.join("run.yaml")).unwrap();
    // 2 * 40 + 40 + 40 * 2 + 2 parameters, and the override kept.
    assert!(record.contains("params: 202"), "{record}");
    assert!(record.contains("let.width=40"), "{record}");
    assert!(std::fs::read_to_string(run.join("experiment.net"))
        .unwrap()
        .starts_with("let width = 40\n"));
    let out = common::dlwb(&dir, &["--headless", "l.net", "--set", "let.widht=40"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        common::text(&out.stderr).contains("did you mean `width`?"),
        "{}",
        common::text(&out.stderr)
    );
}
