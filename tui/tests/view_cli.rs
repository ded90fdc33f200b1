//! `dlwb view`: finished runs read back from their folders and drawn into
//! ratatui's TestBackend — two configurations overlaid in distinct
//! colours, a seed group as its mean with a dim min–max band, keys that
//! hide an entry or ungroup the seeds, the selected run's weights.

mod common;

use std::path::Path;

use common::{dlwb, tempdir, text};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use dlwb::dashboard::view::Look;
use dlwb::viewer::state::{band, PALETTE};
use dlwb::viewer::{self, Viewer};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;
use ratatui::Terminal;

const FILE: &str = "experiment vw
data synthetic spirals { classes 2; samples 200; validation 25% }
model { dense 8 relu; dense classes }
train { optimizer adam lr=0.01; batch 50; epochs 3 }
";

/// Three runs: lr 0.01 with seeds 1 and 2 (one seed group), lr 0.1.
fn three_runs(tag: &str) -> std::path::PathBuf {
    let dir = tempdir(tag);
    std::fs::write(dir.join("vw.net"), FILE).unwrap();
    for sets in [
        ["train.seed=1", "train.optimizer=adam lr=0.01"],
        ["train.seed=2", "train.optimizer=adam lr=0.01"],
        ["train.seed=1", "train.optimizer=adam lr=0.1"],
    ] {
        let out = dlwb(
            &dir,
            &["--headless", "vw.net", "--set", sets[0], "--set", sets[1]],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    dir
}

fn render(v: &Viewer) -> Buffer {
    let mut t = Terminal::new(TestBackend::new(140, 40)).unwrap();
    let look = Look {
        color: true,
        braille: true,
    };
    t.draw(|f| viewer::draw::draw(f, v, look)).unwrap();
    t.backend().buffer().clone()
}

/// How many cells of the charts (the left 62%, below the header) are
/// drawn in `color`.
fn chart_cells(b: &Buffer, color: Color) -> usize {
    let mut n = 0;
    for y in 1..b.area.height - 1 {
        for x in 1..(b.area.width * 62 / 100) - 1 {
            let c = &b[(x, y)];
            n += usize::from(c.fg == color && c.symbol() != " ");
        }
    }
    n
}

fn screen(b: &Buffer) -> String {
    let mut s = String::new();
    for y in 0..b.area.height {
        for x in 0..b.area.width {
            s.push_str(b[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}

fn press(v: &mut Viewer, code: KeyCode) {
    v.on_key(KeyEvent::new(code, KeyModifiers::NONE));
}

#[test]
fn two_configurations_overlay_and_a_seed_group_draws_its_band() {
    let dir = three_runs("view-overlay");
    let mut v = viewer::open(&[dir.join("runs")]).unwrap();
    assert_eq!(v.runs.len(), 3);
    // Seeds 1 and 2 of lr 0.01 are one entry; lr 0.1 the other.
    let sizes: Vec<usize> = v.entries.iter().map(|e| e.members.len()).collect();
    assert_eq!(sizes.iter().sum::<usize>(), 3);
    assert!(sizes.contains(&2) && sizes.contains(&1), "{sizes:?}");
    let group = sizes.iter().position(|&n| n == 2).unwrap();
    let single = 1 - group;
    assert_eq!(v.monitor, "val.loss");

    let b = render(&v);
    let s = screen(&b);
    assert!(s.contains("lr=0.01 (2 seeds)"), "{s}");
    assert!(s.contains("lr=0.1\u{20}"), "{s}");
    assert!(s.contains("weights: "), "{s}");
    assert!(s.contains("val.loss 0."), "{s}");
    let (g, g_band) = PALETTE[group];
    let (single_color, single_band) = PALETTE[single];
    let (g_all, s_all) = (chart_cells(&b, g), chart_cells(&b, single_color));
    assert!(g_all > 20 && s_all > 20, "group {g_all}, single {s_all}");
    // The group's min–max band is drawn in its darker twin; a single run
    // has none.
    assert!(chart_cells(&b, g_band) > 10, "no band drawn");
    assert_eq!(chart_cells(&b, single_band), 0);

    // Hiding the group leaves only the other entry's colour on the charts.
    v.selected = group;
    press(&mut v, KeyCode::Char(' '));
    let b = render(&v);
    assert_eq!(chart_cells(&b, g) + chart_cells(&b, g_band), 0);
    assert!(chart_cells(&b, single_color) > 20);
    // `a` shows every entry again, `g` splits the group into its runs.
    press(&mut v, KeyCode::Char('a'));
    assert!(v.entries.iter().all(|e| e.visible));
    press(&mut v, KeyCode::Char('g'));
    assert_eq!(v.entries.len(), 3);
    assert!(screen(&render(&v)).contains("each run"));
    // The weights panel follows the selected run's parameters.
    press(&mut v, KeyCode::Char(']'));
    assert_eq!(v.param, 1);
    for _ in 0..10 {
        press(&mut v, KeyCode::Char(']'));
    }
    let params = v.selected_run().unwrap().histograms.last().unwrap().1.len();
    assert_eq!(v.param, params - 1);
}

#[test]
fn a_band_is_the_mean_min_and_max_at_each_shared_step() {
    let a = vec![(0.0, 1.0), (1.0, 3.0)];
    let b = vec![(0.0, 3.0), (1.0, 5.0), (2.0, 9.0)];
    let (mean, lo, hi) = band(&[&a, &b]);
    assert_eq!(mean, vec![(0.0, 2.0), (1.0, 4.0), (2.0, 9.0)]);
    assert_eq!(lo, vec![(0.0, 1.0), (1.0, 3.0), (2.0, 9.0)]);
    assert_eq!(hi, vec![(0.0, 3.0), (1.0, 5.0), (2.0, 9.0)]);
}

#[test]
fn view_without_runs_or_without_a_terminal_exits_2_saying_why() {
    let dir = tempdir("view-empty");
    std::fs::create_dir_all(dir.join("runs")).unwrap();
    let out = dlwb(&dir, &["view", "runs"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("runs holds no run folders"),
        "{}",
        text(&out.stderr)
    );
    let out = dlwb(&dir, &["view", "missing"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read missing"));
    let dir = three_runs("view-pipe");
    let out = dlwb(Path::new(&dir), &["view", "runs"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("draws on a terminal"),
        "{}",
        text(&out.stderr)
    );
}
