//! Whatever the input, checking returns diagnostics or a graph: it never
//! panics, and it finishes quickly.

mod common;

use proptest::prelude::*;

const VALID: &str = include_str!("../../examples/residual_mlp.net");
const LSTM: &str = include_str!("../../examples/lstm.net");

/// Pieces a person might type, so that mutations reach deep into checking.
const PIECES: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "\n",
    ";",
    ",",
    "=",
    "%",
    "-",
    "*",
    "/",
    "\"",
    "#",
    ":",
    ".",
    "0",
    "1e9",
    "-3",
    "0.5",
    "dense",
    "conv",
    "kernel=3",
    "pool max 2",
    "flatten",
    "lstm 8",
    "embed 4",
    "last",
    "residual {",
    "repeat 2 {",
    "classes",
    "vocab",
    "relu",
    "let x = 3\n",
    "block b(n) { dense n }\n",
    "b(2)",
    "x",
    "test.accuracy >= 0.9",
    "expect {",
    "train {",
    "model {",
    "data text {",
    "99999999999",
];

fn check_never_panics(src: &str) {
    let start = std::time::Instant::now();
    let _ = common::diagnostics(src);
    // Generous: a hang or an exponential blow-up, not a slow machine.
    assert!(
        start.elapsed().as_secs() < 5,
        "took {:?} on {src:?}",
        start.elapsed()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        check_never_panics(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn arbitrary_text(s in "\\PC{0,300}") {
        check_never_panics(&s);
    }

    #[test]
    fn mutations_of_valid_files(
        which in 0..2usize,
        edits in proptest::collection::vec((0..2000usize, 0..3usize, 0..PIECES.len()), 1..8),
    ) {
        let mut src = if which == 0 { VALID } else { LSTM }.to_string();
        for (pos, op, piece) in edits {
            let mut at = pos % (src.len() + 1);
            while !src.is_char_boundary(at) { at -= 1; }
            match op {
                0 => src.insert_str(at, PIECES[piece]),
                1 => {
                    let mut end = (at + 1 + piece % 12).min(src.len());
                    while !src.is_char_boundary(end) { end -= 1; }
                    src.replace_range(at..end, "");
                }
                _ => {
                    let mut end = (at + 3).min(src.len());
                    while !src.is_char_boundary(end) { end -= 1; }
                    src.replace_range(at..end, PIECES[piece]);
                }
            }
        }
        check_never_panics(&src);
    }
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    let deep = format!(
        "model {{ {} dense 1 {} }}",
        "residual { ".repeat(5000),
        "}".repeat(5000)
    );
    check_never_panics(&deep);
    let parens = format!("let x = {}1{}", "(".repeat(20000), ")".repeat(20000));
    check_never_panics(&parens);
}

#[test]
fn huge_repeat_and_sizes_are_bounded() {
    check_never_panics(
        "data synthetic spirals {}\nmodel { repeat 1000000000 { dense 99999999999 } }",
    );
    check_never_panics("data synthetic spirals {}\nblock b(n) { b(n) b(n) }\nmodel { b(1) }");
    let nested = "data synthetic spirals {}\nmodel { repeat 10000 { repeat 10000 { dense 2 } } }";
    assert_eq!(
        common::diagnostics(nested),
        vec!["2:9: error: this `repeat` expands to 100000000 layers, more than the 100000 a model may have (hint: repeat fewer times)"]
    );
}
