//! `dlwb report RUN_DIR... -o DIR`: `DIR/report.md` (experiment, the
//! settings that matter, final metrics, expect verdicts, compression) and
//! the SVG charts it links: loss and accuracy curves (train per step,
//! validation per epoch, several runs overlaid) and each parameter's
//! percentile bands over the epochs. Appended to `$GITHUB_STEP_SUMMARY`
//! when that is set.

mod charts;
mod markdown;

use std::io::Write;

use crate::cli::ReportArgs;
use crate::finished::FinishedRun;
use crate::{exit, load};

pub fn run(args: &ReportArgs) -> u8 {
    let mut loaded = Vec::new();
    for dir in &args.run_dirs {
        match FinishedRun::read(dir) {
            Ok(r) => loaded.push(r),
            Err(why) => {
                load::error(false, &dir.display().to_string(), &why);
                return exit::INVALID;
            }
        }
    }
    if let Err(e) = std::fs::create_dir_all(&args.output) {
        let out = args.output.display().to_string();
        load::error(false, &out, &format!("cannot create {out}: {e}"));
        return exit::FAILED;
    }
    let charts = match charts::draw(&loaded, &args.output) {
        Ok(c) => c,
        Err(why) => {
            load::error(false, &args.output.display().to_string(), &why);
            return exit::FAILED;
        }
    };
    let md = markdown::report(&loaded, &charts);
    let path = args.output.join("report.md");
    if let Err(e) = std::fs::write(&path, &md) {
        load::error(false, &path.display().to_string(), &e.to_string());
        return exit::FAILED;
    }
    if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY") {
        let appended = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&summary)
            .and_then(|mut f| f.write_all(md.as_bytes()));
        if let Err(e) = appended {
            eprintln!("warning: cannot append to $GITHUB_STEP_SUMMARY: {e}");
        }
    }
    println!("wrote {} and {} charts", path.display(), charts.len());
    exit::OK
}
