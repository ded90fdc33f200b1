//! The teacher `distill` names: its file (relative to the student's),
//! checked, compiled, and loaded from its checkpoint. `dlwb check` loads it
//! too, so that every mistake in a `distill` line is found before a run.

use std::path::Path;

use dlwb_dsl::experiment::Distill;
use dlwb_dsl::{CheckOptions, Graph};

use std::sync::Arc;

use super::Checkpoint;
use crate::backend::cpu::Cpu;
use crate::backend::Backend;
use crate::network::{compile_on, Network};
use crate::params::Fit;

/// The teacher's network with its weights on the CPU, or why it cannot be
/// had: what `dlwb check` asks.
pub(crate) fn load(d: &Distill, base: &Path, student: &Graph) -> Result<Network, String> {
    load_on(Arc::new(Cpu::default()), d, base, student)
}

/// [`load`] onto backend `be`, beside the student.
pub(crate) fn load_on<B: Backend>(
    be: Arc<B>,
    d: &Distill,
    base: &Path,
    student: &Graph,
) -> Result<Network<B>, String> {
    let path = base.join(&d.teacher);
    let source = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read the teacher {}: {e}", path.display()))?;
    // Checked without its own teacher: a chain of teachers is not loaded,
    // and a file naming itself cannot recurse.
    let g = crate::check_alone(
        &source,
        path.parent().unwrap_or(Path::new(".")),
        &CheckOptions::default(),
    )
    .map_err(|diags| {
        format!(
            "the teacher {} does not check: {}",
            path.display(),
            dlwb_dsl::render::lines(&diags, &path.display().to_string(), &source).join("; ")
        )
    })?;
    if g.facts != student.facts || g.output() != student.output() {
        return Err(format!(
            "the teacher {} does not fit this data and output ({} vs {})",
            path.display(),
            g.output(),
            student.output()
        ));
    }
    let Some(c) = &d.checkpoint else {
        return Err("`distill` needs the teacher's weights: add checkpoint=\"runs/.../checkpoint.safetensors\"".into());
    };
    let ck_path = base.join(c);
    let ck = Checkpoint::load(&ck_path).map_err(|e| e.to_string())?;
    let mut net = compile_on(be, &g, 0).map_err(|e| e.to_string())?;
    net.params
        .load(&ck, Fit::Every)
        .map_err(|u| format!("the teacher's checkpoint {} has no {u}", ck_path.display()))?;
    Ok(net)
}
