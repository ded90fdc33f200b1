//! Resuming, as users rely on it: from a checkpoint taken at any step, a
//! run goes on exactly as if it had never stopped; a finished run is never
//! emptied; a folder in use is refused.

use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;

mod common;

use common::{config, events, tempdir};
use dlwb_engine::run::{self, Checkpoint, Command, Event, FailureKind, RunHandle, Status};

/// Dropout, augmentation, a schedule and early stopping: every stream and
/// every piece of state a resume must restore.
const IMAGES: &str = "experiment images
data synthetic { shape [1, 8, 8]; classes 3; samples 240; validation 20%; test 10%; augment random_crop 8 pad=1, flip horizontal }
model { conv 4 kernel=3 relu; flatten; dropout 0.2; dense 16 relu; dense classes }
train { optimizer adam lr=0.01; batch 16; epochs 4; seed 9; schedule cosine; early_stop monitor=val.loss patience=10 restore_best=true }
";

fn run_dir(events: &[Event]) -> PathBuf {
    events
        .iter()
        .find_map(|e| match e {
            Event::Started { run_dir, .. } => Some(run_dir.clone()),
            _ => None,
        })
        .expect("a started event")
}

fn last(events: &[Event]) -> &Event {
    events.last().expect("an event")
}

/// Named tensors, as a checkpoint holds them.
type Tensors = Vec<(String, Vec<usize>, Vec<f32>)>;

/// A run's end state: its checkpoint's tensors and metrics.csv.
fn outcome(dir: &Path) -> (Tensors, String) {
    let ck = Checkpoint::load(&dir.join("checkpoint.safetensors")).unwrap();
    let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    (ck.tensors, csv)
}

/// Resumes `dir` with `source`, which must be refused as invalid; the
/// message.
fn refused_resume(source: &str, runs: &Path, dir: &Path) -> String {
    let mut cfg = config(source, runs);
    cfg.resume = Some(dir.to_path_buf());
    match last(&events(cfg)) {
        Event::Failed { kind, error, .. } => {
            assert_eq!(*kind, FailureKind::InvalidData, "{error}");
            error.clone()
        }
        other => panic!("{other:?}"),
    }
}

/// A long run started and paused, with its folder.
fn paused(runs: &Path) -> (RunHandle, Receiver<Event>, PathBuf) {
    let (handle, rx) = run::start(config(&IMAGES.replace("epochs 4", "epochs 1000"), runs));
    let dir = match rx.recv().unwrap() {
        Event::Started { run_dir, .. } => run_dir,
        other => panic!("{other:?}"),
    };
    handle.send(Command::Pause);
    (handle, rx, dir)
}

/// A step chosen afresh each run (and printed, to replay a failure).
fn random_step(total: usize) -> usize {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as usize;
    1 + nanos % (total - 1)
}

#[test]
fn resuming_from_any_step_gives_the_uninterrupted_run_bit_for_bit() {
    let whole_runs = tempdir("whole");
    let whole = events(config(IMAGES, &whole_runs));
    let Event::Started {
        steps_per_epoch, ..
    } = &whole[0]
    else {
        panic!("{:?}", whole[0])
    };
    let spe = *steps_per_epoch;
    let expected = outcome(&run_dir(&whole));
    let Event::Finished { metrics, .. } = last(&whole) else {
        panic!("{:?}", last(&whole))
    };
    let step = random_step(4 * spe);
    // The random step, an epoch's last step (its end still to come) and
    // an epoch boundary.
    for stop in [step, spe, 2 * spe + 1] {
        let runs = tempdir(&format!("part{stop}"));
        let mut cfg = config(IMAGES, &runs);
        cfg.stop_after_steps = Some(stop);
        let first = events(cfg);
        assert!(
            matches!(
                last(&first),
                Event::Finished {
                    status: Status::Stopped,
                    ..
                }
            ),
            "stopping at step {stop}: {:?}",
            last(&first)
        );
        let dir = run_dir(&first);
        let mut cfg = config(IMAGES, &runs);
        cfg.resume = Some(dir.clone());
        let rest = events(cfg);
        let Event::Finished {
            metrics: resumed, ..
        } = last(&rest)
        else {
            panic!("resuming at step {stop}: {:?}", last(&rest))
        };
        assert_eq!(
            resumed, metrics,
            "final metrics after stopping at step {stop}"
        );
        let got = outcome(&dir);
        assert!(
            got.0 == expected.0,
            "weights differ after stopping at step {stop}"
        );
        assert_eq!(
            got.1, expected.1,
            "metrics.csv after stopping at step {stop}"
        );
    }
}

#[test]
fn a_completed_run_is_refused_and_left_as_it_was() {
    let runs = tempdir("done");
    let src = IMAGES.replace("epochs 4", "epochs 1");
    let dir = run_dir(&events(config(&src, &runs)));
    let before: Vec<Vec<u8>> = ["run.yaml", "metrics.csv", "checkpoint.safetensors"]
        .iter()
        .map(|f| std::fs::read(dir.join(f)).unwrap())
        .collect();
    assert_eq!(
        refused_resume(&src, &runs, &dir),
        format!(
            "{d} already completed (1 epochs); `--init {d}/checkpoint.safetensors` starts a new run from its weights, or `--epochs N` with N above 1 continues it",
            d = dir.display()
        )
    );
    let after: Vec<Vec<u8>> = ["run.yaml", "metrics.csv", "checkpoint.safetensors"]
        .iter()
        .map(|f| std::fs::read(dir.join(f)).unwrap())
        .collect();
    assert!(before == after, "a refused resume changed the run folder");
}

#[test]
fn continuing_a_completed_run_appends_its_epochs_once_each() {
    let runs = tempdir("more");
    let two = IMAGES.replace("epochs 4", "epochs 2");
    let dir = run_dir(&events(config(&two, &runs)));
    let mut cfg = config(IMAGES, &runs);
    cfg.resume = Some(dir.clone());
    let rest = events(cfg);
    assert!(matches!(
        last(&rest),
        Event::Finished {
            status: Status::Completed,
            ..
        }
    ));
    let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let epochs: Vec<&str> = csv
        .lines()
        .filter(|l| l.starts_with("epoch,") && l.contains(",val.loss,"))
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(epochs, ["0", "1", "2", "3"], "{csv}");
    let finals = csv.lines().filter(|l| l.starts_with("final,4,")).count();
    assert!(finals > 0 && csv.lines().filter(|l| l.starts_with("final,")).count() == finals);
    let yaml = std::fs::read_to_string(dir.join("run.yaml")).unwrap();
    assert!(
        yaml.contains("status: completed") && yaml.contains("epochs_run: 4"),
        "{yaml}"
    );
    assert!(yaml.contains("test.accuracy:"), "{yaml}");
}

#[test]
fn a_run_folder_in_use_is_refused_naming_the_process() {
    let runs = tempdir("busy");
    let (handle, rx, dir) = paused(&runs);
    assert_eq!(
        refused_resume(IMAGES, &runs, &dir),
        format!(
            "{} is in use by process {}",
            dir.display(),
            std::process::id()
        )
    );
    handle.send(Command::Stop);
    let rest: Vec<Event> = rx.iter().collect();
    handle.join();
    assert!(
        matches!(
            rest.last(),
            Some(Event::Finished {
                status: Status::Stopped,
                ..
            })
        ),
        "the first run goes on unharmed: {:?}",
        rest.last()
    );
}

#[test]
fn a_failed_checkpoint_write_leaves_no_temporary_file_and_records_failed() {
    let runs = tempdir("disk");
    let (handle, rx, dir) = paused(&runs);
    // What a full disk does to a write, made reproducible: the checkpoint
    // cannot be replaced.
    let ck = dir.join("checkpoint.safetensors");
    std::fs::remove_file(&ck).unwrap();
    std::fs::create_dir_all(ck.join("blocker")).unwrap();
    handle.send(Command::SaveCheckpoint);
    let rest: Vec<Event> = rx.iter().collect();
    handle.join();
    match rest.last() {
        Some(Event::Failed { kind, error, .. }) => {
            assert_eq!(*kind, FailureKind::Io);
            assert!(error.starts_with("cannot write checkpoint"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        !dir.join("checkpoint.tmp").exists(),
        "the temporary file is left behind"
    );
    let yaml = std::fs::read_to_string(dir.join("run.yaml")).unwrap();
    assert!(yaml.contains("status: failed"), "{yaml}");
    assert!(yaml.contains("error: 'cannot write checkpoint"), "{yaml}");
}

#[test]
fn an_epoch_of_no_batches_is_refused_before_anything_is_reported() {
    let runs = tempdir("none");
    let mut cfg = config(IMAGES, &runs);
    cfg.limit_batches = Some(0);
    let ev = events(cfg);
    assert_eq!(ev.len(), 1, "{ev:?}");
    match &ev[0] {
        Event::Failed {
            kind,
            error,
            run_dir,
        } => {
            assert_eq!(*kind, FailureKind::InvalidData);
            assert!(error.contains("--limit-batches 0"), "{error}");
            assert!(run_dir.is_none());
        }
        other => panic!("{other:?}"),
    }
}
