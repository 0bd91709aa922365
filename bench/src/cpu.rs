//! CPU time of a process (user + system, all threads) from `/proc` (Linux).

use anyhow::{Context, Result};

/// The unit of `/proc` CPU times, `sysconf(_SC_CLK_TCK)`: 100 on every Linux architecture that runs this.
const USER_HZ: f64 = 100.0;

/// CPU seconds used so far by `pid`, or by this process with `None`.
pub(crate) fn process_seconds(pid: Option<u32>) -> Result<f64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
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
        let spin: u64 = (0..20_000_000u64).fold(0, |a, b| a.wrapping_add(b * b));
        assert_ne!(spin, 1);
        let used = super::process_seconds(None).expect("/proc/self/stat");
        assert!(used > 0.0, "{used}");
    }
}
