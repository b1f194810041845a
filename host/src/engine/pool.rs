//! How instances get their memory: on demand (the default), or from a pool of slots reserved
//! up front, which makes instantiation cheap and keeps many idle instances small (each
//! slot's linear memory starts as a copy-on-write image of the module's data). Opt-in: a
//! pool reserves address space for every slot whether used or not, and caps every memory at
//! the instance limit.

use wasmtime::{Config, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How an engine allocates its instances.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Allocation {
    /// Each instance maps its memories when it is created and unmaps them when dropped.
    #[default]
    OnDemand,
    /// Slots for `instances` operator instances are reserved when the engine is made and
    /// reused; an instance beyond them fails to instantiate.
    Pooling {
        /// Operator instances the pool holds at once.
        instances: u32,
    },
}

/// Core instances, memories and tables one operator component may have (a guest with the
/// WASI adapter has a handful of each).
const CORE_INSTANCES_PER_COMPONENT: u32 = 16;
const MEMORIES_PER_COMPONENT: u32 = 4;
const TABLES_PER_COMPONENT: u32 = 8;

/// Sets `config` up for `allocation`, with every memory capped at `memory_bytes`.
pub(super) fn configure(config: &mut Config, allocation: Allocation, memory_bytes: u64) {
    let Allocation::Pooling { instances } = allocation else {
        return;
    };
    let instances = instances.max(1);
    let memory = usize::try_from(memory_bytes).unwrap_or(usize::MAX);
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(instances)
        .total_core_instances(instances.saturating_mul(CORE_INSTANCES_PER_COMPONENT))
        .total_memories(instances.saturating_mul(MEMORIES_PER_COMPONENT))
        .total_tables(instances.saturating_mul(TABLES_PER_COMPONENT))
        .total_stacks(instances)
        .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
        .max_memories_per_component(MEMORIES_PER_COMPONENT)
        .max_tables_per_component(TABLES_PER_COMPONENT)
        .max_memory_size(memory);
    // Reserve only the instance cap per memory (not the default 4 GiB and guard), so that
    // thousands of slots fit in the address space; bounds are then checked explicitly.
    config
        .memory_reservation(memory_bytes)
        .memory_guard_size(0)
        .memory_init_cow(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
}
