//! Printing a command's results to stdout. A reader that goes away (`|
//! head`) ends the output quietly instead of panicking as `println!`
//! would.

use std::io::Write;

/// Prints `line` and a newline; false once stdout is closed.
pub fn line(line: impl std::fmt::Display) -> bool {
    writeln!(std::io::stdout().lock(), "{line}").is_ok()
}
