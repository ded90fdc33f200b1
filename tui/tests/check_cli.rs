//! `dlwb check` as a user runs it: exit codes, where output goes, formats.

mod common;

use common::{dlwb, root, tempdir, text};

#[test]
fn every_example_checks() {
    let mut n = 0;
    for entry in std::fs::read_dir(root().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "net") {
            let out = dlwb(&root(), &["check", path.to_str().unwrap()]);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{}: {}",
                path.display(),
                text(&out.stderr)
            );
            assert!(
                text(&out.stdout).contains("parameters:"),
                "{}",
                path.display()
            );
            n += 1;
        }
    }
    assert!(n >= 4, "only {n} examples");
}

#[test]
fn the_lstm_example_learns_its_vocabulary_from_the_corpus() {
    let out = dlwb(&root(), &["check", "examples/lstm.net"]);
    // 77 distinct characters in the shipped excerpt.
    assert!(
        text(&out.stdout).contains("dense1    dense    [64, 77]"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn an_invalid_file_exits_2_with_the_diagnostic_at_its_line() {
    let dir = tempdir("check1");
    let file = dir.join("bad.net");
    std::fs::write(
        &file,
        "data mnist { path \"d\" }\nmodel {\n    flatten\n    dence 10\n}\n",
    )
    .unwrap();
    let out = dlwb(&root(), &["check", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("error: unknown layer `dence`"), "{err}");
    assert!(err.contains("bad.net:4:5"), "{err}");
    assert!(err.contains("4 │     dence 10"), "{err}");
    assert!(err.contains("did you mean `dense`?"), "{err}");
    assert!(
        !err.contains('\u{1b}'),
        "NO_COLOR must give plain text: {err}"
    );
    assert!(text(&out.stdout).is_empty());
}

#[test]
fn json_diagnostics_carry_line_and_column() {
    let dir = tempdir("check2");
    let file = dir.join("bad.net");
    std::fs::write(&file, "data mnist { path \"d\" }\nmodel { dense 10 }\n").unwrap();
    let out = dlwb(&root(), &["check", "--json", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_str(text(&out.stderr).trim()).unwrap();
    assert_eq!(v[0]["line"], 2);
    assert_eq!(v[0]["column"], 9);
    assert_eq!(v[0]["message"], "dense needs a vector, got [1, 28, 28]");
    assert_eq!(v[0]["hint"], "add `flatten` before it");
}

#[test]
fn json_summary_of_a_valid_file() {
    let out = dlwb(&root(), &["check", "--json", "examples/mnist_mlp.net"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(v["params"], 109_386);
    assert_eq!(v["layers"][2]["name"], "dense1");
}

#[test]
fn a_missing_file_or_corpus_exits_2_naming_it() {
    let out = dlwb(&root(), &["check", "no/such/file.net"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read no/such/file.net"));

    let dir = tempdir("check3");
    let file = dir.join("t.net");
    std::fs::write(
        &file,
        "data text {\n    path \"missing.txt\"\n}\nmodel { embed 4; lstm 4; dense vocab }\n",
    )
    .unwrap();
    let out = dlwb(&root(), &["check", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("t.net:2:10"), "{err}");
    assert!(err.contains("missing.txt"), "{err}");
}

#[test]
fn help_lists_the_commands() {
    let out = dlwb(&root(), &["--help"]);
    let help = text(&out.stdout);
    for word in ["check", "--headless", "FILE"] {
        assert!(help.contains(word), "{word} missing from {help}");
    }
}

#[test]
fn check_finds_every_distillation_mistake_at_its_line() {
    let dir = tempdir("distill");
    let data = "data synthetic spirals { classes 2; samples 200 }\n";
    let teacher = format!("{data}model {{ dense 16 relu; dense classes }}\n");
    std::fs::write(dir.join("teacher.net"), &teacher).unwrap();
    let student = |compress: &str| {
        format!("{data}model {{ dense 4 relu; dense classes }}\ncompress {{ {compress} }}\n")
    };
    let cases = [
        (
            "distill teacher=\"nowhere.net\" checkpoint=\"t.safetensors\"",
            "error: cannot read the teacher nowhere.net",
        ),
        (
            "distill teacher=\"teacher.net\"",
            "error: `distill` needs the teacher's weights",
        ),
        (
            "distill teacher=\"teacher.net\" checkpoint=\"missing.safetensors\"",
            "error: cannot read checkpoint missing.safetensors",
        ),
    ];
    for (line, expected) in cases {
        std::fs::write(dir.join("s.net"), student(line)).unwrap();
        let out = dlwb(&dir, &["check", "s.net"]);
        assert_eq!(out.status.code(), Some(2), "{line}");
        let err = text(&out.stderr);
        assert!(
            err.contains(expected) && err.contains("s.net:3:12"),
            "{line}: {err}"
        );
    }
    // A loss the softened outputs cannot train.
    std::fs::write(
        dir.join("s.net"),
        student("distill teacher=\"teacher.net\"")
            .replace("compress", "train { loss mse }\ncompress"),
    )
    .unwrap();
    let out = dlwb(&dir, &["check", "s.net"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("distillation needs a model trained with cross_entropy"),
        "{}",
        text(&out.stderr)
    );
}
