//! `[users]`: generated identities or a CSV file (`user_id` and any other
//! columns, each a journey variable).

use super::Ctx;
use crate::scenario::model::ScenarioFile;
use crate::scenario::plan::{Arrivals, GeneratedTokens, LoadPlan, Secret, UsersPlan};
use crate::scenario::{ScenarioError, bounds};
use std::path::Path;

pub(super) fn build_users(
    cx: &Ctx,
    f: &ScenarioFile,
    load: &LoadPlan,
    embedded: bool,
) -> Result<UsersPlan, ScenarioError> {
    let u = &f.users;
    if let Some(csv_path) = &u.csv {
        if u.count.is_some() || u.prefix.is_some() {
            return Err(cx.err("users.csv", "`csv` replaces `count` and `prefix`; keep one"));
        }
        if u.generated_tokens.is_some() {
            return Err(cx.err(
                "users.generated_tokens",
                "only for generated users; a CSV's `token` column is sent instead",
            ));
        }
        let file = cx.path.parent().unwrap_or(Path::new(".")).join(csv_path);
        let t = read_users_csv(&file).map_err(|m| cx.err("users.csv", m))?;
        for c in &t.columns {
            if crate::scenario::BUILTIN_VARS.contains(&c.as_str()) {
                return Err(cx.err(
                    "users.csv",
                    format!(
                        "{}: column `{c}` would hide the built-in variable `${{{c}}}`; rename it",
                        file.display()
                    ),
                ));
            }
        }
        return Ok(UsersPlan::Listed {
            file,
            columns: t.columns,
            id_col: t.id_col,
            token_col: t.token_col,
            rows: t.rows,
        });
    }
    let count = match (u.count, &load.arrivals) {
        (Some(0), _) => return Err(cx.err("users.count", "must be at least 1")),
        (Some(c), _) => {
            cx.within("users.count", bounds::count(c, bounds::MAX_USERS))?;
            c
        }
        (None, Arrivals::TicketDrop { users, .. }) => {
            users + load.bursts.iter().map(|b| b.count).sum::<u64>()
        }
        (None, Arrivals::Closed { users, .. }) => *users,
        (None, Arrivals::Open { .. }) => 1_000_000,
    };
    Ok(UsersPlan::Generated {
        count,
        prefix: u.prefix.clone().unwrap_or_else(|| "user-".into()),
        tokens: match (u.generated_tokens, embedded) {
            (Some(true), _) | (None, true) => GeneratedTokens::Always,
            (Some(false), _) => GeneratedTokens::Never,
            (None, false) => GeneratedTokens::IfSimulator,
        },
    })
}

/// A users CSV as read: column names and every row's values.
struct UsersTable {
    columns: Vec<String>,
    id_col: usize,
    token_col: Option<usize>,
    rows: Vec<Vec<Secret>>,
}

/// Rows under a header naming `user_id` (and any other columns, each a
/// variable); every user needs an id, and a token when there is a `token`
/// column. Column names must be distinct. The file must be a regular
/// file (a FIFO would block `validate`, a device never end) of at most
/// [`bounds::MAX_USERS_CSV_BYTES`].
fn read_users_csv(path: &Path) -> Result<UsersTable, String> {
    let limit = bounds::MAX_USERS_CSV_BYTES;
    let too_big = |n: u64| {
        bounds::size(n, limit)
            .err()
            .map(|m| format!("{}: {m}", path.display()))
    };
    // Checked before opening: opening a FIFO blocks until a writer comes.
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!(
            "{}: not a regular file (a pipe or a device cannot be a users file)",
            path.display()
        ));
    }
    if let Some(m) = too_big(meta.len()) {
        return Err(m);
    }
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // Also bounded while reading: the file may grow, or lie about its size (/proc).
    let mut rdr = csv::Reader::from_reader(std::io::Read::take(file, limit + 1));
    let headers = rdr
        .headers()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .clone();
    let columns = column_names(path, &headers)?;
    let Some(id_col) = columns.iter().position(|h| h == "user_id") else {
        return Err(format!(
            "{}: the header must name a `user_id` column (and any others: `token`, `password`, ...)",
            path.display()
        ));
    };
    let token_col = columns.iter().position(|h| h == "token");
    let mut rows = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| format!("{}: {e}", path.display()))?;
        rows.push(user_row(
            path,
            i + 2,
            &rec,
            columns.len(),
            id_col,
            token_col,
        )?);
    }
    if let Some(m) = too_big(rdr.position().byte()) {
        return Err(m);
    }
    if rows.is_empty() {
        return Err(format!("{}: no users", path.display()));
    }
    Ok(UsersTable {
        columns,
        id_col,
        token_col,
        rows,
    })
}

/// The header's column names: each a variable name, none twice.
fn column_names(path: &Path, headers: &csv::StringRecord) -> Result<Vec<String>, String> {
    let columns: Vec<String> = headers.iter().map(|h| h.trim().to_string()).collect();
    for (i, c) in columns.iter().enumerate() {
        let ident = !c.is_empty()
            && c.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-');
        if !ident {
            return Err(format!(
                "{}: column {} `{c}` is not a variable name (letters, digits, `_`, `-`)",
                path.display(),
                i + 1
            ));
        }
        if columns[..i].contains(c) {
            return Err(format!("{}: column `{c}` appears twice", path.display()));
        }
    }
    Ok(columns)
}

/// One user's row at file line `line`: an id, and a usable token when
/// there is a `token` column.
fn user_row(
    path: &Path,
    line: usize,
    rec: &csv::StringRecord,
    width: usize,
    id_col: usize,
    token_col: Option<usize>,
) -> Result<Vec<Secret>, String> {
    let cell = |c: usize| rec.get(c).unwrap_or("").trim();
    if cell(id_col).is_empty() || token_col.is_some_and(|t| cell(t).is_empty()) {
        return Err(format!(
            "{}:{line}: empty {}",
            path.display(),
            if token_col.is_some() {
                "user_id or token"
            } else {
                "user_id"
            }
        ));
    }
    if let Some(t) = token_col
        && !crate::scenario::plan::usable_token(cell(t))
    {
        return Err(format!(
            "{}:{line}: the token cannot go in an Authorization header (a control character?)",
            path.display()
        ));
    }
    Ok((0..width)
        .map(|c| Secret::new(cell(c).to_string()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::scenario::Overrides;
    use std::path::PathBuf;

    /// A scratch directory holding `s.toml`'s neighbours, removed on drop.
    struct Dir(PathBuf);
    impl Dir {
        fn new(tag: &str) -> Self {
            let d =
                std::env::temp_dir().join(format!("stampede-users-{tag}-{}", std::process::id()));
            std::fs::create_dir_all(&d).unwrap();
            Self(d)
        }
        fn build(&self, src: &str) -> Result<crate::scenario::Plan, ScenarioError> {
            super::super::build(src, &self.0.join("s.toml"), &Overrides::default())
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn generated_users_default_to_the_load() {
        match plan(OK_LOAD).users {
            UsersPlan::Generated {
                count,
                prefix,
                tokens,
            } => {
                assert_eq!((count, prefix.as_str()), (10, "user-"));
                assert_eq!(tokens, GeneratedTokens::Always, "embedded simulator");
            }
            other => panic!("{other:?}"),
        }
        let open = "[load]\nmodel = \"open\"\n[[load.stages]]\nduration = \"1s\"\nrate = 1\n";
        match plan(&format!("[users]\nprefix = \"u\"\n{open}")).users {
            UsersPlan::Generated { count, prefix, .. } => {
                assert_eq!((count, prefix.as_str()), (1_000_000, "u"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn zero_count_and_csv_with_count_are_rejected() {
        let (line, _, key, _) = invalid(&format!("[users]\ncount = 0\n{OK_LOAD}"));
        assert_eq!((line, key.as_str()), (2, "users.count"));
        let (line, _, key, msg) =
            invalid(&format!("[users]\ncount = 2\ncsv = \"u.csv\"\n{OK_LOAD}"));
        assert_eq!((line, key.as_str()), (3, "users.csv"));
        assert!(msg.contains("replaces"), "{msg}");
    }

    #[test]
    fn count_is_bounded() {
        let (line, col, key, msg) = invalid(&format!("[users]\ncount = 100000001\n{OK_LOAD}"));
        assert_eq!((line, col, key.as_str()), (2, 1, "users.count"));
        assert!(msg.contains("at most 100000000"), "{msg}");
    }

    #[test]
    fn csv_must_be_a_regular_file() {
        for dev in ["/dev/zero", "/dev/null", "/"] {
            let (line, _, key, msg) = invalid(&format!("[users]\ncsv = \"{dev}\"\n{OK_LOAD}"));
            assert_eq!((line, key.as_str()), (2, "users.csv"), "{dev}");
            assert!(msg.contains("not a regular file"), "{dev}: {msg}");
        }
    }

    #[test]
    fn csv_is_read_relative_to_the_scenario() {
        let d = Dir::new("ok");
        std::fs::write(d.0.join("u.csv"), "token,user_id\nt1,alice\n t2 , bob \n").unwrap();
        let p = d
            .build(&format!("[users]\ncsv = \"u.csv\"\n{OK_LOAD}"))
            .unwrap();
        match p.users {
            UsersPlan::Listed {
                file,
                columns,
                id_col,
                token_col,
                rows,
            } => {
                assert_eq!(file, d.0.join("u.csv"));
                assert_eq!(columns, vec!["token", "user_id"]);
                assert_eq!((id_col, token_col), (1, Some(0)));
                let got: Vec<(&str, &str)> = rows
                    .iter()
                    .map(|r| (r[1].expose(), r[0].expose()))
                    .collect();
                assert_eq!(got, vec![("alice", "t1"), ("bob", "t2")]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn csv_errors_name_the_file_and_row() {
        let d = Dir::new("bad");
        for (body, want) in [
            ("id,tok\na,b\n", "a `user_id` column"),
            ("user_id,a b\na,b\n", "`a b` is not a variable name"),
            ("user_id,x,x\na,b,c\n", "`x` appears twice"),
            ("user_id,zone\na,b\n", "would hide the built-in"),
            ("user_id,token\na,\n", "u.csv:2: empty"),
            ("user_id,token\n", "no users"),
            ("user_id,password\n,p\n", "u.csv:2: empty user_id"),
        ] {
            std::fs::write(d.0.join("u.csv"), body).unwrap();
            match d.build(&format!("[users]\ncsv = \"u.csv\"\n{OK_LOAD}")) {
                Err(ScenarioError::Invalid { line, key, msg, .. }) => {
                    assert_eq!((line, key.as_str()), (2, "users.csv"));
                    assert!(msg.contains(want), "{body:?}: {msg}");
                }
                other => panic!("{body:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn any_columns_and_generated_tokens() {
        let d = Dir::new("cols");
        std::fs::write(
            d.0.join("u.csv"),
            "user_id,password,email
alice,pw1,a@x
",
        )
        .unwrap();
        let p = d
            .build(&format!(
                "[target]\nurl = \"http://127.0.0.1:9\"\n[users]\ncsv = \"u.csv\"\n{OK_LOAD}\n[journey]\n[[journey.steps]]\nname = \"login\"\nmethod = \"POST\"\npath = \"/login\"\nbody = '{{\"u\":\"${{user_id}}\",\"p\":\"${{password}}\"}}'\n"
            ))
            .unwrap();
        match &p.users {
            UsersPlan::Listed {
                columns, token_col, ..
            } => {
                assert_eq!(columns, &["user_id", "password", "email"]);
                assert_eq!(*token_col, None);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(p.journey.user_vars, 3);
        assert_eq!(
            p.journey.steps[0]
                .body
                .as_ref()
                .unwrap()
                .vars()
                .collect::<Vec<_>>(),
            vec![6, 7]
        );
        // No value of the CSV shows in the plan's JSON.
        let json = serde_json::to_string(&p).unwrap();
        assert!(!json.contains("pw1") && !json.contains("alice"), "{json}");
        let remote = "[target]\nurl = \"http://127.0.0.1:9\"\n";
        let steps = "[journey]\n[[journey.steps]]\nname = \"s\"\npath = \"/x\"\n";
        for (users, want) in [
            ("", GeneratedTokens::IfSimulator),
            (
                "[users]\ngenerated_tokens = true\n",
                GeneratedTokens::Always,
            ),
            (
                "[users]\ngenerated_tokens = false\n",
                GeneratedTokens::Never,
            ),
        ] {
            match plan(&format!("{remote}{users}{OK_LOAD}{steps}")).users {
                UsersPlan::Generated { tokens, .. } => assert_eq!(tokens, want, "{users}"),
                other => panic!("{other:?}"),
            }
        }
    }
}
