//! Records the commit the binary is built from, for `parkstream --version`: an operator
//! comparing a running server with the repository needs more than the crate's version.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (output.status.success() && !text.is_empty()).then(|| text.to_owned())
}

fn main() {
    // Outside a git checkout (a source archive) the commit is unknown, not a build failure.
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=PARKSTREAM_COMMIT={commit}");
    // Build again when HEAD moves: a commit, a checkout, a fetch into packed refs.
    if let Some(dir) = git(&["rev-parse", "--git-common-dir"]) {
        for path in ["HEAD", "refs", "packed-refs"] {
            println!("cargo:rerun-if-changed={dir}/{path}");
        }
    }
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
    }
}
