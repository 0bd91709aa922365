//! CPU time of a process (user + system, all threads) from `/proc` (Linux).

use anyhow::{Context, Result};

/// The unit of `/proc` CPU times, `sysconf(_SC_CLK_TCK)`: 100 on every Linux architecture that runs this.
const USER_HZ: f64 = 100.0;

/// CPU seconds used so far by this process.
pub(crate) fn own_seconds() -> Result<f64> {
    seconds_of("/proc/self/stat")
}

/// CPU seconds used so far by a child process; an error once it has been reaped (`None`).
pub(crate) fn child_seconds(pid: Option<u32>) -> Result<f64> {
    let pid = pid.context("the process has exited: no CPU figure")?;
    seconds_of(&format!("/proc/{pid}/stat"))
}

fn seconds_of(path: &str) -> Result<f64> {
    let stat = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .with_context(|| format!("unexpected {path}"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line: 12 and 13 after the command name.
    let ticks: f64 = fields
        .get(11..13)
        .with_context(|| format!("unexpected {path}"))?
        .iter()
        .map(|f| f.parse::<f64>().unwrap_or(0.0))
        .sum();
    Ok(ticks / USER_HZ)
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_process_has_used_some_cpu() {
        let spin: u64 =
            (0..std::hint::black_box(20_000_000u64)).fold(0, |a, b| a.wrapping_add(b * b));
        assert_ne!(std::hint::black_box(spin), 1);
        let used = super::own_seconds().expect("/proc/self/stat");
        assert!(used > 0.0, "{used}");
    }
}
