//! The host's memory budget: one account for the host, shared out to tenants and, inside a
//! tenant, to jobs. Every allocation whose size a guest or an input controls is charged to its
//! job before it is made, and the charge must fit every level above it too; past a share the
//! allocation is refused with [`BudgetExceeded`], which names the limit, the numbers and the
//! holder. Allocations the host cannot refuse (a call's output already made, events queued
//! for back-pressure) are charged anyway so the figures stay true, and make later refusable
//! charges fail sooner.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::state::TenantState;
use crate::sync::LockRecovered;

/// How the host's memory is shared out. Every figure is in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BudgetConfig {
    /// What all tenants together may hold.
    pub host_bytes: u64,
    /// What one tenant may hold, across all its jobs.
    pub tenant_bytes: u64,
    /// What one job may hold.
    pub job_bytes: u64,
}

impl Default for BudgetConfig {
    /// Half the machine's memory for the host; a tenant may take half of that, and one job all
    /// of its tenant's share.
    fn default() -> Self {
        let host_bytes = machine_memory().map_or(4 << 30, |total| total / 2);
        BudgetConfig::for_host(host_bytes)
    }
}

impl BudgetConfig {
    /// A host budget of `host_bytes`, with a tenant's share half of it and a job's share all of
    /// its tenant's.
    pub fn for_host(host_bytes: u64) -> Self {
        let tenant_bytes = host_bytes / 2;
        BudgetConfig {
            host_bytes,
            tenant_bytes,
            job_bytes: tenant_bytes,
        }
    }
}

/// Physical memory of this machine, if the system says.
fn machine_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

/// What a charge pays for, as errors and figures name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    /// A guest's linear memory.
    LinearMemory,
    /// Keyed state, committed or written by a call in flight.
    KeyedState,
    /// Window panes held by the host.
    WindowPanes,
    /// Join buffers held by the host.
    JoinBuffers,
    /// Event-time timers.
    Timers,
    /// Events waiting in mailboxes.
    Mailboxes,
    /// A call's output before it is routed.
    CallOutput,
    /// Log lines and captured stdout/stderr of a call, until they are written out.
    LogLines,
}

impl Resource {
    fn describe(self) -> &'static str {
        match self {
            Resource::LinearMemory => "linear memory",
            Resource::KeyedState => "keyed state",
            Resource::WindowPanes => "window panes",
            Resource::JoinBuffers => "join buffers",
            Resource::Timers => "timers",
            Resource::Mailboxes => "queued events",
            Resource::CallOutput => "call output",
            Resource::LogLines => "log lines",
        }
    }
}

/// A charge that would take a job, its tenant or the host past its memory budget.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "memory budget exceeded: {adding} more bytes for {what}, but {holder} already holds \
     {used} of its {limit}-byte budget; hold less per key, window or call, or give {holder} a \
     larger budget (--memory-budget)",
    what = what.describe()
)]
pub struct BudgetExceeded {
    /// What the charge was for.
    pub what: Resource,
    /// The account that refused: `job "x"`, `tenant "t"` or `the host`.
    pub holder: String,
    /// Bytes it held when the charge came.
    pub used: u64,
    /// Bytes the charge asked for.
    pub adding: u64,
    /// Its budget.
    pub limit: u64,
}

/// One level of the budget: what it may hold and what it holds.
#[derive(Debug)]
struct Account {
    holder: String,
    limit: u64,
    used: AtomicU64,
}

impl Account {
    fn new(holder: String, limit: u64) -> Arc<Self> {
        Arc::new(Account {
            holder,
            limit,
            used: AtomicU64::new(0),
        })
    }

    /// Adds `bytes` if they fit under the limit; otherwise reports what it held.
    fn try_add(&self, bytes: u64) -> Result<(), u64> {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|total| *total <= self.limit)
            })
            .map(|_| ())
    }

    fn add(&self, bytes: u64) {
        self.used.fetch_add(bytes, Ordering::AcqRel);
    }

    fn sub(&self, bytes: u64) {
        let _ = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                Some(used.saturating_sub(bytes))
            });
    }

    fn used(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }

    /// The refusal of `adding` bytes for `what` while it held `used`.
    fn refusal(&self, what: Resource, used: u64, adding: u64) -> BudgetExceeded {
        BudgetExceeded {
            what,
            holder: self.holder.clone(),
            used,
            adding,
            limit: self.limit,
        }
    }
}

/// The host's budget and its tenants' shares.
#[derive(Debug)]
pub struct MemoryBudget {
    config: BudgetConfig,
    host: Arc<Account>,
    tenants: Mutex<HashMap<String, Arc<Account>>>,
}

impl MemoryBudget {
    /// A budget shared out as `config` says.
    pub fn new(config: BudgetConfig) -> Self {
        MemoryBudget::with_reserve(config, 0)
    }

    /// A budget shared out as `config` says, of which the host keeps `reserve` bytes back
    /// (at most half its budget) for allocations no charge can precede: the outputs a call
    /// returns are lifted out of the guest before the host can look at them. No tenant's
    /// share is then more than half of what is left, so one tenant cannot take it all.
    pub fn with_reserve(mut config: BudgetConfig, reserve: u64) -> Self {
        let reserve = reserve.min(config.host_bytes / 2);
        let holder = if reserve == 0 {
            "the host".to_string()
        } else {
            let half_left = (config.host_bytes - reserve) / 2;
            config.tenant_bytes = config.tenant_bytes.min(half_left);
            format!("the host (less {reserve} bytes kept for lifting call outputs)")
        };
        MemoryBudget {
            config,
            host: Account::new(holder, config.host_bytes - reserve),
            tenants: Mutex::new(HashMap::new()),
        }
    }

    /// The account a new job `job` of tenant `tenant` charges to.
    pub fn for_job(&self, tenant: &str, job: &str) -> Budget {
        let tenant = Arc::clone(
            self.tenants
                .lock_recovered()
                .entry(tenant.to_string())
                .or_insert_with(|| {
                    Account::new(format!("tenant \"{tenant}\""), self.config.tenant_bytes)
                }),
        );
        Budget {
            chain: Arc::new([
                Account::new(format!("job \"{job}\""), self.config.job_bytes),
                tenant,
                Arc::clone(&self.host),
            ]),
        }
    }

    /// Bytes the host holds now, charged to every job together.
    pub fn used(&self) -> u64 {
        self.host.used()
    }
}

/// The budget one job charges to: its own share, its tenant's and the host's, each of which
/// must have room.
#[derive(Debug, Clone)]
pub struct Budget {
    /// Innermost first: the job, its tenant, the host.
    chain: Arc<[Arc<Account>; 3]>,
}

impl Budget {
    /// A budget of its own with no limit, for tests and tools.
    pub fn unlimited() -> Self {
        MemoryBudget::new(BudgetConfig {
            host_bytes: u64::MAX,
            tenant_bytes: u64::MAX,
            job_bytes: u64::MAX,
        })
        .for_job("unlimited", "unlimited")
    }

    /// Charges `bytes` for `what`, or refuses (charging nothing) when a level has no room.
    pub fn charge(&self, what: Resource, bytes: u64) -> Result<(), BudgetExceeded> {
        if bytes == 0 {
            return Ok(());
        }
        for (index, account) in self.chain.iter().enumerate() {
            if let Err(used) = account.try_add(bytes) {
                for charged in &self.chain[..index] {
                    charged.sub(bytes);
                }
                return Err(account.refusal(what, used, bytes));
            }
        }
        Ok(())
    }

    /// Charges `bytes` that cannot be refused (they are already allocated).
    pub fn force(&self, bytes: u64) {
        for account in self.chain.iter() {
            account.add(bytes);
        }
    }

    /// Whether `bytes` more for `what` would fit every level now, without charging them (for
    /// growth measured after the fact: see [`Budget::resize`]).
    pub fn check(&self, what: Resource, bytes: u64) -> Result<(), BudgetExceeded> {
        if bytes == 0 {
            return Ok(());
        }
        for account in self.chain.iter() {
            let used = account.used();
            if used.saturating_add(bytes) > account.limit {
                return Err(account.refusal(what, used, bytes));
            }
        }
        Ok(())
    }

    /// Gives back `bytes` charged before.
    pub fn release(&self, bytes: u64) {
        for account in self.chain.iter() {
            account.sub(bytes);
        }
    }

    /// Records that something charged went from `before` to `after` bytes, whatever the
    /// budget (for sizes measured after the fact).
    pub fn resize(&self, before: u64, after: u64) {
        if after > before {
            self.force(after - before);
        } else {
            self.release(before - after);
        }
    }

    /// Bytes the job holds now.
    pub fn used(&self) -> u64 {
        self.chain[0].used()
    }
}

/// What one operator instance charges: its job's memory budget, and its tenant's keyed-state
/// quota.
#[derive(Debug, Clone)]
pub struct Accounts {
    /// The job's memory budget.
    pub budget: Budget,
    /// The tenant's keyed-state quota, shared by all its jobs.
    pub state: Arc<TenantState>,
}

impl Accounts {
    /// Accounts with no limits, for tests and tools.
    pub fn unlimited() -> Self {
        Accounts {
            budget: Budget::unlimited(),
            state: TenantState::new("unlimited", u64::MAX),
        }
    }
}

/// Bytes one heap allocation of `len` bytes costs, allocator overhead included (glibc's malloc:
/// 8 bytes of header, 16-byte granules, 32 bytes at least).
pub fn allocation(len: usize) -> u64 {
    if len == 0 {
        0
    } else {
        (len as u64 + 8).div_ceil(16).max(2) * 16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_keeps_room_back_for_lifting_outputs_but_never_more_than_half() {
        let config = BudgetConfig {
            host_bytes: 1000,
            tenant_bytes: 1000,
            job_bytes: 1000,
        };
        let budget = MemoryBudget::with_reserve(config, 300);
        // A tenant may hold half of what is left, so two fill the host.
        let (a, b) = (budget.for_job("t", "a"), budget.for_job("u", "b"));
        a.charge(Resource::KeyedState, 350).unwrap();
        let err = a.charge(Resource::KeyedState, 1).unwrap_err();
        assert_eq!((err.holder.as_str(), err.limit), ("tenant \"t\"", 350));
        b.charge(Resource::KeyedState, 350).unwrap();
        let err = budget
            .for_job("v", "c")
            .charge(Resource::KeyedState, 1)
            .unwrap_err();
        assert_eq!(
            (err.holder.as_str(), err.used, err.limit),
            (
                "the host (less 300 bytes kept for lifting call outputs)",
                700,
                700
            )
        );
        let job = MemoryBudget::with_reserve(config, 10_000).for_job("t", "a");
        job.charge(Resource::KeyedState, 250).unwrap();
        assert_eq!(job.charge(Resource::KeyedState, 1).unwrap_err().limit, 250);
    }

    #[test]
    fn a_charge_must_fit_the_job_its_tenant_and_the_host() {
        let budget = MemoryBudget::new(BudgetConfig {
            host_bytes: 1000,
            tenant_bytes: 600,
            job_bytes: 600,
        });
        let a = budget.for_job("t", "a");
        let b = budget.for_job("t", "b");
        let other = budget.for_job("u", "c");
        a.charge(Resource::KeyedState, 600).unwrap();
        let err = a.charge(Resource::KeyedState, 1).unwrap_err();
        assert_eq!(err.holder, "job \"a\"");
        let err = b.charge(Resource::WindowPanes, 1).unwrap_err();
        assert_eq!(
            (err.holder.as_str(), err.used, err.limit),
            ("tenant \"t\"", 600, 600)
        );
        assert_eq!(b.used(), 0, "a refused charge leaves nothing behind");
        other.charge(Resource::LinearMemory, 400).unwrap();
        let err = other.charge(Resource::LinearMemory, 1).unwrap_err();
        assert_eq!(err.holder, "the host");
        assert_eq!(
            err.to_string(),
            "memory budget exceeded: 1 more bytes for linear memory, but the host already \
             holds 1000 of its 1000-byte budget; hold less per key, window or call, or give the \
             host a larger budget (--memory-budget)"
        );
        a.release(400);
        other.charge(Resource::LinearMemory, 1).unwrap();
        assert_eq!(budget.used(), 601);
    }

    #[test]
    fn resizing_follows_what_is_held_whatever_the_budget() {
        let budget = MemoryBudget::new(BudgetConfig::for_host(100));
        let job = budget.for_job("t", "j");
        job.resize(0, 500);
        assert_eq!(job.used(), 500);
        job.resize(500, 20);
        assert_eq!((job.used(), budget.used()), (20, 20));
    }

    #[test]
    fn an_allocation_costs_at_least_a_minimum_chunk() {
        assert_eq!(allocation(0), 0);
        assert_eq!(allocation(1), 32);
        assert_eq!(allocation(24), 32);
        assert_eq!(allocation(25), 48);
    }
}
