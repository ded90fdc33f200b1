//! The dashboard in a real terminal (tmux): charts appear, a bad edit
//! shows its line, a good edit reloads, `q` then `y` quits with exit 0 and
//! leaves a usable shell; a crash shows in the header and `q` exits 3; the
//! Ctrl-C key interrupts as SIGINT does. CI installs tmux (.ci/run); elsewhere the test
//! says it was skipped when tmux is missing.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "t"])
    }

    fn wait_for(&self, what: &str, secs: u64) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(what) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "waited {secs} s for {what:?}; the screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}

const FILE: &str = "experiment spirals
data synthetic spirals { classes 3; samples 3000; validation 20% }
model { dense 64 relu; dense 64 relu; dense classes }
train { optimizer adam lr=0.003; epochs 100000; batch 32 }
";

/// A tmux session `width` columns wide running a plain shell in a fresh
/// folder holding `s.net`, with dlwb started on it; `None` (the test is
/// skipped) where tmux is missing outside CI.
fn start(tag: &str, width: u16) -> Option<(Tmux, PathBuf)> {
    start_with(tag, width, "")
}

/// [`start`], with `env` (`NAME=VALUE ...`) set for dlwb.
fn start_with(tag: &str, width: u16, env: &str) -> Option<(Tmux, PathBuf)> {
    launch(
        tag,
        width,
        &format!("{env} {} s.net", env!("CARGO_BIN_EXE_dlwb")),
    )
}

/// A tmux session in a fresh folder holding `s.net`, running `command`.
fn launch(tag: &str, width: u16, command: &str) -> Option<(Tmux, PathBuf)> {
    if Command::new("tmux").arg("-V").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have tmux: .ci/run installs it"
        );
        eprintln!("skipped: tmux is not installed");
        return None;
    }
    let dir = std::env::temp_dir().join(format!("dlwb-tmux-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("s.net"), FILE).unwrap();
    let t = Tmux {
        socket: format!("dlwb-test-{tag}-{}", std::process::id()),
    };
    let (w, dir_s) = (width.to_string(), dir.to_str().unwrap());
    t.run(&[
        "new-session",
        "-d",
        "-s",
        "t",
        "-x",
        &w,
        "-y",
        "34",
        "-c",
        dir_s,
        "env PS1='$ ' bash --norc --noprofile",
    ]);
    t.run(&["send-keys", "-t", "t", command, "Enter"]);
    Some((t, dir))
}

#[test]
fn a_sweep_on_a_terminal_is_live_and_q_stops_it_resumably() {
    let command = format!(
        "{} sweep s.net --grid train.batch=32,64 --parallel 2; echo rc=$?",
        env!("CARGO_BIN_EXE_dlwb")
    );
    let Some((t, _dir)) = launch("sweep", 120, &command) else {
        return;
    };
    t.wait_for("dlwb sweep spirals · 2 runs (2 running)", 30);
    let s = t.wait_for("val.loss 0.", 30);
    for what in [
        "batch=32",
        "batch=64",
        " loss · train",
        "weights: dense1.weight",
    ] {
        assert!(s.contains(what), "{what} missing:\n{s}");
    }
    t.run(&["send-keys", "-t", "t", "q"]);
    let s = t.wait_for("rc=130", 30);
    assert!(s.contains("interrupted"), "{s}");
    assert!(s.contains("sweep folder: runs/spirals/sweep-"), "{s}");
}

#[test]
fn edit_reload_and_quit_in_a_real_terminal() {
    let Some((t, dir)) = start("edit", 110) else {
        return;
    };
    let file = dir.join("s.net");
    t.wait_for("spirals · s.net · running", 30);
    t.wait_for(" loss · smoothing", 5);

    // A bad edit: its line on screen, the run goes on.
    std::fs::write(&file, format!("{FILE}model2 {{ dense 5 }}\n")).unwrap();
    t.wait_for("s.net:5:1: error: unknown section `model2`", 10);
    t.wait_for("did you mean", 1);
    assert!(t.screen().contains("· running"));

    // A good edit: the run reloads warm.
    std::fs::write(
        &file,
        FILE.replace(
            "dense 64 relu; dense 64 relu",
            "dense 64 relu; dense 32 relu",
        ),
    )
    .unwrap();
    let s = t.wait_for("(reloaded ×1)", 15);
    assert!(
        !s.contains("log · the file does not check") && !s.contains("unknown section `model2`"),
        "the diagnostics cleared:\n{s}"
    );
    t.wait_for("reloaded: layers changed dense2", 5);

    t.run(&["send-keys", "-t", "t", "q"]);
    t.wait_for("Quit? (y/n)", 5);
    t.run(&["send-keys", "-t", "t", "y"]);
    t.wait_for("run folder:", 20);
    t.run(&["send-keys", "-t", "t", "echo OK-$?", "Enter"]);
    t.wait_for("OK-0", 10);

    // The reloaded run says where it came from: the first run, its step,
    // and the edit as a diff.
    let mut runs: Vec<_> = std::fs::read_dir(dir.join("runs/spirals"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    runs.sort();
    assert_eq!(runs.len(), 2, "{runs:?}");
    let parent = &common::yaml(&runs[1].join("run.yaml"))["parent"];
    assert!(
        parent["run_dir"]
            .as_str()
            .unwrap()
            .ends_with(runs[0].file_name().unwrap().to_str().unwrap()),
        "{parent:?}"
    );
    assert!(parent["step"].as_u64().unwrap() > 0, "{parent:?}");
    let diff = parent["diff"].as_str().unwrap();
    assert!(
        diff.contains("-model { dense 64 relu; dense 64 relu; dense classes }")
            && diff.contains("+model { dense 64 relu; dense 32 relu; dense classes }"),
        "{diff}"
    );
    // `dlwb runs` shows the reload under its parent.
    let out = common::dlwb(&dir, &["runs"]);
    let table = common::text(&out.stdout);
    assert!(table.lines().nth(2).unwrap().starts_with("└ "), "{table}");
}

#[test]
fn closing_the_terminal_stops_the_run_and_keeps_its_checkpoint() {
    let Some((t, dir)) = start("hup", 100) else {
        return;
    };
    t.wait_for("spirals · running", 30);
    // Closing the terminal: SIGHUP, and a terminal that reads nothing.
    t.run(&["kill-server"]);
    let start = Instant::now();
    let yaml = loop {
        let run = common::first_run(&dir.join("runs/spirals"));
        let yaml = std::fs::read_to_string(run.join("run.yaml")).unwrap();
        if yaml.contains("status: interrupted") {
            break yaml;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the run did not stop:\n{yaml}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(yaml.contains("finished: 2"), "{yaml}");
    // And the process is gone, not spinning on the dead terminal.
    let start = Instant::now();
    loop {
        let out = Command::new("pgrep")
            .args(["-f", &format!("{} s.net", env!("CARGO_BIN_EXE_dlwb"))])
            .output()
            .unwrap();
        let alive = String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|pid| std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd == dir));
        if !alive {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "dlwb is still running after the hangup"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_crash_shows_in_the_header_and_q_exits_3_with_the_terminal_restored() {
    let Some((t, dir)) = start_with("crash", 110, "DLWB_TEST_PANIC_AT_STEP=200") else {
        return;
    };
    let s = t.wait_for("spirals · s.net · crashed", 30);
    assert!(
        !s.contains("panicked"),
        "no backtrace over the screen:\n{s}"
    );
    t.wait_for("the training thread crashed", 5);
    t.run(&["send-keys", "-t", "t", "q"]);
    t.wait_for("run folder:", 20);
    t.run(&["send-keys", "-t", "t", "echo OK-$?", "Enter"]);
    t.wait_for("OK-3", 10);
    let run = common::first_run(&dir.join("runs/spirals"));
    let yaml = std::fs::read_to_string(run.join("run.yaml")).unwrap();
    assert!(yaml.contains("status: crashed"), "{yaml}");
}

#[test]
fn the_ctrl_c_key_checkpoints_marks_the_run_interrupted_and_exits_130() {
    let Some((t, dir)) = start("ctrlc", 110) else {
        return;
    };
    t.wait_for("spirals · s.net · running", 30);
    t.run(&["send-keys", "-t", "t", "C-c"]);
    t.wait_for("run folder:", 20);
    t.run(&["send-keys", "-t", "t", "echo OK-$?", "Enter"]);
    t.wait_for("OK-130", 10);
    let run = common::first_run(&dir.join("runs/spirals"));
    let yaml = std::fs::read_to_string(run.join("run.yaml")).unwrap();
    assert!(yaml.contains("status: interrupted"), "{yaml}");
    assert!(run.join("checkpoint.safetensors").is_file());
}
