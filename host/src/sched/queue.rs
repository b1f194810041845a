//! The run queue: runnable tasks per tenant, ordered by the policy's key, with each tenant's
//! priority counting only inside its CPU share.
//!
//! Every tenant earns CPU time at its share of the host's capacity (workers × 1 s per second,
//! equal shares by default) into a small bucket, and the time of every slice it runs is
//! charged to it (measured, not estimated: fuel rates differ too much between code to stand in
//! for time here). A tenant whose bucket is empty is over its share: its tasks run only when no
//! in-share task is runnable, whatever their deadlines, so declaring tiny latency targets buys
//! nothing.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use super::priority::Priority;
use super::{Policy, TaskId};

/// How much CPU time a tenant may bank, in time at its rate: short, so a tenant idle for a
/// while cannot then monopolise the host.
const BURST: Duration = Duration::from_millis(50);

struct Share {
    /// Nanoseconds of CPU time banked (negative: over share).
    tokens: f64,
    last: Instant,
    fuel: u64,
}

/// CPU shares of the tenants on a host.
pub struct TenantShares {
    capacity_ns_per_s: f64,
    names: Vec<String>,
    shares: Vec<Share>,
}

impl TenantShares {
    /// Shares of a host with `workers` worker threads.
    pub fn new(workers: usize) -> Self {
        TenantShares {
            capacity_ns_per_s: workers.max(1) as f64 * 1e9,
            names: Vec::new(),
            shares: Vec::new(),
        }
    }

    /// The index of tenant `name`, registering it (with an equal share) if new.
    pub fn tenant(&mut self, name: &str) -> usize {
        if let Some(index) = self.names.iter().position(|n| n == name) {
            return index;
        }
        self.names.push(name.to_string());
        // A new tenant starts with nothing banked: it earns its share from now on.
        self.shares.push(Share {
            tokens: 0.0,
            last: Instant::now(),
            fuel: 0,
        });
        self.names.len() - 1
    }

    /// CPU nanoseconds per second each tenant earns.
    pub fn rate(&self) -> f64 {
        self.capacity_ns_per_s / self.names.len().max(1) as f64
    }

    fn refill(&mut self, tenant: usize, now: Instant) {
        let rate = self.rate();
        if let Some(share) = self.shares.get_mut(tenant) {
            let earned = now.saturating_duration_since(share.last).as_secs_f64() * rate;
            share.tokens = (share.tokens + earned).min(rate * BURST.as_secs_f64());
            share.last = now;
        }
    }

    /// Charges a slice of `tenant` that took `cpu_ns` and burned `fuel`.
    pub fn charge(&mut self, tenant: usize, cpu_ns: u64, fuel: u64, now: Instant) {
        self.refill(tenant, now);
        if let Some(share) = self.shares.get_mut(tenant) {
            share.tokens -= cpu_ns as f64;
            share.fuel += fuel;
        }
    }

    /// True when `tenant` has used more than its share lately.
    pub fn over_share(&mut self, tenant: usize, now: Instant) -> bool {
        self.refill(tenant, now);
        self.shares.get(tenant).is_some_and(|s| s.tokens < 0.0)
    }

    /// Fuel each tenant burned, by name.
    pub fn fuel(&self) -> Vec<(String, u64)> {
        self.names
            .iter()
            .cloned()
            .zip(self.shares.iter().map(|s| s.fuel))
            .collect()
    }
}

/// A queued task: its order key, its push number and when it became runnable.
type Entry = Reverse<(i128, u64, TaskId, Instant)>;

/// Runnable tasks, ordered within each tenant by the policy, across tenants by share first.
pub struct RunQueue {
    policy: Box<dyn Policy>,
    epoch: Instant,
    seq: u64,
    per_tenant: Vec<BinaryHeap<Entry>>,
    shares: TenantShares,
    len: usize,
}

impl RunQueue {
    /// An empty queue ordering by `policy`, with `shares`.
    pub fn new(policy: Box<dyn Policy>, shares: TenantShares) -> Self {
        RunQueue {
            policy,
            epoch: Instant::now(),
            seq: 0,
            per_tenant: Vec::new(),
            shares,
            len: 0,
        }
    }

    /// The policy's name.
    pub fn policy_name(&self) -> &'static str {
        self.policy.name()
    }

    /// Whether calls may be parked for better work at slice boundaries.
    pub fn preempts(&self) -> bool {
        self.policy.preempts()
    }

    /// The tenant shares.
    pub fn shares(&mut self) -> &mut TenantShares {
        &mut self.shares
    }

    /// Makes `task` runnable with `priority`, ready since `ready`.
    pub fn push(&mut self, task: TaskId, priority: &Priority, ready: Instant) {
        self.seq += 1;
        let key = self.policy.key(priority, self.seq, self.epoch);
        if self.per_tenant.len() <= priority.tenant {
            self.per_tenant
                .resize_with(priority.tenant + 1, BinaryHeap::new);
        }
        if let Some(heap) = self.per_tenant.get_mut(priority.tenant) {
            heap.push(Reverse((key, self.seq, task, ready)));
            self.len += 1;
        }
    }

    /// Takes the task to run next and when it became runnable: the best key among tenants
    /// within their share, or, if none is, among all.
    pub fn pop(&mut self, now: Instant) -> Option<(TaskId, Instant)> {
        let mut best: Option<(bool, i128, u64, usize)> = None;
        for tenant in 0..self.per_tenant.len() {
            let Some(Reverse((key, seq, _, _))) = self.per_tenant[tenant].peek().copied() else {
                continue;
            };
            let over = self.shares.over_share(tenant, now);
            let candidate = (over, key, seq, tenant);
            if best.is_none_or(|b| (candidate.0, candidate.1, candidate.2) < (b.0, b.1, b.2)) {
                best = Some(candidate);
            }
        }
        let (_, _, _, tenant) = best?;
        let Reverse((_, _, task, ready)) = self.per_tenant.get_mut(tenant)?.pop()?;
        self.len -= 1;
        Some((task, ready))
    }

    /// Number of runnable tasks.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is runnable.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::PolicyKind;

    fn priority(now: Instant, due_ms: u64, cost_ns: u64, tenant: usize) -> Priority {
        Priority {
            due: now + Duration::from_millis(due_ms),
            cost_ns,
            tenant,
        }
    }

    fn drain(queue: &mut RunQueue, now: Instant) -> Vec<TaskId> {
        std::iter::from_fn(|| queue.pop(now).map(|(task, _)| task)).collect()
    }

    fn queue(kind: PolicyKind) -> RunQueue {
        let mut shares = TenantShares::new(1_000);
        shares.tenant("a");
        shares.tenant("b");
        RunQueue::new(kind.build(), shares)
    }

    #[test]
    fn edf_runs_the_earliest_deadline_first_and_fifo_the_earliest_arrival() {
        let now = Instant::now();
        for (kind, expected) in [
            (PolicyKind::Edf, vec![2, 3, 1]),
            (PolicyKind::Fifo, vec![1, 2, 3]),
            (PolicyKind::Llf, vec![3, 2, 1]),
            (PolicyKind::Sjf, vec![2, 1, 3]),
        ] {
            let mut q = queue(kind);
            q.push(1, &priority(now, 300, 50_000_000, 0), now);
            q.push(2, &priority(now, 100, 20_000_000, 1), now);
            q.push(3, &priority(now, 150, 100_000_000, 0), now);
            assert_eq!(drain(&mut q, now), expected, "{kind:?}");
        }
    }

    #[test]
    fn a_tenant_over_its_share_falls_behind_all_in_share_work() {
        let now = Instant::now();
        let mut shares = TenantShares::new(1);
        let greedy = shares.tenant("greedy");
        let modest = shares.tenant("modest");
        let mut q = RunQueue::new(PolicyKind::Edf.build(), shares);
        // The greedy tenant used far more than its half of one worker just now: 10 s of CPU.
        q.shares().charge(greedy, 10_000_000_000, 0, now);
        q.push(1, &priority(now, 1, 0, greedy), now);
        q.push(2, &priority(now, 1_000, 0, modest), now);
        assert_eq!(
            drain(&mut q, now),
            [2, 1],
            "the tiny deadline does not help"
        );
        // Once it has earned its share back it competes on deadlines again.
        let later = now + Duration::from_secs(30);
        q.push(1, &priority(now, 1, 0, greedy), now);
        q.push(2, &priority(now, 1_000, 0, modest), now);
        assert_eq!(drain(&mut q, later), [1, 2]);
    }
}
