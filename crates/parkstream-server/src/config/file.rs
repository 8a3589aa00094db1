//! Settings from a TOML file (`--config FILE`, or `PARKSTREAM_CONFIG`): its keys are the flags'
//! long names (`max-clients = 20000`, `cors-origin = ["https://ops.example.com"]`).
//!
//! Precedence is flag > environment > file > default. The file's settings become command-line
//! arguments placed before the user's, each only when neither the command line nor the flag's
//! environment variable already sets it, so clap parses and validates them like any flag and
//! a bad value in the file is refused the same way.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Command;

/// The environment variable that names the file when `--config` does not.
pub const CONFIG_ENV: &str = "PARKSTREAM_CONFIG";

/// The command line with the file's settings in it, and which flags came from the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expanded {
    pub args: Vec<OsString>,
    /// Long names of the flags the file set.
    pub from_file: Vec<String>,
}

/// Adds the settings of the config file, if `args` run a subcommand that takes one (`serve`,
/// `config check`) and name a readable file. An unreadable file is left to the `--config`
/// flag's own parser, which names it.
///
/// # Errors
/// A message naming the file, when it is not TOML or sets what no flag is.
pub fn expand(args: Vec<OsString>, cli: &Command) -> Result<Expanded, String> {
    let words: Vec<Option<&str>> = args.iter().map(|a| a.to_str()).collect();
    let (at, command) = match (
        words.get(1).copied().flatten(),
        words.get(2).copied().flatten(),
    ) {
        (Some("serve"), _) => (2, cli.find_subcommand("serve")),
        (Some("config"), Some("check")) => (
            3,
            cli.find_subcommand("config")
                .and_then(|c| c.find_subcommand("check")),
        ),
        _ => (0, None),
    };
    let unchanged = || Expanded {
        args: args.clone(),
        from_file: Vec::new(),
    };
    let Some(command) = command else {
        return Ok(unchanged());
    };
    let given = &words[at..];
    let Some(path) = config_path(given) else {
        return Ok(unchanged());
    };
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(unchanged());
    };
    let in_file = |message: String| format!("--config {}: {message}", path.display());
    let table: toml::Table = text
        .parse()
        .map_err(|err: toml::de::Error| in_file(err.message().to_owned()))?;

    let mut injected = Vec::new();
    let mut from_file = Vec::new();
    for (key, value) in &table {
        let arg = command
            .get_arguments()
            .find(|arg| arg.get_long() == Some(key.as_str()))
            .filter(|_| !["config", "help", "version"].contains(&key.as_str()))
            .ok_or_else(|| {
                in_file(format!(
                    "unknown setting {key:?} (settings are the flags' long names: bind, max-clients, ...)"
                ))
            })?;
        let on_command_line = given.iter().flatten().any(|word| {
            word.strip_prefix("--")
                .and_then(|w| w.strip_prefix(key.as_str()))
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('='))
        });
        let in_environment = arg
            .get_env()
            .is_some_and(|name| std::env::var_os(name).is_some());
        if on_command_line || in_environment {
            continue;
        }
        let switch = !arg.get_action().takes_values();
        match (switch, value) {
            (true, toml::Value::Boolean(true)) => injected.push(format!("--{key}")),
            (true, toml::Value::Boolean(false)) => {}
            (true, _) => return Err(in_file(format!("{key} must be true or false"))),
            (false, value) => injected.push(format!(
                "--{key}={}",
                scalar(value).map_err(|m| in_file(format!("{key}: {m}")))?
            )),
        }
        from_file.push(key.clone());
    }
    let mut args = args;
    args.splice(at..at, injected.into_iter().map(OsString::from));
    Ok(Expanded { args, from_file })
}

/// The file `--config` (or `--config=`) names among `given`, else [`CONFIG_ENV`].
fn config_path(given: &[Option<&str>]) -> Option<PathBuf> {
    let mut words = given.iter();
    while let Some(word) = words.next() {
        match word {
            Some("--config") => return words.next().copied().flatten().map(PathBuf::from),
            Some(word) => {
                if let Some(path) = word.strip_prefix("--config=") {
                    return Some(PathBuf::from(path));
                }
            }
            None => {}
        }
    }
    std::env::var_os(CONFIG_ENV).map(PathBuf::from)
}

/// A TOML value as a flag's text: strings as they are, numbers and booleans printed, arrays
/// comma-joined (the list flags split on commas).
fn scalar(value: &toml::Value) -> Result<String, String> {
    match value {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(n) => Ok(n.to_string()),
        toml::Value::Float(x) => Ok(x.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        toml::Value::Array(items) => Ok(items
            .iter()
            .map(scalar)
            .collect::<Result<Vec<_>, _>>()?
            .join(",")),
        toml::Value::Datetime(_) | toml::Value::Table(_) => {
            Err("must be a string, a number, a boolean or a list".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;
    use crate::config::Cli;

    fn expand_with(file: &str, args: &[&str]) -> Result<Expanded, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("parkstream.toml");
        std::fs::write(&path, file).unwrap();
        let mut all: Vec<OsString> = args.iter().map(OsString::from).collect();
        all.push("--config".into());
        all.push(path.into());
        expand(all, &Cli::command()).map(|mut e| {
            e.args.truncate(e.args.len() - 2);
            e
        })
    }

    fn strings(expanded: &Expanded) -> Vec<String> {
        expanded
            .args
            .iter()
            .map(|a| a.to_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn the_files_settings_go_before_the_command_lines_which_win() {
        let file = "bind = \"127.0.0.1:9000\"\nmax-clients = 500\nstream-gzip = true\n\
                    demo = false\ncors-origin = [\"https://a.example\", \"https://b.example\"]\n";
        let expanded = expand_with(file, &["parkstream", "serve", "--max-clients", "7"]).unwrap();
        assert_eq!(
            strings(&expanded),
            [
                "parkstream",
                "serve",
                "--bind=127.0.0.1:9000",
                "--cors-origin=https://a.example,https://b.example",
                "--stream-gzip",
                "--max-clients",
                "7"
            ]
        );
        assert_eq!(
            expanded.from_file,
            ["bind", "cors-origin", "demo", "stream-gzip"]
        );
    }

    #[test]
    fn unknown_keys_bad_toml_and_bad_switches_are_refused_naming_the_file() {
        for (file, says) in [
            ("max-klients = 5", "unknown setting \"max-klients\""),
            ("bind = ", "--config"),
            ("demo = \"yes\"", "demo must be true or false"),
            ("bind = { a = 1 }", "bind: must be"),
            ("config = \"other.toml\"", "unknown setting"),
        ] {
            let err = expand_with(file, &["parkstream", "serve"]).unwrap_err();
            assert!(
                err.contains(says) && err.starts_with("--config "),
                "{file}: {err}"
            );
        }
    }

    #[test]
    fn other_subcommands_and_unreadable_files_are_left_alone() {
        let args: Vec<OsString> = ["parkstream", "token", "--config", "x.toml"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(expand(args.clone(), &Cli::command()).unwrap().args, args);
        let args: Vec<OsString> = ["parkstream", "serve", "--config=/no/such.toml"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(expand(args.clone(), &Cli::command()).unwrap().args, args);
    }
}
