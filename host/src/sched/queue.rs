//! The run queue: runnable tasks per tenant, ordered by the policy's key, with each tenant's
//! priority counting only inside its CPU share.
//!
//! Every tenant earns CPU time at its share of the host's capacity (workers × 1 s per second,
//! equal shares by default) into a small bucket, and the time of every slice it runs is
//! charged to it (measured, not estimated: fuel rates differ too much between code to stand in
//! for time here). A tenant whose bucket is empty is over its share: its tasks run only when no
//! in-share task is runnable, whatever their deadlines, so declaring tiny latency targets buys
//! nothing.
//!
//! The bucket measures use over tens of milliseconds; at any instant a tenant is also held to
//! its share of the workers (at least one): while it runs on more than that, another tenant's
//! waiting work goes first at the next slice end, whatever the deadlines. Without this, a
//! tenant that was idle for a while (so its bucket is full) and then floods every worker with
//! work whose deadlines are older keeps a neighbour's fresh event waiting until the bucket is
//! empty, tens of milliseconds later.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

use super::keyed_heap::KeyedHeap;
pub use super::passed_over::PassedOver;
use super::priority::Priority;
use super::timers::Timers;
use super::{Policy, TaskId};

/// How much CPU time a tenant may bank, in time at its rate: short, so a tenant idle for a
/// while cannot then monopolise the host.
const BURST: Duration = Duration::from_millis(50);

/// One tenant's account: CPU time banked, fuel burned, and how long its tasks waited.
struct Share {
    name: String,
    /// Nanoseconds of CPU time banked (negative: over share).
    tokens: f64,
    last: Instant,
    fuel: u64,
    /// Slices started.
    slices: u64,
    /// Time from becoming runnable to a slice starting, ns.
    ready_to_run: Option<Histogram<u64>>,
    /// Workers running its tasks now.
    running: usize,
    /// What other tasks ran while it had work waiting.
    passed_over: PassedOver,
}

/// CPU shares of the tenants on a host.
pub struct TenantShares {
    capacity_ns_per_s: f64,
    workers: usize,
    shares: Vec<Share>,
}

impl TenantShares {
    /// Shares of a host with `workers` worker threads.
    pub fn new(workers: usize) -> Self {
        TenantShares {
            capacity_ns_per_s: workers.max(1) as f64 * 1e9,
            workers: workers.max(1),
            shares: Vec::new(),
        }
    }

    /// The index of tenant `name`, registering it (with an equal share) if new.
    pub fn tenant(&mut self, name: &str) -> usize {
        if let Some(index) = self.shares.iter().position(|s| s.name == name) {
            return index;
        }
        // A new tenant starts with nothing banked: it earns its share from now on.
        self.shares.push(Share {
            name: name.to_string(),
            tokens: 0.0,
            last: Instant::now(),
            fuel: 0,
            slices: 0,
            ready_to_run: Histogram::new(3).ok(),
            running: 0,
            passed_over: PassedOver::default(),
        });
        self.shares.len() - 1
    }

    /// CPU nanoseconds per second each tenant earns.
    pub fn rate(&self) -> f64 {
        self.capacity_ns_per_s / self.shares.len().max(1) as f64
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

    /// The workers each tenant may hold at once while another tenant's work waits: its share
    /// of them, at least one.
    fn workers_each(&self) -> usize {
        (self.workers / self.shares.len().max(1)).max(1)
    }

    /// True when `tenant` runs on more than its share of the workers, counting `others` more
    /// of its tasks than run now (1 for a task about to start, 0 for one running).
    fn holds_too_many_workers(&self, tenant: usize, others: usize) -> bool {
        self.shares
            .get(tenant)
            .is_some_and(|s| s.running + others > self.workers_each())
    }

    /// Records that a worker stopped running a task of `tenant` (it finished its turn or gave
    /// the worker back).
    pub fn stopped(&mut self, tenant: usize) {
        if let Some(share) = self.shares.get_mut(tenant) {
            share.running = share.running.saturating_sub(1);
        }
    }

    /// Records that a slice of `tenant` started `delay` after its task became runnable.
    fn record_start(&mut self, tenant: usize, delay: Duration) {
        if let Some(share) = self.shares.get_mut(tenant) {
            share.slices += 1;
            share.running += 1;
            let ns = (delay.as_nanos() as u64).max(1);
            if let Some(histogram) = &mut share.ready_to_run {
                crate::metrics::record(histogram, ns);
            }
        }
    }

    /// Scheduling figures per tenant so far, in registration order.
    pub fn stats(&self) -> Vec<TenantSchedStats> {
        self.shares
            .iter()
            .map(|share| {
                let histogram = share.ready_to_run.as_ref();
                let us = |q: f64| histogram.map_or(0.0, |h| h.value_at_quantile(q) as f64 / 1e3);
                TenantSchedStats {
                    tenant: share.name.clone(),
                    slices: share.slices,
                    fuel: share.fuel,
                    ready_to_run_p50_us: us(0.5),
                    ready_to_run_p99_us: us(0.99),
                    ready_to_run_max_us: histogram.map_or(0.0, |h| h.max() as f64 / 1e3),
                    passed_over: share.passed_over,
                }
            })
            .collect()
    }
}

/// Scheduling figures of one tenant.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TenantSchedStats {
    /// The tenant.
    pub tenant: String,
    /// Slices started from the run queue (a task that keeps its worker across slices
    /// counts once).
    pub slices: u64,
    /// Fuel charged.
    pub fuel: u64,
    /// Time from a task becoming runnable to its slice starting, µs: median.
    pub ready_to_run_p50_us: f64,
    /// Same, 99th percentile.
    pub ready_to_run_p99_us: f64,
    /// Same, maximum.
    pub ready_to_run_max_us: f64,
    /// What other tasks ran while its work waited.
    pub passed_over: PassedOver,
}

/// Where a task stands in the order: over its tenant's share first, then the policy's key,
/// then the push number. Smaller runs first.
type Rank = (bool, i128, u64);

/// Runnable tasks, ordered within each tenant by the policy, across tenants by share first.
pub struct RunQueue {
    policy: Box<dyn Policy>,
    epoch: Instant,
    seq: u64,
    /// Per tenant, its queued tasks by order key and push number.
    /// Per tenant, runnable tasks by (demoted, key, seq): a tenant's demoted calls come after
    /// its other work, and across tenants only the key counts.
    per_tenant: Vec<KeyedHeap<TaskId, (bool, i128, u64)>>,
    /// When each queued task became runnable.
    ready: HashMap<TaskId, Instant>,
    shares: TenantShares,
    /// Workers waiting for work.
    idle: usize,
    /// Timed tasks (sources), run outside the policy's order.
    timers: Timers,
}

impl RunQueue {
    /// An empty queue ordering by `policy`, with `shares`.
    pub fn new(policy: Box<dyn Policy>, shares: TenantShares) -> Self {
        RunQueue {
            policy,
            epoch: Instant::now(),
            seq: 0,
            per_tenant: Vec::new(),
            ready: HashMap::new(),
            shares,
            idle: 0,
            timers: Timers::default(),
        }
    }

    /// The tenant shares.
    pub fn shares(&mut self) -> &mut TenantShares {
        &mut self.shares
    }

    /// The timed tasks.
    pub fn timers(&mut self) -> &mut Timers {
        &mut self.timers
    }

    /// Makes `task` runnable with `priority`, ready since `ready`. A task already queued
    /// moves up if `priority` ranks it better (it keeps the time it became ready); true when
    /// the queue changed.
    pub fn push(&mut self, task: TaskId, priority: &Priority, ready: Instant) -> bool {
        self.seq += 1;
        let key = self.policy.key(priority, self.seq, self.epoch);
        let demoted = self.demotes(priority);
        if self.per_tenant.len() <= priority.tenant {
            self.per_tenant
                .resize_with(priority.tenant + 1, KeyedHeap::default);
        }
        let Some(heap) = self.per_tenant.get_mut(priority.tenant) else {
            return false;
        };
        if !heap.push(task, (demoted, key, self.seq)) {
            return false;
        }
        self.ready.entry(task).or_insert(ready);
        true
    }

    /// Records a turn of a task that took `ns` and burned `fuel` against every tenant with
    /// other work waiting that is not demoted (see [`PassedOver`]); the task that ran is not
    /// queued, so a tenant's own other tasks count too.
    pub fn passed_over(&mut self, (ns, fuel): (u64, u64)) {
        for (tenant, heap) in self.per_tenant.iter_mut().enumerate() {
            if heap.peek().is_none_or(|((demoted, _, _), _)| demoted) {
                continue;
            }
            if let Some(share) = self.shares.shares.get_mut(tenant) {
                share.passed_over.record(ns, fuel);
            }
        }
    }

    /// True when `priority` is demoted and the policy heeds demotion.
    pub fn demotes(&self, priority: &Priority) -> bool {
        priority.demoted && self.policy.demotes()
    }

    /// Moves `task` up if it is queued and `priority` ranks it better than its entry (new
    /// work arrived for it); true when it moved. A task not queued (running) is left alone.
    pub fn improve(&mut self, task: TaskId, priority: &Priority, now: Instant) -> bool {
        self.ready.contains_key(&task) && self.push(task, priority, now)
    }

    /// True when `tenant` is over its share of time, or would hold more than its share of the
    /// workers with `others` more of its tasks running, and the policy heeds shares.
    fn over_share(&mut self, tenant: usize, others: usize, now: Instant) -> bool {
        self.policy.shares()
            && (self.shares.holds_too_many_workers(tenant, others)
                || self.shares.over_share(tenant, now))
    }

    /// The best-ranked waiting task's rank and tenant, to start on a free worker, or in place
    /// of a running task of tenant `replacing` (whose tasks then hold no more workers than now).
    fn best(&mut self, now: Instant, replacing: Option<usize>) -> Option<(Rank, usize)> {
        let mut best: Option<(Rank, usize)> = None;
        for tenant in 0..self.per_tenant.len() {
            let Some(((demoted, key, seq), _)) = self.per_tenant[tenant].peek() else {
                continue;
            };
            let more = usize::from(replacing != Some(tenant));
            // A demoted call is background work: it ranks with over-share work, whoever's.
            let rank = (demoted || self.over_share(tenant, more, now), key, seq);
            if best.is_none_or(|(b, _)| rank < b) {
                best = Some((rank, tenant));
            }
        }
        best
    }

    /// Takes the task to run next and its tenant, recording how long it waited: the best key
    /// among tenants within their share, or, if none is, among all. The worker that takes it
    /// reports the end of its turn with [`TenantShares::stopped`].
    pub fn pop(&mut self, now: Instant) -> Option<(TaskId, usize)> {
        let (_, tenant) = self.best(now, None)?;
        let (_, task) = self.per_tenant.get_mut(tenant)?.pop()?;
        let ready = self.ready.remove(&task).unwrap_or(now);
        self.shares
            .record_start(tenant, now.saturating_duration_since(ready));
        Some((task, tenant))
    }

    /// True when a running task, now with `priority`, should give way at this slice boundary
    /// (always, under a policy that does not preempt): a waiting task ranks before it.
    pub fn should_yield(&mut self, priority: &Priority, now: Instant) -> bool {
        if !self.policy.preempts() {
            return true;
        }
        // A demoted call gives way to any of its tenant's work that is not.
        if self.demotes(priority)
            && self
                .per_tenant
                .get_mut(priority.tenant)
                .and_then(KeyedHeap::peek)
                .is_some_and(|((demoted, _, _), _)| !demoted)
        {
            return true;
        }
        let key = self.policy.key(priority, self.seq + 1, self.epoch);
        let own = (
            self.demotes(priority) || self.over_share(priority.tenant, 0, now),
            key,
            self.seq + 1,
        );
        let margin = self.policy.margin();
        self.best(now, Some(priority.tenant))
            .is_some_and(|(best, _)| {
                // In share before over share; within the same standing, clearly better keys.
                (!best.0 && own.0) || (best.0 == own.0 && best.1.saturating_add(margin) < own.1)
            })
    }

    /// Counts a worker going to wait for work (`true`) or waking (`false`).
    pub fn set_waiting(&mut self, waiting: bool) {
        if waiting {
            self.idle += 1;
        } else {
            self.idle = self.idle.saturating_sub(1);
        }
    }

    /// True when some worker waits for work.
    pub fn has_idle_worker(&self) -> bool {
        self.idle > 0
    }

    #[cfg(test)]
    /// Number of runnable tasks.
    pub fn len(&self) -> usize {
        self.ready.len()
    }

    #[cfg(test)]
    /// True when nothing is runnable.
    pub fn is_empty(&self) -> bool {
        self.ready.is_empty()
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
            demoted: false,
        }
    }

    #[test]
    fn a_demoted_call_goes_after_its_tenants_later_deadlines() {
        let now = Instant::now();
        let mut q = queue(PolicyKind::Edf);
        let long_call = Priority {
            demoted: true,
            ..priority(now, 1, 0, 0)
        };
        q.push(1, &long_call, now);
        q.push(2, &priority(now, 5_000, 0, 0), now);
        assert_eq!(drain(&mut q, now), [2, 1]);
        q.push(2, &priority(now, 5_000, 0, 0), now);
        assert!(q.should_yield(&long_call, now), "a demoted call gives way");
        // Across tenants a demoted call is background work: another tenant's work within its
        // share goes first, whatever the deadlines; a call that is not demoted keeps the
        // worker against a later deadline.
        let mut q = queue(PolicyKind::Edf);
        q.push(3, &priority(now, 5_000, 0, 1), now);
        assert!(q.should_yield(&long_call, now));
        assert!(!q.should_yield(&priority(now, 1, 0, 0), now));
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
    fn fifo_serves_tenants_in_arrival_order_whatever_their_shares() {
        let now = Instant::now();
        let mut shares = TenantShares::new(1);
        let greedy = shares.tenant("greedy");
        let modest = shares.tenant("modest");
        let mut q = RunQueue::new(PolicyKind::Fifo.build(), shares);
        q.shares().charge(greedy, 10_000_000_000, 0, now);
        q.push(1, &priority(now, 1, 0, greedy), now);
        q.push(2, &priority(now, 1, 0, modest), now);
        assert_eq!(drain(&mut q, now), [1, 2]);
    }

    #[test]
    fn a_running_task_keeps_its_worker_unless_a_waiting_one_is_clearly_better() {
        let now = Instant::now();
        let mut q = queue(PolicyKind::Edf);
        let running = priority(now, 100, 0, 0);
        assert!(!q.should_yield(&running, now), "nothing waits");
        // A deadline a hair earlier is a tie: switching would cost more than it gains.
        q.push(
            1,
            &Priority {
                due: running.due - Duration::from_micros(100),
                ..running
            },
            now,
        );
        assert!(!q.should_yield(&running, now));
        // Clearly earlier, same tenant: the running task gives way.
        q.push(2, &priority(now, 50, 0, 0), now);
        assert!(q.should_yield(&running, now));
        // A non-preemptive policy gives the worker back after every call.
        let mut fifo = queue(PolicyKind::Fifo);
        assert!(fifo.should_yield(&running, now));
        // Round robin hands over to anything waiting.
        let mut rr = queue(PolicyKind::RoundRobin);
        assert!(!rr.should_yield(&running, now));
        rr.push(3, &priority(now, 900, 0, 1), now);
        assert!(rr.should_yield(&running, now));
    }

    #[test]
    fn a_tenant_on_more_than_its_share_of_the_workers_gives_way_whatever_its_deadlines() {
        let now = Instant::now();
        let mut shares = TenantShares::new(2);
        let (flood, quiet) = (shares.tenant("flood"), shares.tenant("quiet"));
        let mut q = RunQueue::new(PolicyKind::Edf.build(), shares);
        q.push(1, &priority(now, 1, 0, flood), now);
        q.push(2, &priority(now, 2, 0, flood), now);
        assert_eq!(q.pop(now), Some((1, flood)));
        assert_eq!(
            q.pop(now),
            Some((2, flood)),
            "nothing else waits: both workers"
        );
        // A later deadline of the other tenant: one of the two workers goes to it.
        let running = priority(now, 1, 0, flood);
        q.push(3, &priority(now, 40, 0, flood), now);
        assert!(!q.should_yield(&running, now));
        q.push(4, &priority(now, 50, 0, quiet), now);
        assert!(q.should_yield(&running, now));
        q.shares().stopped(flood);
        q.push(1, &running, now);
        assert_eq!(
            q.pop(now),
            Some((4, quiet)),
            "ahead of the earlier deadlines"
        );
        // On its one worker, the flooding tenant keeps it against the other's later work.
        q.push(5, &priority(now, 60, 0, quiet), now);
        assert!(!q.should_yield(&running, now));
        assert_eq!(q.pop(now), Some((1, flood)));
    }

    #[test]
    fn a_queued_task_moves_up_when_more_urgent_work_arrives_for_it() {
        let now = Instant::now();
        let mut q = queue(PolicyKind::Edf);
        q.push(1, &priority(now, 100, 0, 0), now);
        q.push(2, &priority(now, 200, 0, 0), now);
        assert!(!q.improve(2, &priority(now, 300, 0, 0), now), "not better");
        assert!(q.improve(2, &priority(now, 50, 0, 0), now));
        assert!(!q.improve(3, &priority(now, 1, 0, 0), now), "not queued");
        assert_eq!(q.len(), 2);
        assert_eq!(drain(&mut q, now), [2, 1], "each task once, 2 first");
        assert!(q.is_empty());
    }

    #[test]
    fn ready_to_run_delays_are_recorded_per_tenant() {
        let now = Instant::now();
        let mut q = queue(PolicyKind::Edf);
        q.push(1, &priority(now, 1, 0, 1), now);
        assert_eq!(q.pop(now + Duration::from_micros(40)), Some((1, 1)));
        let stats = q.shares().stats();
        assert_eq!(stats[0].slices, 0);
        assert_eq!(stats[1].slices, 1);
        assert!((39.0..=41.0).contains(&stats[1].ready_to_run_p99_us));
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
