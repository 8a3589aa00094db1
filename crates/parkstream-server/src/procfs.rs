//! What Linux's `/proc` tells about this process: its open-file limit, CPU time, memory and
//! descriptors. Reading files keeps the crate free of `unsafe` (`getrlimit` and `getrusage`
//! would need it); elsewhere than Linux every reading is `None`.

/// Clock ticks per second of the times in `/proc/self/stat`: `USER_HZ`, fixed at 100 in
/// Linux's interface to user space on every architecture.
const TICKS_PER_SECOND: f64 = 100.0;

/// This process's soft limit on open files, where it can be read.
pub fn file_limit() -> Option<u64> {
    soft_file_limit(&std::fs::read_to_string("/proc/self/limits").ok()?)
}

/// The soft limit on open files in the text of `/proc/self/limits` (`u64::MAX` when
/// unlimited); `None` when the line is missing or unreadable.
pub fn soft_file_limit(limits: &str) -> Option<u64> {
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    let soft = line
        .strip_prefix("Max open files")?
        .split_whitespace()
        .next()?;
    if soft == "unlimited" {
        return Some(u64::MAX);
    }
    soft.parse().ok()
}

/// One reading of the process's figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    /// User and system CPU time, in seconds.
    pub cpu_seconds: f64,
    pub resident_bytes: u64,
    pub virtual_bytes: u64,
    /// When the process started, in seconds since the Unix epoch.
    pub start_time_seconds: f64,
}

/// This process's figures now.
pub fn usage() -> Option<Usage> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let boot = std::fs::read_to_string("/proc/stat").ok()?;
    usage_of(&stat, &status, &boot)
}

/// Open file descriptors of this process now.
pub fn open_fds() -> Option<u64> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count() as u64)
}

/// [`Usage`] from the texts of `/proc/self/stat`, `/proc/self/status` and `/proc/stat`.
fn usage_of(stat: &str, status: &str, boot: &str) -> Option<Usage> {
    // The command name, in parentheses, may hold spaces: the fields start after its `)`.
    // Counted from the state (field 3 of proc(5)): utime is the 12th, stime the 13th,
    // starttime the 20th.
    let fields: Vec<&str> = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    let ticks = |i: usize| fields.get(i)?.parse::<u64>().ok();
    let cpu_ticks = ticks(11)? + ticks(12)?;
    let started_ticks = ticks(19)?;
    let kib = |key: &str| -> Option<u64> {
        let line = status.lines().find(|line| line.starts_with(key))?;
        line.get(key.len()..)?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    let boot_time: u64 = boot
        .lines()
        .find_map(|line| line.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    Some(Usage {
        cpu_seconds: cpu_ticks as f64 / TICKS_PER_SECOND,
        resident_bytes: kib("VmRSS:")? * 1024,
        virtual_bytes: kib("VmSize:")? * 1024,
        start_time_seconds: boot_time as f64 + started_ticks as f64 / TICKS_PER_SECOND,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: &str = "\
Limit                     Soft Limit           Hard Limit           Units     
Max cpu time              unlimited            unlimited            seconds   
Max open files            256                  524288               files     
Max locked memory         8388608              8388608              bytes     
";

    #[test]
    fn the_soft_file_limit_is_read_from_proc_limits() {
        assert_eq!(soft_file_limit(LIMITS), Some(256));
        let unlimited = LIMITS.replace("256                  524288", "unlimited unlimited");
        assert_eq!(soft_file_limit(&unlimited), Some(u64::MAX));
        assert_eq!(soft_file_limit("Max cpu time  1 1 seconds"), None);
        assert_eq!(soft_file_limit("Max open files  lots  files"), None);
    }

    #[test]
    fn usage_is_read_past_a_command_name_with_spaces_and_parentheses() {
        let stat = "4242 (park (stream) x) S 1 4242 4242 0 -1 4194560 900 0 0 0 \
                    250 130 0 0 20 0 9 0 123456 100000000 5000 18446744073709551615";
        let status = "Name:\tparkstream\nVmSize:\t  204800 kB\nVmRSS:\t   20480 kB\n";
        let boot = "cpu  1 2 3\nbtime 1700000000\nprocesses 99\n";
        let usage = usage_of(stat, status, boot).expect("parsed");
        assert_eq!(usage.cpu_seconds, 3.8);
        assert_eq!(usage.resident_bytes, 20_480 * 1024);
        assert_eq!(usage.virtual_bytes, 204_800 * 1024);
        assert_eq!(usage.start_time_seconds, 1_700_000_000.0 + 1234.56);
        assert_eq!(usage_of("4242 (x) S 1", status, boot), None);
    }

    #[test]
    fn this_process_can_be_read() {
        let usage = usage().expect("Linux /proc");
        assert!(usage.resident_bytes > 0 && usage.virtual_bytes >= usage.resident_bytes);
        assert!(open_fds().expect("Linux /proc") >= 3);
    }
}
