//! Shard `index` of `count`: which part of a run's arrival schedule one
//! process runs (`stampede run --shard I/N`). Arrival `k` (counted over the
//! whole schedule) belongs to shard `k mod N`, so the union of the shards is
//! exactly the single-machine schedule, every shard's rate is even, arrival
//! indices (and with them user ids and operation ids) stay globally unique,
//! and each fleet keeps its share (fleets are picked from the global `k`).

use serde::{Deserialize, Serialize};
use std::fmt;

/// `index` counts from 0, as Kubernetes' `JOB_COMPLETION_INDEX` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// The largest shard count accepted.
pub const MAX_SHARDS: u32 = 10_000;

impl Shard {
    pub fn new(index: u32, count: u32) -> Result<Shard, String> {
        if count == 0 || count > MAX_SHARDS {
            return Err(format!(
                "shard count must be 1 to {MAX_SHARDS}, not {count}"
            ));
        }
        if index >= count {
            return Err(format!(
                "shard index {index} is out of range for {count} shards (indices count from 0 to {})",
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }

    /// `I/N`, e.g. `0/4`.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}` is not a shard like 0/4 (index/count)"))?;
        let num = |v: &str, what: &str| {
            v.trim()
                .parse::<u32>()
                .map_err(|_| format!("`{s}`: the shard {what} `{v}` is not a whole number"))
        };
        Shard::new(num(i, "index")?, num(n, "count")?)
    }

    /// Whether arrival `k` of the whole schedule is this shard's.
    pub fn owns(&self, k: u64) -> bool {
        k % u64::from(self.count) == u64::from(self.index)
    }

    /// Arrivals of this shard among the first `total` of the schedule.
    pub fn share_of(&self, total: u64) -> u64 {
        let n = u64::from(self.count);
        total / n + u64::from(total % n > u64::from(self.index))
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Reset a shared `stampede serve` target (`POST /__sim/reset`) before an
/// aligned round: shard 0 does it, so every round starts on fresh inventory
/// as it does against the embedded simulator. Plain HTTP on loopback only.
pub async fn reset_shared_target(url: &str) -> Result<(), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only a plain http:// simulator can be reset"))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let addr: std::net::SocketAddr = tokio::net::lookup_host(authority)
        .await
        .map_err(|e| format!("{url}: {e}"))?
        .next()
        .ok_or_else(|| format!("{url}: no address"))?;
    if !addr.ip().is_loopback() {
        return Err(format!("{url}: not a loopback address; not reset"));
    }
    let io = async {
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        let req = format!(
            "POST /__sim/reset HTTP/1.1\r\nHost: {authority}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await?;
        let mut head = vec![0u8; 64];
        let n = s.read(&mut head).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&head[..n]).into_owned())
    };
    let head = tokio::time::timeout(std::time::Duration::from_secs(5), io)
        .await
        .map_err(|_| format!("{url}: reset timed out"))?
        .map_err(|e| format!("{url}: {e}"))?;
    if head.starts_with("HTTP/1.1 200") {
        Ok(())
    } else {
        Err(format!(
            "{url}: POST /__sim/reset answered {:?}",
            head.lines().next().unwrap_or("")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_every_arrival_exactly_once() {
        for n in 1..=7u32 {
            let shards: Vec<Shard> = (0..n).map(|i| Shard::new(i, n).unwrap()).collect();
            for k in 0..500u64 {
                assert_eq!(shards.iter().filter(|s| s.owns(k)).count(), 1);
            }
            let total: u64 = shards.iter().map(|s| s.share_of(1003)).sum();
            assert_eq!(total, 1003);
            for s in &shards {
                assert_eq!(
                    s.share_of(1003),
                    (0..1003).filter(|k| s.owns(*k)).count() as u64
                );
            }
        }
    }

    #[test]
    fn parse_and_errors() {
        assert_eq!(Shard::parse("2/4").unwrap(), Shard { index: 2, count: 4 });
        assert!(Shard::parse("4/4").unwrap_err().contains("out of range"));
        assert!(Shard::parse("0/0").unwrap_err().contains("count"));
        assert!(Shard::parse("x/4").unwrap_err().contains("index"));
        assert!(Shard::parse("3").unwrap_err().contains("0/4"));
    }
}
