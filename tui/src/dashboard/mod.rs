//! `dlwb FILE` on a terminal: trains the experiment and shows it live, and
//! reloads it when the file is saved.

pub mod app;
mod changes;
pub mod view;
mod watch;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{self, Event as TermEvent, KeyEventKind};
use dlwb_engine::run::record::Parent;
use dlwb_engine::run::{self, Checkpoint, Command, Event, RunConfig, RunHandle};

use crate::cli::RunArgs;
use crate::load::{self, Loaded};
use crate::{exit, start};
use app::{Action, App, RunState};
use view::Look;

/// Redraws at most this often; training runs on its own thread.
const FRAME: Duration = Duration::from_millis(50);

/// What the signal handler can reach: the stop flag, whether the loop has
/// ended, and the current run (it changes with every reload).
#[derive(Default)]
struct Control {
    stop: AtomicBool,
    done: AtomicBool,
    run: std::sync::Mutex<Option<(std::sync::mpsc::Sender<Command>, Arc<AtomicBool>)>>,
}

impl Control {
    /// On SIGINT, SIGTERM or SIGHUP: ask the run to stop (it saves a
    /// checkpoint). Normally the loop then quits and restores the terminal;
    /// when it cannot — a hung-up terminal leaves crossterm spinning in its
    /// read — wait for the run to end, restore, and exit here.
    fn on_signal(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let run = self.run.lock().ok().and_then(|r| r.clone());
        if let Some((tx, _)) = &run {
            let _ = tx.send(Command::Interrupt);
        }
        for _ in 0..30 {
            if self.done.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if let Some((_, ended)) = &run {
            for _ in 0..600 {
                if ended.load(Ordering::SeqCst) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        ratatui::restore();
        std::process::exit(exit::INTERRUPTED as i32);
    }
}

struct Session<'a> {
    args: &'a RunArgs,
    file: &'a Path,
    /// The first run's settings (a `--resume` among them); reloads build
    /// their own.
    first: Option<RunConfig>,
    control: Arc<Control>,
    app: App,
    loaded: Loaded,
    run: Option<(RunHandle, Receiver<Event>)>,
    /// A checked edit waiting for the old run to stop: (source, graph, warm).
    pending: Option<(Loaded, bool)>,
}

impl Session<'_> {
    fn start(&mut self, warm: Option<Arc<Checkpoint>>, parent: Option<Parent>) {
        let cfg = self.first.take().unwrap_or_else(|| {
            let mut cfg = start::config(self.args, self.file, &self.loaded);
            cfg.warm_start = warm;
            cfg.parent = parent;
            cfg
        });
        let (handle, events) = run::start(cfg);
        if let Ok(mut r) = self.control.run.lock() {
            *r = Some((handle.commands(), handle.ended()));
        }
        self.run = Some((handle, events));
    }

    /// Stops the current run; the next one starts when it has finished.
    fn replace(&mut self, next: Loaded, warm: bool) {
        self.pending = Some((next, warm));
        match &self.run {
            Some((h, _)) if self.app.state.is_training() => h.send(Command::Stop),
            _ => self.start_pending(),
        }
    }

    fn start_pending(&mut self) {
        let Some((next, warm)) = self.pending.take() else {
            return;
        };
        let ck = if warm {
            self.app
                .run_dir
                .as_ref()
                .and_then(|d| Checkpoint::load(&d.join(run::record::CHECKPOINT)).ok())
                .map(Arc::new)
        } else {
            None
        };
        if let Some((h, _)) = self.run.take() {
            h.join();
        }
        // The new run remembers where the edit came from.
        let parent = self.app.run_dir.clone().map(|run_dir| Parent {
            run_dir,
            step: self.app.steps_done(),
            diff: diff(&self.loaded.source, &next.source, self.file),
        });
        self.loaded = next;
        self.start(ck, parent);
    }

    fn drain(&mut self) -> bool {
        let mut any = false;
        let mut ended = false;
        if let Some((_, rx)) = &self.run {
            while let Ok(e) = rx.try_recv() {
                ended |= matches!(e, Event::Finished { .. } | Event::Failed { .. });
                self.app.on_event(&e);
                any = true;
            }
        }
        if ended && self.pending.is_some() {
            self.start_pending();
        }
        any
    }

    /// A key press, as the app reads it.
    fn on_action(&mut self, k: crossterm::event::KeyEvent) {
        match self.app.on_key(k) {
            Action::Pause => send(self, Command::Pause),
            Action::Resume => send(self, Command::Resume),
            Action::Save => send(self, Command::SaveCheckpoint),
            Action::Restart => self.reload(false),
            // The Ctrl-C key does what SIGINT does.
            Action::Interrupt => {
                self.control.stop.store(true, Ordering::SeqCst);
                send(self, Command::Interrupt);
            }
            Action::Quit | Action::None => {}
        }
    }

    /// Stops the run (it saves a checkpoint) and waits for its last events.
    fn finish(&mut self) {
        let Some((h, rx)) = self.run.take() else {
            return;
        };
        if self.app.state.is_training() {
            h.send(if self.control.stop.load(Ordering::SeqCst) {
                Command::Interrupt
            } else {
                Command::Stop
            });
        }
        h.join();
        for e in rx.try_iter() {
            self.app.on_event(&e);
        }
    }

    /// A save: check the file; a bad edit leaves the run going.
    fn reload(&mut self, warm: bool) {
        let source = match std::fs::read_to_string(self.file) {
            Ok(s) => s,
            Err(e) => {
                self.app
                    .on_bad_edit(vec![format!("cannot read {}: {e}", self.file.display())]);
                return;
            }
        };
        if warm && source == self.loaded.source && self.app.diagnostics.is_empty() {
            return; // Touched, not changed.
        }
        match load::check_quietly(self.file, &source, &self.args.all_sets()) {
            Ok(next) => {
                let what = changes::describe(&self.loaded.graph, &next.graph);
                self.app.on_reload(&what);
                self.replace(next, warm);
            }
            Err(lines) => self.app.on_bad_edit(lines),
        }
    }
}

/// The edit from `old` to `new` as a unified diff of `file`.
fn diff(old: &str, new: &str, file: &Path) -> String {
    let name = file.display().to_string();
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&name, &name)
        .to_string()
}

pub fn run(args: &RunArgs) -> u8 {
    let planned = match start::plan(args, false) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Err(code) = crate::headless::check_device(&planned, false) {
        return code;
    }
    let file = planned.file.as_path();
    let look = Look::of_terminal();
    let watch = watch::watch(file).ok();
    let control = Arc::new(Control::default());
    {
        let control = Arc::clone(&control);
        let _ = ctrlc::set_handler(move || control.on_signal());
    }
    let stop = &control.stop;
    let mut s = Session {
        args,
        file,
        control: Arc::clone(&control),
        app: App::new(file.to_path_buf()),
        first: Some(planned.cfg),
        loaded: planned.loaded,
        run: None,
        pending: None,
    };
    // ratatui::init installs a panic hook that restores the terminal; the
    // run, started after it, installs one above it that keeps its own
    // threads' panics off the screen (they arrive as `failed` events).
    let mut terminal = ratatui::init();
    s.start(None, None);
    let mut last_draw = Instant::now() - FRAME;
    let mut dirty = true;
    let mut change_at: Option<Instant> = None;
    while !s.app.quit {
        dirty |= s.drain();
        if let Some(w) = &watch {
            while w.changes.try_recv().is_ok() {
                change_at = Some(Instant::now());
            }
        }
        if change_at.is_some_and(|t| t.elapsed() >= watch::DEBOUNCE) {
            change_at = None;
            s.reload(true);
            dirty = true;
        }
        if stop.load(Ordering::SeqCst) {
            s.app.quit = true;
            break;
        }
        if event::poll(FRAME / 2).unwrap_or(false) {
            if let Ok(TermEvent::Key(k)) = event::read() {
                if k.kind == KeyEventKind::Press {
                    s.on_action(k);
                }
            }
            dirty = true;
        }
        if dirty && last_draw.elapsed() >= FRAME {
            if terminal.draw(|f| view::draw(f, &s.app, look)).is_err() {
                break;
            }
            last_draw = Instant::now();
            dirty = false;
        }
    }
    s.finish();
    ratatui::restore();
    control.done.store(true, Ordering::SeqCst);
    if let Some(d) = &s.app.run_dir {
        // The terminal may be gone (a hangup): a failed write is not an error.
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "run folder: {}", d.display());
    }
    match s.app.state {
        RunState::Failed(kind, _) => exit::of_failure(kind),
        _ if stop.load(Ordering::SeqCst) => exit::INTERRUPTED,
        _ => exit::OK,
    }
}

fn send(s: &Session<'_>, c: Command) {
    if let Some((h, _)) = &s.run {
        h.send(c);
    }
}
