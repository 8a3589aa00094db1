//! `parkstream config check`: the effective settings of `serve`, each with where it came from,
//! secrets redacted. Printed as TOML, so the output is itself a config file.

use clap::parser::ValueSource;
use clap::{ArgMatches, Command};

use super::serve::redact;

/// One line per setting: `name = value  # source`, sources being `flag`, `environment`,
/// `file` and `default`; unset settings as comments.
pub fn effective(command: &Command, matches: &ArgMatches, from_file: &[String]) -> String {
    let mut out = String::new();
    for arg in command.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if ["help", "version", "config"].contains(&long) {
            continue;
        }
        let id = arg.get_id().as_str();
        let raw: Vec<String> = matches
            .get_raw(id)
            .into_iter()
            .flatten()
            .map(|value| value.to_string_lossy().into_owned())
            .collect();
        let source = match matches.value_source(id) {
            None => {
                out.push_str(&format!("# {long}  (not set)\n"));
                continue;
            }
            Some(ValueSource::DefaultValue) => "default",
            Some(ValueSource::EnvVariable) => "environment",
            Some(_) if from_file.iter().any(|key| key == long) => "file",
            Some(_) => "flag",
        };
        let shown: Vec<String> = raw
            .iter()
            .map(|value| {
                if long.contains("secret") || long.contains("password") {
                    "***".to_owned()
                } else if long.ends_with("-url") {
                    redact(value)
                } else {
                    value.clone()
                }
            })
            .collect();
        let value = if !arg.get_action().takes_values() {
            shown.first().cloned().unwrap_or_else(|| "true".into())
        } else if shown.len() == 1 {
            toml_string(&shown[0])
        } else {
            format!(
                "[{}]",
                shown
                    .iter()
                    .map(|s| toml_string(s))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        out.push_str(&format!("{long} = {value}  # {source}\n"));
    }
    out
}

/// `s` as a TOML basic string.
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}
