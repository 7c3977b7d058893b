//! Names are data, not paths.
//!
//! Fleet, step, policy and scenario names come from scenario files and from
//! shard or stream files other runs wrote; they become parts of file names
//! (`<fleet>.<step>.hlog`, `<fleet>-attempt.hgrm`) and CSV cells. One rule
//! keeps every such file inside `--out` and every file name distinct:
//! 1 to [`MAX_LEN`] characters of ASCII letters, digits, `_` and `-`, not
//! starting with `-`. No `.` (it separates fleet from step in file names),
//! no `/` or `\`, no spaces, nothing a shell or a file system reads
//! specially.

/// The longest name accepted.
pub const MAX_LEN: usize = 64;

/// The rule, as the error messages state it.
pub const RULE: &str =
    "1 to 64 characters of ASCII letters, digits, `_` and `-`, not starting with `-`";

/// A character a name may hold (the rule, less its length and first `-`).
fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// `Ok` when `name` follows the rule; otherwise what is wrong with it.
pub fn check(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("a name must not be empty ({RULE})"));
    }
    if name.len() > MAX_LEN {
        return Err(format!(
            "`{}…` is {} bytes long; names are {RULE}",
            shown(name),
            name.len()
        ));
    }
    if let Some(c) = name.chars().find(|c| !name_char(*c)) {
        return Err(format!(
            "`{}` contains {:?}; names are {RULE}",
            shown(name),
            c
        ));
    }
    if name.starts_with('-') {
        return Err(format!("`{name}` starts with `-`; names are {RULE}"));
    }
    Ok(())
}

/// `name` as a TOML key is written: bare when it can be, else quoted (so
/// an error about `[policies."a.b"]` finds that header).
pub fn toml_key(name: &str) -> String {
    let bare = !name.is_empty() && name.chars().all(name_char);
    if bare {
        return name.to_string();
    }
    let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{escaped}\"")
}

/// A scenario's name when the file gives none: its file stem, with every
/// character outside the rule made `_` and cut to [`MAX_LEN`].
pub fn from_file_stem(path: &std::path::Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut name: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(MAX_LEN)
        .collect();
    if name.starts_with('-') {
        name.replace_range(0..1, "_");
    }
    if name.is_empty() {
        name = "scenario".into();
    }
    name
}

/// A name cut for an error message, on a character boundary, with control
/// characters made visible.
fn shown(name: &str) -> String {
    name.chars()
        .take(MAX_LEN)
        .flat_map(|c| c.escape_debug())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_pass() {
        for n in ["compliant", "naive-no-jitter", "step_2", "A", "0", "_x"] {
            assert_eq!(check(n), Ok(()), "{n}");
        }
        assert_eq!(check(&"a".repeat(MAX_LEN)), Ok(()));
    }

    #[test]
    fn paths_separators_dots_and_strangers_fail() {
        for n in [
            "",
            "../evil",
            "a/b",
            "a\\b",
            "a.b",
            ".hidden",
            "with space",
            "-flag",
            "é",
            "日本",
            "tab\there",
            "nul\0",
        ] {
            let e = check(n).unwrap_err();
            assert!(e.contains("ASCII letters"), "{n}: {e}");
        }
        let e = check(&"a".repeat(MAX_LEN + 1)).unwrap_err();
        assert!(e.contains("65 bytes"), "{e}");
    }

    #[test]
    fn a_long_multibyte_name_is_cut_on_a_character_boundary() {
        let e = check(&"é".repeat(100)).unwrap_err();
        assert!(e.contains("200 bytes"), "{e}");
    }

    #[test]
    fn a_file_stem_becomes_a_name() {
        use std::path::Path;
        assert_eq!(
            from_file_stem(Path::new("s/ticket-drop.toml")),
            "ticket-drop"
        );
        assert_eq!(from_file_stem(Path::new("my drop v2.toml")), "my_drop_v2");
        assert_eq!(from_file_stem(Path::new("-x.toml")), "_x");
        assert_eq!(from_file_stem(Path::new("")), "scenario");
        assert_eq!(check(&from_file_stem(Path::new("é.toml"))), Ok(()));
    }
}
