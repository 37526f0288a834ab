//! CPU time of this process and of its threads by name, read from Linux's
//! `/proc/self/stat` and `/proc/self/task/*/stat`, for the demo's figures:
//! the simulated carrier runs on threads of its own name, so the engine's
//! share is the process's time less the carrier's.

use std::time::Duration;

/// Clock ticks per second of `/proc` times (`USER_HZ`, 100 on every Linux
/// architecture voxdial builds for).
const TICKS_PER_SEC: u64 = 100;

/// CPU time (user and system) used so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CpuTimes {
    /// The whole process, every thread that ever ran included.
    pub(crate) process: Duration,
    /// The live threads whose name starts with the prefix asked for.
    pub(crate) named: Duration,
}

/// The process's CPU time and that of its live threads named
/// `thread_prefix…`; `None` where `/proc` cannot be read.
pub(crate) fn times(thread_prefix: &str) -> Option<CpuTimes> {
    let process = ticks(&std::fs::read_to_string("/proc/self/stat").ok()?)?.1;
    let mut named = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        // A thread may end between the listing and the read.
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        if let Some((name, t)) = ticks(&stat)
            && name.starts_with(thread_prefix)
        {
            named += t;
        }
    }
    let duration = |t: u64| Duration::from_millis(t * 1000 / TICKS_PER_SEC);
    Some(CpuTimes {
        process: duration(process),
        named: duration(named),
    })
}

/// The name and the user plus system ticks of a `stat` line: `pid (comm)
/// state …`, where `utime` and `stime` are fields 14 and 15 and `comm` may
/// itself hold spaces and parentheses (hence the last `)`).
fn ticks(stat: &str) -> Option<(&str, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?;
    let mut fields = stat.get(close + 1..)?.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((name, user + system))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_gives_its_name_and_user_plus_system_ticks() {
        let line = "4242 (sim (x) 1) S 1 2 3 4 5 6 7 8 9 10 250 17 0 0 20 0 3 0";
        assert_eq!(ticks(line), Some(("sim (x) 1", 267)));
    }

    #[test]
    fn a_truncated_line_is_none() {
        assert_eq!(ticks("4242 (voxdial) S 1 2"), None);
    }

    #[test]
    fn this_process_has_used_some_cpu_and_its_threads_no_more() {
        let spin = std::time::Instant::now();
        while spin.elapsed() < Duration::from_millis(30) {
            std::hint::black_box(0u64);
        }
        let t = times("").expect("/proc is readable on Linux");
        assert!(t.named <= t.process + Duration::from_millis(100), "{t:?}");
        assert_eq!(
            times("no thread has this name").map(|t| t.named),
            Some(Duration::ZERO)
        );
    }
}
