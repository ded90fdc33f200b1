//! The dlwb front ends: the command line, the headless runner and the
//! dashboard. The only crate that touches the terminal; it knows nothing
//! of tensors beyond the numbers the engine's events carry.

pub mod bench_cmd;
pub mod check_cmd;
pub mod cli;
pub mod dashboard;
pub mod devices_cmd;
pub mod eval_cmd;
pub mod exit;
pub mod export_cmd;
pub mod finished;
pub mod format;
pub mod headless;
pub mod load;
pub mod out;
pub mod predict_cmd;
pub mod report;
pub mod run_dir;
pub mod runs_cmd;
pub mod start;
pub mod sweep;
pub mod system;
pub mod table;
pub mod viewer;
