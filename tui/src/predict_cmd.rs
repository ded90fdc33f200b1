//! `dlwb predict RUN_DIR INPUT...`: a trained run's model on new inputs
//! (IDX images, CSV rows), or a character model's text after a prompt.

use std::path::Path;

use dlwb_engine::predict::{PredictInput, PredictRequest, Prediction};

use crate::cli::PredictArgs;
use crate::run_dir::OpenRun;
use crate::{exit, load, out};

pub fn run(args: &PredictArgs) -> u8 {
    let run = match OpenRun::open(&args.run_dir, args.json) {
        Ok(r) => r,
        Err(code) => return code,
    };
    if args.inputs.is_empty() && args.prompt.is_none() {
        load::error(
            args.json,
            "",
            "give input files (IDX images, CSV rows) or, for a character model, --prompt TEXT",
        );
        return exit::INVALID;
    }
    let weights = OpenRun::weights(&args.run_dir, &args.checkpoint);
    let threads = Some(args.threads.unwrap_or(run.record.threads));
    let mut inputs: Vec<(String, PredictInput<'_>)> = args
        .inputs
        .iter()
        .map(|p| (p.display().to_string(), input_of(p)))
        .collect();
    if let Some(text) = &args.prompt {
        let prompt = PredictInput::Prompt {
            text,
            chars: args.chars,
            temperature: args.temperature,
            seed: args.seed,
        };
        inputs.push(("--prompt".into(), prompt));
    }
    for (name, input) in inputs {
        let request = PredictRequest {
            graph: &run.loaded.graph,
            base: &run.base,
            weights: &weights,
            input,
            threads,
        };
        match dlwb_engine::predict::run(&request) {
            Ok(predictions) => print(args.json, &name, &predictions),
            Err(e) => {
                load::error(args.json, &name, &e.to_string());
                return exit::of_failure(e.kind());
            }
        }
    }
    exit::OK
}

/// CSV rows by their extension; anything else is read as IDX images.
fn input_of(path: &Path) -> PredictInput<'_> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("csv") => PredictInput::Rows(path),
        _ => PredictInput::Images(path),
    }
}

fn print(json: bool, input: &str, predictions: &[Prediction]) {
    for p in predictions {
        match p {
            Prediction::Text(text) if json => {
                out::line(serde_json::json!({ "text": text }));
            }
            Prediction::Text(text) => {
                out::line(text);
            }
            Prediction::Class {
                item,
                class,
                label,
                probabilities,
            } if json => {
                out::line(serde_json::json!({
                    "input": input,
                    "item": item,
                    "class": class,
                    "label": label,
                    "probabilities": probabilities,
                }));
            }
            Prediction::Class {
                item,
                class,
                label,
                probabilities,
            } => {
                let name = label.clone().unwrap_or_else(|| class.to_string());
                out::line(format!(
                    "{input}[{item}]: {name} ({:.4})",
                    probabilities[*class]
                ));
            }
        }
    }
}
