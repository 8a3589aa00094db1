//! CPU time and resident memory of a process (or a process tree) from Linux's /proc, for
//! `parkstream loadtest --server-pid`: what serving the load cost, beside what it achieved.

use serde::Serialize;

/// Clock ticks per second of /proc's CPU times. Linux reports them in USER_HZ, which is 100
/// on every architecture it runs on (it is fixed by the kernel ABI, unlike the real tick).
const TICKS_PER_SECOND: f64 = 100.0;

/// One reading.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// User plus system CPU time, in seconds.
    pub cpu_s: f64,
    /// Resident memory, in KiB.
    pub rss_kib: u64,
}

impl std::iter::Sum for Usage {
    fn sum<I: Iterator<Item = Self>>(readings: I) -> Self {
        readings.fold(Self::default(), |total, one| Self {
            cpu_s: total.cpu_s + one.cpu_s,
            rss_kib: total.rss_kib + one.rss_kib,
        })
    }
}

/// What a process (tree) used over a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageReport {
    /// CPU seconds spent during the measured window.
    pub cpu_s: f64,
    /// The same as a share of one core (100 = one core busy the whole window).
    pub cpu_percent: f64,
    /// Resident memory at the end of the window, in MiB (summed over the tree: pages shared
    /// between its processes count once per process).
    pub rss_mib: f64,
}

impl UsageReport {
    #[must_use]
    pub fn between(before: Usage, after: Usage, seconds: f64) -> Self {
        let cpu_s = (after.cpu_s - before.cpu_s).max(0.0);
        Self {
            cpu_s,
            cpu_percent: 100.0 * cpu_s / seconds.max(0.001),
            rss_mib: after.rss_kib as f64 / 1024.0,
        }
    }
}

/// Reads `pid` (`"self"` for this process), with its descendants when `tree` is set.
/// Processes that vanish while being read count as zero.
#[must_use]
pub fn read(pid: &str, tree: bool) -> Usage {
    let mut pids = vec![pid.to_owned()];
    if tree {
        pids.extend(descendants(pid));
    }
    pids.iter().map(|pid| read_one(pid)).sum()
}

fn read_one(pid: &str) -> Usage {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields = after_command(&stat);
    // utime and stime are fields 14 and 15 of stat(5); `fields` starts at field 3.
    let ticks = |n: usize| {
        fields
            .get(n - 3)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    Usage {
        cpu_s: (ticks(14) + ticks(15)) as f64 / TICKS_PER_SECOND,
        rss_kib,
    }
}

/// The fields of a stat line after the command name, which is in parentheses and may itself
/// hold spaces and parentheses (hence the last `)`).
fn after_command(stat: &str) -> Vec<&str> {
    stat.rfind(')')
        .map(|end| stat[end + 1..].split_whitespace().collect())
        .unwrap_or_default()
}

/// Every process whose chain of parents leads to `root`.
fn descendants(root: &str) -> Vec<String> {
    let mut parents = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            // The parent is field 4, the second after the command.
            if let Some(ppid) = after_command(&stat).get(1) {
                parents.push((name, (*ppid).to_owned()));
            }
        }
    }
    let mut found = vec![root.to_owned()];
    let mut next = 0;
    while next < found.len() {
        let parent = found[next].clone();
        found.extend(
            parents
                .iter()
                .filter(|(_, ppid)| *ppid == parent)
                .map(|(pid, _)| pid.clone()),
        );
        next += 1;
    }
    found.split_off(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_name_with_spaces_and_parentheses_does_not_shift_the_fields() {
        let stat = "42 (a (b) c) S 7 42 42 0 -1 0 0 0 0 0 250 50 0 0";
        let fields = after_command(stat);
        assert_eq!(fields[0], "S");
        assert_eq!(fields[1], "7");
        assert_eq!(fields[14 - 3], "250");
    }

    #[test]
    fn this_process_uses_some_memory() {
        assert!(read("self", true).rss_kib > 0);
    }
}
