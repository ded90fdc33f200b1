//! The dashboard without a terminal: state from events and keys, and what
//! each panel draws for a given history (ratatui's TestBackend).

use std::collections::BTreeMap;
use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use dlwb::dashboard::app::{Action, App, Panel, RunState};
use dlwb::dashboard::view::{self, Look};
use dlwb_engine::run::events::{Histogram, LayerRow};
use dlwb_engine::run::{Event, ExpectResult, Status};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn started(epochs: usize, kept: usize) -> Event {
    Event::Started {
        experiment: "mnist_mlp".into(),
        run_dir: PathBuf::from("runs/mnist_mlp/t"),
        device: "cpu".into(),
        threads: 2,
        params: 109_386,
        epochs,
        steps_per_epoch: 10,
        train_samples: 640,
        layers: vec![
            LayerRow {
                name: "flatten1".into(),
                kind: "flatten".into(),
                output: "[784]".into(),
                params: 0,
            },
            LayerRow {
                name: "dense1".into(),
                kind: "dense+relu".into(),
                output: "[128]".into(),
                params: 100_480,
            },
        ],
        warm_kept: kept,
        warm_reinitialized: if kept > 0 { 2 } else { 0 },
        resumed_at: None,
    }
}

fn step(epoch: usize, step: usize, loss: f64) -> Event {
    Event::Step {
        epoch,
        step,
        global_step: epoch * 10 + step,
        loss,
        accuracy: Some(1.0 - loss / 3.0),
        lr: 1e-3,
        samples_per_s: 45_200.0,
        eta_s: 75.0,
    }
}

fn epoch_end(epoch: usize, val: f64) -> Event {
    Event::Epoch {
        epoch,
        global_step: (epoch + 1) * 10,
        lr: 1e-3,
        metrics: BTreeMap::from([
            ("val.loss".to_string(), val),
            ("val.accuracy".to_string(), 1.0 - val / 3.0),
        ]),
        seconds: 1.0,
    }
}

fn hist(epoch: usize) -> Event {
    let h = |name: &str, s: f32| Histogram {
        name: name.into(),
        min: -s,
        max: s,
        counts: vec![1, 3, 9, 3, 1],
        percentiles: [-s, -s / 2.0, -s / 4.0, 0.0, s / 4.0, s / 2.0, s],
    };
    Event::Histograms {
        epoch,
        global_step: (epoch + 1) * 10,
        params: vec![h("dense1.weight", 0.1), h("dense1.bias", 0.2)],
    }
}

/// Two epochs of one run.
fn history() -> App {
    let mut app = App::new(PathBuf::from("examples/mnist_mlp.net"));
    app.on_event(&started(5, 0));
    for e in 0..2 {
        for s in 0..10 {
            app.on_event(&step(e, s, 2.3 - 0.1 * (e * 10 + s) as f64));
        }
        app.on_event(&epoch_end(e, 1.0 - 0.2 * e as f64));
        app.on_event(&hist(e));
    }
    app
}

fn render(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| {
        view::draw(
            f,
            app,
            Look {
                color: false,
                braille: true,
            },
        )
    })
    .unwrap();
    let buf = t.backend().buffer().clone();
    (0..h)
        .map(|y| {
            (0..w)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn events_drive_progress_curves_and_histograms() {
    let app = history();
    assert_eq!(app.state, RunState::Running);
    assert_eq!((app.epoch, app.epochs, app.step), (2, 5, 0));
    assert!((app.progress() - 0.4).abs() < 1e-9);
    let seg = &app.segments[0];
    assert_eq!(seg.train_loss.len(), 20);
    assert_eq!(seg.train_loss[0], (1.0, 2.3));
    assert_eq!(seg.val_loss, vec![(10.0, 1.0), (20.0, 0.8)]);
    assert_eq!(app.param_names(), vec!["dense1.weight", "dense1.bias"]);
}

#[test]
fn keys_pause_resume_select_smooth_and_confirm_quit() {
    let mut app = history();
    assert_eq!(app.on_key(key(' ')), Action::Pause);
    assert_eq!(app.state, RunState::Paused);
    assert_eq!(app.on_key(key(' ')), Action::Resume);
    assert_eq!(app.on_key(key(']')), Action::None);
    assert_eq!(app.selected, 1);
    app.on_key(key(']'));
    assert_eq!(app.selected, 0, "wraps around");
    app.on_key(key('['));
    assert_eq!(app.selected, 1);
    let s = app.smoothing;
    app.on_key(key('+'));
    assert_eq!(app.smoothing, s + 1);
    app.on_key(key('l'));
    assert!(app.log_scale);
    app.on_key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE));
    assert_eq!(app.focus, Panel::Weights);
    assert_eq!(app.on_key(key('s')), Action::Save);
    assert_eq!(app.on_key(key('r')), Action::Restart);
    // Quitting while training asks first; anything but `y` cancels.
    assert_eq!(app.on_key(key('q')), Action::None);
    assert!(app.confirm_quit);
    assert_eq!(app.on_key(key('n')), Action::None);
    assert!(!app.quit);
    app.on_key(key('q'));
    assert_eq!(app.on_key(key('y')), Action::Quit);
    assert!(app.quit);
}

#[test]
fn a_finished_run_quits_without_asking() {
    let mut app = history();
    app.on_event(&Event::Finished {
        status: Status::Completed,
        metrics: BTreeMap::from([("test.accuracy".to_string(), 0.98)]),
        expect: vec![ExpectResult {
            expect: "test.accuracy >= 0.975".into(),
            metric: "test.accuracy".into(),
            value: Some(0.98),
            met: true,
            line: 23,
        }],
        run_dir: PathBuf::from("runs/mnist_mlp/t"),
    });
    assert_eq!(app.state, RunState::Finished(Status::Completed));
    assert_eq!(app.on_key(key('q')), Action::Quit);
}

#[test]
fn a_bad_edit_shows_diagnostics_until_a_good_one_reloads_with_curves_kept() {
    let mut app = history();
    app.on_bad_edit(vec![
        "examples/mnist_mlp.net:12:5: error: unknown layer `dence` (hint: did you mean `dense`?)"
            .into(),
    ]);
    assert_eq!(app.state, RunState::Running, "the run goes on");
    let screen = render(&app, 120, 40);
    assert!(
        screen.contains("examples/mnist_mlp.net:12:5: error: unknown layer `dence`"),
        "{screen}"
    );
    assert!(screen.contains("log · the file does not check"));

    app.on_reload("layers changed dense1");
    assert!(app.diagnostics.is_empty());
    assert_eq!(app.state, RunState::Reloading);
    app.on_event(&Event::Finished {
        status: Status::Stopped,
        metrics: BTreeMap::new(),
        expect: vec![],
        run_dir: PathBuf::from("runs/x"),
    });
    app.on_event(&started(5, 4));
    app.on_event(&step(0, 0, 0.9));
    assert_eq!(app.segments.len(), 2);
    assert_eq!(
        app.segments[1].offset, 20.0,
        "the new run continues the step axis"
    );
    assert_eq!(app.segments[1].train_loss, vec![(21.0, 0.9)]);
    let screen = render(&app, 120, 40);
    assert!(screen.contains("running (reloaded ×1)"), "{screen}");
    assert!(
        screen.contains("reloaded: layers changed dense1 · 4 parameters kept, 2 initialized anew"),
        "{screen}"
    );
}

#[test]
fn the_wide_layout_draws_every_panel() {
    let screen = render(&history(), 120, 40);
    for want in [
        "mnist_mlp · examples/mnist_mlp.net · running · cpu×2 · epoch 3/5 step 0/10 · 45.2k samples/s · eta 0:01:15",
        "40%",
        " loss · smoothing 0.60",
        " accuracy",
        " model · 109,386 parameters",
        "dense1      ",
        "dense+relu",
        "weights: dense1.weight (1/2)",
        "epoch 2: val.accuracy 0.7333  val.loss 0.8000",
    ] {
        assert!(screen.contains(want), "missing {want:?} in\n{screen}");
    }
}

#[test]
fn the_compact_layout_fits_80x24_and_follows_focus() {
    let mut app = history();
    let screen = render(&app, 80, 24);
    assert!(
        screen.contains("mnist_mlp · running · ep 3/5 0/10 · 45.2k/s · eta 0:01:15"),
        "{screen}"
    );
    assert!(screen.contains(" loss"), "{screen}");
    assert!(screen.contains(" log "), "{screen}");
    assert!(
        !screen.contains(" model ·"),
        "the model panel waits for focus at 80x24"
    );
    app.on_key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE));
    app.on_key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE));
    assert!(render(&app, 80, 24).contains(" model · 109,386 parameters"));
    app.on_key(key('e'));
    assert!(render(&app, 80, 24).contains(" model · 109,386 parameters"));
}

#[test]
fn help_lists_the_keys_and_tiny_terminals_do_not_panic() {
    let mut app = history();
    app.on_key(key('?'));
    let screen = render(&app, 100, 30);
    for k in view::KEYS {
        assert!(screen.contains(k.1), "help lacks {:?}\n{screen}", k.1);
    }
    app.on_key(key('x'));
    assert!(!app.help, "any key closes help");
    for (w, h) in [(1, 1), (10, 4), (30, 8), (80, 24)] {
        render(&app, w, h);
    }
}

#[test]
fn smoothing_and_decimation_keep_the_shape_and_the_spikes() {
    use dlwb::dashboard::view::{decimate, ema};
    let flat: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, 2.0)).collect();
    assert!(
        ema(&flat, 0.9).iter().all(|p| (p.1 - 2.0).abs() < 1e-12),
        "bias-corrected: no pull toward zero"
    );
    let mut long: Vec<(f64, f64)> = (0..10_000).map(|i| (i as f64, 1.0)).collect();
    long[5_000].1 = 50.0;
    let d = decimate(&long, 100);
    assert!(d.len() <= 200);
    assert!(d.iter().any(|p| p.1 == 50.0), "the spike survives");
}

#[test]
fn ctrl_c_interrupts_as_sigint_does() {
    let mut app = history();
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(app.on_key(ctrl_c), Action::Interrupt);
    assert!(app.quit);
}

#[test]
fn a_crash_is_named_in_the_header_and_the_log_and_q_quits() {
    let mut app = history();
    app.on_event(&Event::Failed {
        kind: dlwb_engine::run::FailureKind::Crashed,
        error: "the training thread crashed: boom at engine/src/x.rs:1:1".into(),
        run_dir: None,
    });
    assert_eq!(app.state.label(), "crashed");
    let screen = render(&app, 140, 40);
    assert!(screen.contains("· crashed"), "{screen}");
    assert!(
        screen.contains("the training thread crashed: boom"),
        "{screen}"
    );
    assert_eq!(app.on_key(key('q')), Action::Quit);
}

#[test]
fn axes_label_what_the_curves_hold() {
    use dlwb::dashboard::view::charts::{y_axis, Scale};
    // A flat accuracy of 1.0: a narrow band below it, never above 1.
    let flat = y_axis(1.0, 1.0, Scale::Fraction);
    assert_eq!(flat.labels, ["0.950".to_string(), "1.000".to_string()]);
    // Losses are not padded below zero.
    let loss = y_axis(0.0, 0.704, Scale::Linear);
    assert_eq!(loss.labels, ["0.000".to_string(), "0.739".to_string()]);
    // Log axes run between whole decades around the values, labelled in
    // the values' units: a loss from 0.704 down to 0.0003.
    let log = y_axis(0.0003f64.log10(), 0.704f64.log10(), Scale::Log10);
    assert_eq!(log.labels, ["1.00e-4".to_string(), "1.000".to_string()]);
}

#[test]
fn a_resumed_run_says_where_it_goes_on() {
    let mut app = App::new(PathBuf::from("examples/mnist_mlp.net"));
    let mut ev = started(5, 0);
    if let Event::Started { resumed_at, .. } = &mut ev {
        *resumed_at = Some((3, 4));
    }
    app.on_event(&ev);
    let screen = render(&app, 140, 40);
    assert!(
        screen.contains("resumed after 3 epochs and 4 steps of the next"),
        "{screen}"
    );
}
