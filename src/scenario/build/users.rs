//! `[users]`: generated identities or a `user_id,token` CSV file.

use super::Ctx;
use crate::scenario::model::ScenarioFile;
use crate::scenario::plan::{Arrivals, LoadPlan, Secret, UsersPlan};
use crate::scenario::{ScenarioError, bounds};
use std::path::Path;

pub(super) fn build_users(
    cx: &Ctx,
    f: &ScenarioFile,
    load: &LoadPlan,
) -> Result<UsersPlan, ScenarioError> {
    let u = &f.users;
    if let Some(csv_path) = &u.csv {
        if u.count.is_some() || u.prefix.is_some() {
            return Err(cx.err("users.csv", "`csv` replaces `count` and `prefix`; keep one"));
        }
        let file = cx.path.parent().unwrap_or(Path::new(".")).join(csv_path);
        let users = read_users_csv(&file).map_err(|m| cx.err("users.csv", m))?;
        return Ok(UsersPlan::Listed { file, users });
    }
    let count = match (u.count, &load.arrivals) {
        (Some(0), _) => return Err(cx.err("users.count", "must be at least 1")),
        (Some(c), _) => {
            cx.within("users.count", bounds::count(c, bounds::MAX_USERS))?;
            c
        }
        (None, Arrivals::TicketDrop { users, .. }) | (None, Arrivals::Closed { users, .. }) => {
            *users
        }
        (None, Arrivals::Open { .. }) => 1_000_000,
    };
    Ok(UsersPlan::Generated {
        count,
        prefix: u.prefix.clone().unwrap_or_else(|| "user-".into()),
    })
}

/// `user_id,token` rows; every user needs both. The file must be a regular
/// file (a FIFO would block `validate`, a device never end) of at most
/// [`bounds::MAX_USERS_CSV_BYTES`].
fn read_users_csv(path: &Path) -> Result<Vec<(String, Secret)>, String> {
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
    let id_col = headers.iter().position(|h| h == "user_id");
    let tok_col = headers.iter().position(|h| h == "token");
    let (Some(id_col), Some(tok_col)) = (id_col, tok_col) else {
        return Err(format!(
            "{}: the header must name columns `user_id` and `token`",
            path.display()
        ));
    };
    let mut users = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| format!("{}: {e}", path.display()))?;
        let line = i + 2;
        let id = rec.get(id_col).unwrap_or("").trim();
        let tok = rec.get(tok_col).unwrap_or("").trim();
        if id.is_empty() || tok.is_empty() {
            return Err(format!("{}:{line}: empty user_id or token", path.display()));
        }
        if !crate::scenario::plan::usable_token(tok) {
            return Err(format!(
                "{}:{line}: the token cannot go in an Authorization header (a control character?)",
                path.display()
            ));
        }
        users.push((id.to_string(), Secret::new(tok.to_string())));
    }
    if let Some(m) = too_big(rdr.position().byte()) {
        return Err(m);
    }
    if users.is_empty() {
        return Err(format!("{}: no users", path.display()));
    }
    Ok(users)
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
            UsersPlan::Generated { count, prefix } => {
                assert_eq!((count, prefix.as_str()), (10, "user-"))
            }
            other => panic!("{other:?}"),
        }
        let open = "[load]\nmodel = \"open\"\n[[load.stages]]\nduration = \"1s\"\nrate = 1\n";
        match plan(&format!("[users]\nprefix = \"u\"\n{open}")).users {
            UsersPlan::Generated { count, prefix } => {
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
            UsersPlan::Listed { file, users } => {
                assert_eq!(file, d.0.join("u.csv"));
                let got: Vec<(&str, &str)> = users
                    .iter()
                    .map(|(u, t)| (u.as_str(), t.expose()))
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
            ("id,tok\na,b\n", "`user_id` and `token`"),
            ("user_id,token\na,\n", "u.csv:2: empty"),
            ("user_id,token\n", "no users"),
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
}
