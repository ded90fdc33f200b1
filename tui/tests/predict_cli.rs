//! `dlwb predict` on a character model: text after a prompt, the same for
//! the same seed; and the mistakes it refuses.

mod common;

use common::{dlwb, first_run, tempdir, text};

#[test]
fn a_character_model_continues_a_prompt_the_same_way_for_a_seed() {
    let dir = tempdir("predict-text");
    let corpus = "to be or not to be, that is the question. ".repeat(40);
    std::fs::write(dir.join("c.txt"), corpus).unwrap();
    std::fs::write(
        dir.join("t.net"),
        "experiment t\ndata text { path \"c.txt\"; window 8 }\nmodel { embed 8; lstm 16; dense vocab }\ntrain { optimizer adam lr=0.01; batch 16; epochs 1 }\n",
    )
    .unwrap();
    let out = dlwb(&dir, &["--headless", "t.net"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let run = first_run(&dir.join("runs/t"));
    let run = run.to_str().unwrap();
    let say = |seed: &str| {
        let out = dlwb(
            &dir,
            &[
                "predict", run, "--prompt", "to be", "--chars", "30", "--seed", seed, "--json",
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let v: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
        v["text"].as_str().unwrap().to_string()
    };
    let once = say("3");
    assert!(once.starts_with("to be"), "{once}");
    assert_eq!(once.chars().count(), 5 + 30);
    assert_eq!(say("3"), once);

    // Images for a text model: refused, naming the file.
    std::fs::write(dir.join("x.idx"), [0u8; 16]).unwrap();
    let out = dlwb(&dir, &["predict", run, "x.idx"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("x.idx"), "{}", text(&out.stderr));
}
