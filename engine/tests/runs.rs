//! Training runs end to end on synthetic data, through the event stream.

use std::path::PathBuf;

mod common;

use common::{config, events, tempdir};
use dlwb_engine::run::{self, Checkpoint, Event, FailureKind, Status};

const SPIRALS: &str = "experiment spirals
data synthetic spirals { classes 3; samples 1500; validation 20%; test 10%; noise 0.1 }
model { dense 64 relu; dense 64 relu; dense classes }
train { optimizer adam lr=0.01; batch 32; epochs 25; seed 4 }
expect {
    val.accuracy >= 0.9
    test.accuracy >= 0.9
}
";

/// The epochs the stream reported, in order.
fn epochs_of(events: &[Event]) -> Vec<usize> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Epoch { epoch, .. } => Some(*epoch),
            _ => None,
        })
        .collect()
}

fn finished(
    events: &[Event],
) -> (
    Status,
    dlwb_engine::run::Metrics,
    Vec<run::ExpectResult>,
    PathBuf,
) {
    match events.last() {
        Some(Event::Finished {
            status,
            metrics,
            expect,
            run_dir,
        }) => (*status, metrics.clone(), expect.clone(), run_dir.clone()),
        other => panic!("the last event is {other:?}"),
    }
}

#[test]
fn a_small_network_learns_spirals_and_the_run_folder_holds_everything() {
    let runs = tempdir("learn");
    let ev = events(config(SPIRALS, &runs));
    // The order of the stream: started, then per epoch steps, the epoch's
    // figures and histograms, and finished last.
    assert!(
        matches!(
            ev[0],
            Event::Started {
                epochs: 25,
                train_samples: 1050,
                ..
            }
        ),
        "{:?}",
        ev[0]
    );
    let epochs = epochs_of(&ev);
    assert_eq!(epochs, (0..25).collect::<Vec<_>>());
    for w in ev.windows(2) {
        if let (Event::Epoch { epoch: a, .. }, next) = (&w[0], &w[1]) {
            assert!(
                matches!(next, Event::Histograms { epoch, .. } if epoch == a),
                "histograms follow epoch {a}"
            );
        }
    }
    let first_step = ev
        .iter()
        .position(|e| matches!(e, Event::Step { .. }))
        .unwrap();
    let first_epoch = ev
        .iter()
        .position(|e| matches!(e, Event::Epoch { .. }))
        .unwrap();
    assert!(first_step < first_epoch);

    let (status, metrics, expect, dir) = finished(&ev);
    assert_eq!(status, Status::Completed);
    assert!(
        metrics["val.accuracy"] >= 0.9 && metrics["test.accuracy"] >= 0.9,
        "{metrics:?}"
    );
    assert!(expect.iter().all(|e| e.met), "{expect:?}");
    assert_eq!(expect[0].line, 6);

    // The run folder, read back.
    assert!(dir.starts_with(runs.join("spirals")));
    assert_eq!(
        std::fs::read_to_string(dir.join("experiment.net")).unwrap(),
        SPIRALS
    );
    let yaml: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(dir.join("run.yaml")).unwrap()).unwrap();
    assert_eq!(yaml["status"], "completed");
    assert_eq!(yaml["seed"], 4);
    assert_eq!(yaml["epochs_run"], 25);
    assert_eq!(
        yaml["metrics"]["val.accuracy"].as_f64().unwrap(),
        metrics["val.accuracy"]
    );
    assert_eq!(yaml["expect"][1]["expect"], "test.accuracy >= 0.9");
    let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().next(), Some("kind,epoch,step,metric,value"));
    // One row per step and metric (33 steps x 25 epochs x 2), plus epochs.
    assert_eq!(
        csv.lines().filter(|l| l.starts_with("step,")).count(),
        33 * 25 * 2
    );
    assert_eq!(
        csv.lines()
            .filter(|l| l.starts_with("epoch,") && l.contains("val.loss"))
            .count(),
        25
    );
    let ck = Checkpoint::load(&dir.join("checkpoint.safetensors")).unwrap();
    assert_eq!(ck.get("dense1.weight").unwrap().0, &[64, 2]);
    assert!(ck.get("optim.state2.dense3.bias").is_some());
    assert_eq!(ck.metadata["epochs_done"], "25");
}

#[test]
fn the_same_file_and_seed_give_the_same_metrics_bit_for_bit() {
    let src = SPIRALS
        .replace("epochs 25", "epochs 3")
        .replace("model { ", "model { dropout 0.1; ");
    let a = finished(&events(config(&src, &tempdir("det-a")))).1;
    let b = finished(&events(config(&src, &tempdir("det-b")))).1;
    assert_eq!(a, b);
    let c = finished(&events(config(
        &src.replace("seed 4", "seed 5"),
        &tempdir("det-c"),
    )))
    .1;
    assert_ne!(a, c);
}

#[test]
fn a_resumed_run_reaches_the_same_metrics_as_an_uninterrupted_one() {
    let four = SPIRALS
        .replace("epochs 25", "epochs 4")
        .replace("model { ", "model { dropout 0.1; ");
    let two = four.replace("epochs 4", "epochs 2");
    let whole = finished(&events(config(&four, &tempdir("whole")))).1;
    let runs = tempdir("resume");
    let (_, _, _, dir) = finished(&events(config(&two, &runs)));
    let mut cfg = config(&four, &runs);
    cfg.resume = Some(dir.clone());
    let ev = events(cfg);
    let epochs = epochs_of(&ev);
    assert_eq!(
        epochs,
        vec![2, 3],
        "resume continues after the last saved epoch"
    );
    let (_, resumed, _, resumed_dir) = finished(&ev);
    assert_eq!(resumed_dir, dir);
    assert_eq!(resumed, whole);
}

#[test]
fn a_diverging_run_fails_naming_epoch_and_step_and_keeps_a_checkpoint() {
    let src = "data synthetic spirals { classes 3 }\nmodel { dense 32 relu; dense 3 }\ntrain { optimizer sgd lr=1e12; epochs 3 }";
    let runs = tempdir("diverge");
    let ev = events(config(src, &runs));
    match ev.last().unwrap() {
        Event::Failed {
            kind,
            error,
            run_dir,
        } => {
            assert_eq!(*kind, FailureKind::Diverged);
            assert!(
                error.starts_with("training diverged at epoch 1, step "),
                "{error}"
            );
            // "Last good" would overstate it: only finiteness is known.
            assert!(
                error.contains("the last checkpoint, saved before the loss became non-finite")
                    && error.contains("its weights are finite but may already be far off"),
                "{error}"
            );
            let dir = run_dir.as_ref().unwrap();
            let ck = Checkpoint::load(&dir.join("checkpoint.safetensors")).unwrap();
            assert!(ck
                .tensors
                .iter()
                .all(|(_, _, d)| d.iter().all(|v| v.is_finite())));
            let yaml = std::fs::read_to_string(dir.join("run.yaml")).unwrap();
            assert!(yaml.contains("status: diverged"), "{yaml}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_unwritable_runs_folder_is_a_clear_failure() {
    let runs = tempdir("ro");
    let blocker = runs.join("file");
    std::fs::write(&blocker, "not a folder").unwrap();
    let mut cfg = config(SPIRALS, &runs);
    cfg.runs_dir = blocker.clone();
    match events(cfg).last().unwrap() {
        Event::Failed { kind, error, .. } => {
            assert_eq!(*kind, FailureKind::Io);
            assert!(
                error.starts_with(&format!(
                    "cannot create a run folder under {}",
                    blocker.display()
                )),
                "{error}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn stop_pause_and_resume_commands_are_obeyed() {
    let runs = tempdir("cmd");
    let src = SPIRALS.replace("epochs 25", "epochs 200");
    let (handle, rx) = run::start(config(&src, &runs));
    let mut it = rx.iter();
    assert!(matches!(it.next(), Some(Event::Started { .. })));
    handle.send(run::Command::Pause);
    handle.send(run::Command::SaveCheckpoint);
    handle.send(run::Command::Resume);
    handle.send(run::Command::Stop);
    let rest: Vec<Event> = it.collect();
    assert!(rest.iter().any(
        |e| matches!(e, Event::Log { message } if message.starts_with("checkpoint saved to"))
    ));
    let (status, ..) = finished(&rest);
    assert_eq!(status, Status::Stopped);
    handle.join();
}
