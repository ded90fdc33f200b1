//! `dlwb sweep`: a grid checked before any trial starts, trained two at a
//! time into one sweep folder, read back from sweep.yaml and `dlwb runs`.

mod common;

use common::{dlwb, first_run, tempdir, text};

const FILE: &str = "let width = 8
experiment sw
data synthetic spirals { classes 2; samples 200; validation 25% }
model { dense width relu; dense classes }
train { optimizer adam lr=0.01; batch 50; epochs 2 }
";

#[test]
fn a_two_by_two_grid_runs_four_distinct_trials_and_ranks_them() {
    let dir = tempdir("sweep-grid");
    std::fs::write(dir.join("sw.net"), FILE).unwrap();
    let out = dlwb(
        &dir,
        &[
            "sweep",
            "sw.net",
            "--grid",
            "let.width=4,16",
            "--grid",
            "train.batch=25,50",
            "--parallel",
            "2",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let sweep = first_run(&dir.join("runs/sw"));
    assert!(sweep
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("sweep-"));
    let record: serde_yaml::Value = common::yaml(&sweep.join("sweep.yaml"));
    assert_eq!(record["monitor"], "val.loss");
    let trials = record["trials"].as_sequence().unwrap();
    assert_eq!(trials.len(), 4);
    let mut settings = std::collections::BTreeSet::new();
    for t in trials {
        assert_eq!(t["status"], "completed", "{t:?}");
        let run = std::path::Path::new(t["run_dir"].as_str().unwrap());
        assert!(dir.join(run).join("run.yaml").is_file(), "{run:?}");
        assert!(t["metrics"]["val.loss"].as_f64().is_some());
        settings.insert(format!(
            "{}/{}",
            t["settings"]["let.width"].as_str().unwrap(),
            t["settings"]["train.batch"].as_str().unwrap()
        ));
    }
    assert_eq!(settings.len(), 4, "{settings:?}");
    // The best trial is the one with the lowest validation loss.
    let best = record["best"].as_u64().unwrap() as usize;
    let loss = |t: &serde_yaml::Value| t["metrics"]["val.loss"].as_f64().unwrap();
    assert!(trials.iter().all(|t| loss(&trials[best]) <= loss(t)));
    // The table names it, and `dlwb runs` finds the trials' runs.
    assert!(
        text(&out.stdout).contains(&format!("best: trial {best}")),
        "{}",
        text(&out.stdout)
    );
    let runs = dlwb(&dir, &["runs", "--json"]);
    assert_eq!(
        text(&runs.stdout).lines().count(),
        4,
        "{}",
        text(&runs.stdout)
    );
}

#[test]
fn every_trial_is_checked_before_any_starts() {
    let dir = tempdir("sweep-check");
    std::fs::write(dir.join("sw.net"), FILE).unwrap();
    let out = dlwb(&dir, &["sweep", "sw.net", "--grid", "let.widht=4,16"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("did you mean `width`?"),
        "{}",
        text(&out.stderr)
    );
    // A value that does not check (a dense layer of zero units).
    let out = dlwb(&dir, &["sweep", "sw.net", "--grid", "let.width=4,0"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(!dir.join("runs").exists(), "no trial may start");
}

#[test]
fn seeds_multiply_the_trials_and_runs_collapses_them_into_mean_and_spread() {
    let dir = tempdir("sweep-seeds");
    std::fs::write(dir.join("sw.net"), FILE).unwrap();
    let out = dlwb(
        &dir,
        &[
            "sweep",
            "sw.net",
            "--grid",
            "let.width=4,16",
            "--seeds",
            "3",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = dlwb(&dir, &["runs", "--group-seeds", "--json"]);
    let rows: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2, "{}", text(&out.stdout));
    for r in &rows {
        assert_eq!(r["runs"].as_array().unwrap().len(), 3);
        assert!(r["settings"].get("seed").is_none());
        assert!(r["std"]["val.loss"].as_f64().unwrap() >= 0.0);
    }
}

#[test]
fn ctrl_c_checkpoints_the_running_trial_and_resume_finishes_the_sweep() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let dir = tempdir("sweep-resume");
    let long = FILE.replace("epochs 2", "epochs 400");
    std::fs::write(dir.join("sw.net"), long).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_dlwb"))
        .args(["sweep", "sw.net", "--grid", "let.width=4,8", "--json"])
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines {
        let line = line.unwrap();
        if line.contains("\"event\":\"epoch\"") {
            assert!(line.contains("\"trial\":0"), "{line}");
            break;
        }
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let sweep = first_run(&dir.join("runs/sw"));
    let read = || -> serde_yaml::Value { common::yaml(&sweep.join("sweep.yaml")) };
    let record = read();
    assert_eq!(record["trials"][0]["status"], "interrupted");
    assert_eq!(record["trials"][1]["status"], "pending");

    let out = dlwb(&dir, &["sweep", "--resume", sweep.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let record = read();
    for t in record["trials"].as_sequence().unwrap() {
        assert_eq!(t["status"], "completed", "{t:?}");
    }
    // The first trial went on from its checkpoint, in its own folder.
    let run = dir.join(record["trials"][0]["run_dir"].as_str().unwrap());
    let run_yaml = std::fs::read_to_string(run.join("run.yaml")).unwrap();
    let rec: serde_yaml::Value = serde_yaml::from_str(&run_yaml).unwrap();
    assert_eq!(rec["resumed"].as_sequence().unwrap().len(), 1, "{run_yaml}");
    assert_eq!(rec["epochs_run"].as_u64(), Some(400));
}

#[test]
fn halving_promotes_the_best_from_their_checkpoints_up_to_the_files_epochs() {
    let dir = tempdir("sweep-halving");
    std::fs::write(dir.join("sw.net"), FILE.replace("epochs 2", "epochs 8")).unwrap();
    let out = dlwb(
        &dir,
        &[
            "sweep",
            "sw.net",
            "--grid",
            "let.width=2,4,8,16",
            "--halving",
            "2",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let sweep = first_run(&dir.join("runs/sw"));
    let record: serde_yaml::Value = common::yaml(&sweep.join("sweep.yaml"));
    // Rungs of 2, 4 and 8 epochs: four trials, then two, then one.
    let mut epochs = Vec::new();
    for t in record["trials"].as_sequence().unwrap() {
        let run = dir.join(t["run_dir"].as_str().unwrap());
        let rec: serde_yaml::Value = common::yaml(&run.join("run.yaml"));
        let n = rec["epochs_run"].as_u64().unwrap();
        let expected = if n == 8 { "completed" } else { "stopped" };
        assert_eq!(t["status"], expected, "{t:?}");
        assert_eq!(
            t["rung"].as_u64().unwrap(),
            [2, 4, 8].iter().position(|&e| e == n).unwrap() as u64
        );
        epochs.push(n);
    }
    epochs.sort();
    assert_eq!(epochs, [2, 2, 4, 8]);
    let best = record["best"].as_u64().unwrap() as usize;
    assert_eq!(record["trials"][best]["status"], "completed");
}

#[test]
fn slurm_without_sbatch_exits_2_before_making_a_folder() {
    let dir = tempdir("sweep-no-sbatch");
    std::fs::write(dir.join("sw.net"), FILE).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dlwb"))
        .args(["sweep", "sw.net", "--grid", "let.width=4,16", "--slurm"])
        .current_dir(&dir)
        .env("PATH", dir.join("no-bin"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("`--slurm` needs a Slurm client (sbatch)"),
        "{}",
        text(&out.stderr)
    );
    assert!(!dir.join("runs").exists());
}

#[test]
fn a_trial_the_sweep_lacks_exits_2_naming_the_range() {
    let dir = tempdir("sweep-trial-range");
    std::fs::write(dir.join("sw.net"), FILE).unwrap();
    let out = dlwb(
        &dir,
        &[
            "sweep",
            "sw.net",
            "--grid",
            "let.width=4,16",
            "--limit-batches",
            "1",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let sweep = first_run(&dir.join("runs/sw"));
    let out = dlwb(&dir, &["sweep", "--trial", "5", sweep.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("the sweep has no trial 5: its trials are 0 to 1"),
        "{}",
        text(&out.stderr)
    );
    // Trial 1 again, by itself (a task requeued after its trial ended):
    // nothing is left to run, and its record stays as it was.
    let before = std::fs::read_to_string(sweep.join("trial-1/trial.yaml")).unwrap();
    let out = dlwb(&dir, &["sweep", "--trial", "1", sweep.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("trial 1 already completed"));
    let after = std::fs::read_to_string(sweep.join("trial-1/trial.yaml")).unwrap();
    assert_eq!(before, after);
}
