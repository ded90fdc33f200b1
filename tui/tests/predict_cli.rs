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

#[test]
fn csv_rows_get_a_class_name_and_probabilities() {
    let dir = tempdir("predict-csv");
    let mut csv = String::from("a,b,kind\n");
    for i in 0..60 {
        let (x, kind) = if i % 2 == 0 {
            (-1.0, "low")
        } else {
            (1.0, "high")
        };
        csv.push_str(&format!("{},{},{kind}\n", x + (i % 5) as f64 * 0.01, x));
    }
    std::fs::write(dir.join("d.csv"), csv).unwrap();
    std::fs::write(
        dir.join("c.net"),
        "experiment c\ndata csv { path \"d.csv\"; features [\"a\", \"b\"]; label \"kind\" }\nmodel { dense 4 relu; dense classes }\ntrain { optimizer adam lr=0.05; batch 20; epochs 20 }\n",
    )
    .unwrap();
    let out = dlwb(&dir, &["--headless", "c.net"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let run = first_run(&dir.join("runs/c"));
    // Columns in another order, and no label: predict reads them by name.
    std::fs::write(dir.join("new.csv"), "b,a\n-1,-1.02\n1,0.99\n").unwrap();
    let out = dlwb(
        &dir,
        &["predict", run.to_str().unwrap(), "new.csv", "--json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let labels: Vec<String> = text(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["probabilities"].as_array().unwrap().len(), 2);
            v["label"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(labels, ["low", "high"]);
    // A file without the data's columns: refused, naming the column.
    std::fs::write(dir.join("bad.csv"), "x,y\n1,2\n").unwrap();
    let out = dlwb(&dir, &["predict", run.to_str().unwrap(), "bad.csv"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("\"a\""), "{}", text(&out.stderr));
}
