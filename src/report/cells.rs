//! Text cells for CSV files. A spreadsheet reads a cell that starts with
//! `=`, `+`, `-` or `@` (and, in some, a tab or carriage return) as a
//! formula, so a target that answers with the error code
//! `=cmd|' /C calc'!A0` would run code on the reader's machine. Every text
//! cell (names, steps, outcome codes, messages) goes through [`text`],
//! which puts a single quote in front of such a cell, as OWASP recommends.
//! Numbers are written as they are: `-1.5` stays a number.

use std::borrow::Cow;

/// The characters that make a spreadsheet evaluate a cell.
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// `s` as a CSV text cell: unchanged, or with a leading `'` when it would
/// otherwise start a formula.
pub fn text(s: &str) -> Cow<'_, str> {
    if s.starts_with(FORMULA_START) {
        Cow::Owned(format!("'{s}"))
    } else {
        Cow::Borrowed(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_csv_formula_cells_are_neutralised() {
        for hostile in [
            "=cmd|' /C calc'!A0",
            "+1+1",
            "-2+3",
            "@SUM(A1:A2)",
            "\t=1",
            "\r=1",
        ] {
            assert_eq!(text(hostile), format!("'{hostile}"), "{hostile:?}");
        }
    }

    #[test]
    fn report_csv_plain_cells_are_untouched() {
        for plain in [
            "compliant",
            "RATE_LIMITED",
            "http_503",
            "a=b",
            "x-y",
            "",
            "'quoted",
        ] {
            assert!(
                matches!(text(plain), Cow::Borrowed(p) if p == plain),
                "{plain:?}"
            );
        }
    }
}
