//! Finding where a key sits in a scenario file, so a semantic error found
//! after parsing ("rate must be > 0") still names `file:line:column`.
//!
//! serde gives spans only for syntax and type errors; for checks made on the
//! parsed structs we look the dotted key path (`load.stages[1].rate`) up in
//! the source text. It understands `[table]`, `[[array.of.tables]]` and
//! `key = value` lines, which is what our scenario files use; when it cannot
//! find the key it falls back to the enclosing table header, then line 1.

/// 1-based line and column of the key at `path` in `src`.
pub fn locate(src: &str, path: &str) -> (usize, usize) {
    // `[[cohorts]]` is the older name of `[[fleets]]`: point at what the
    // file says.
    let older;
    let path = match path.strip_prefix("fleets") {
        Some(rest) if !has_array(src, "fleets") && has_array(src, "cohorts") => {
            older = format!("cohorts{rest}");
            older.as_str()
        }
        _ => path,
    };
    let parts: Vec<(&str, Option<usize>)> = segments(path)
        .into_iter()
        .map(|p| match p.find('[') {
            Some(i) => (&p[..i], p[i + 1..].trim_end_matches(']').parse().ok()),
            None => (p, None),
        })
        .collect();
    let lines: Vec<&str> = src.lines().collect();
    // The path may name a table itself (`[policies.mine]`, `[[fleets]]`).
    let whole: Vec<&str> = parts.iter().map(|(n, _)| *n).collect();
    if let Some(line) = find_header(&lines, &whole.join("."), parts.last().and_then(|p| p.1)) {
        return (line + 1, 1);
    }
    // Find the deepest table header that is a prefix of the path.
    let mut best: Option<(usize, usize)> = None; // (parts consumed, header line index)
    for depth in (1..parts.len()).rev() {
        let header: Vec<&str> = parts[..depth].iter().map(|(n, _)| *n).collect();
        let name = header.join(".");
        let index = parts[depth - 1].1;
        if let Some(line) = find_header(&lines, &name, index) {
            best = Some((depth, line));
            break;
        }
    }
    let (start, consumed) = match best {
        Some((depth, line)) => (line + 1, depth),
        None => (0, 0),
    };
    let key = parts.get(consumed).map(|(n, _)| *n).unwrap_or("");
    for (i, line) in lines.iter().enumerate().skip(start) {
        let t = line.trim_start();
        if t.starts_with('[') && i > start.saturating_sub(1) && consumed > 0 {
            break; // next table: the key is not in this one
        }
        if consumed == 0 && t.starts_with('[') {
            break;
        }
        if let Some(rest) = t.strip_prefix(key) {
            let rest = rest.trim_start();
            if rest.starts_with('=') || rest.starts_with('.') {
                return (i + 1, line.len() - t.len() + 1);
            }
        }
    }
    match best {
        Some((_, line)) => (line + 1, 1),
        None => (1, 1),
    }
}

/// The dotted path's segments; a quoted one (`policies."a.b"`) is one
/// segment, quotes kept, as the file writes it.
fn segments(path: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in path.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '.' if !quoted => {
                out.push(&path[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&path[start..]);
    out
}

fn has_array(src: &str, name: &str) -> bool {
    let lines: Vec<&str> = src.lines().collect();
    find_header(&lines, name, None).is_some()
}

fn find_header(lines: &[&str], name: &str, index: Option<usize>) -> Option<usize> {
    let single = format!("[{name}]");
    let array = format!("[[{name}]]");
    let mut seen = 0;
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim();
        let t = t.split('#').next().unwrap_or("").trim();
        if t == array {
            if index.is_none_or(|n| n == seen) {
                return Some(i);
            }
            seen += 1;
        } else if t == single && index.is_none() {
            return Some(i);
        }
    }
    None
}

/// Line and column (1-based) of a byte offset.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "name = \"x\"\n\n[load]\nmodel = \"open\"\nmax_in_flight = 0\n\n[[load.stages]]\nduration = \"1s\"\nrate = 5\n\n[[load.stages]]\nduration = \"1s\"\nrate = -1\n";

    #[test]
    fn a_quoted_table_name_is_one_segment() {
        let src = "compare = [\"a.b\"]\n\n[policies.\"a.b\"]\npreset = \"naive\"\n";
        assert_eq!(locate(src, "policies.\"a.b\""), (3, 1));
        assert_eq!(locate(src, "policies.\"a.b\".preset"), (4, 1));
        assert_eq!(
            segments("policies.\"../p\".preset"),
            ["policies", "\"../p\"", "preset"]
        );
    }

    #[test]
    fn finds_top_level_key() {
        assert_eq!(locate(SRC, "name"), (1, 1));
    }

    #[test]
    fn finds_key_in_table() {
        assert_eq!(locate(SRC, "load.max_in_flight"), (5, 1));
    }

    #[test]
    fn finds_key_in_nth_array_table() {
        assert_eq!(locate(SRC, "load.stages[1].rate"), (13, 1));
        assert_eq!(locate(SRC, "load.stages[0].rate"), (9, 1));
    }

    #[test]
    fn falls_back_to_header() {
        assert_eq!(locate(SRC, "load.stages[1].to"), (11, 1));
    }

    #[test]
    fn finds_a_table_named_by_the_whole_path() {
        let src = "compare = [\"mine\"]\n\n[policies.mine]\nbase_delay = \"1s\"\n\n[[fleets]]\nname = \"a\"\n\n[[fleets]]\nname = \"b\"\n";
        assert_eq!(locate(src, "policies.mine"), (3, 1));
        assert_eq!(locate(src, "fleets"), (6, 1));
        assert_eq!(locate(src, "fleets[1]"), (9, 1));
        assert_eq!(locate(SRC, "load"), (3, 1));
    }

    #[test]
    fn offsets_to_line_col() {
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
    }
}
