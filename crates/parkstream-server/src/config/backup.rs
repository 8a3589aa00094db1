//! Settings of `parkstream backup`.

use std::path::PathBuf;

use clap::Args;

use super::parse::parse_database_url;

/// Settings of `parkstream backup`.
#[derive(Debug, Clone, Args)]
pub struct BackupSettings {
    /// The server's SQLite database (its --database-url); it may be in use.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://parkstream.db", value_parser = parse_database_url)]
    pub database_url: String,

    /// The new file to write the copy to (never overwritten). `serve
    /// --database-url sqlite://FILE` starts from it as it is.
    #[arg(long, value_parser = parse_new_file)]
    pub to: PathBuf,
}

fn parse_new_file(s: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(s);
    if s.is_empty() || s.ends_with('/') {
        return Err("must name a file".into());
    }
    if path.exists() {
        return Err("exists already; backup never overwrites a file".into());
    }
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) if !dir.is_dir() => Err(format!("{} is not a directory", dir.display())),
        _ => Ok(path),
    }
}
