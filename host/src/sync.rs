//! Locks that survive a panic elsewhere: a poisoned lock's data is still consistent here (no
//! critical section leaves it half-changed on a path that can panic), and one failed thread
//! must not take the host down with it.

use std::sync::{
    Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard, WaitTimeoutResult,
};
use std::time::Duration;

/// Locking that recovers a poisoned mutex instead of failing.
pub(crate) trait LockRecovered<T> {
    /// Locks, taking over the guard of a poisoned lock.
    fn lock_recovered(&self) -> MutexGuard<'_, T>;
}

impl<T> LockRecovered<T> for Mutex<T> {
    fn lock_recovered(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Read and write locking that recovers a poisoned lock instead of failing.
pub(crate) trait RwLockRecovered<T> {
    /// Locks for reading, taking over the guard of a poisoned lock.
    fn read_recovered(&self) -> RwLockReadGuard<'_, T>;
    /// Locks for writing, taking over the guard of a poisoned lock.
    fn write_recovered(&self) -> RwLockWriteGuard<'_, T>;
}

impl<T> RwLockRecovered<T> for RwLock<T> {
    fn read_recovered(&self) -> RwLockReadGuard<'_, T> {
        self.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write_recovered(&self) -> RwLockWriteGuard<'_, T> {
        self.write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Waiting on a condition variable, recovering a poisoned mutex.
pub(crate) trait WaitRecovered {
    /// Waits for a notification.
    fn wait_recovered<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T>;
    /// Waits for a notification or until `timeout` has passed.
    fn wait_timeout_recovered<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult);
}

impl WaitRecovered for Condvar {
    fn wait_recovered<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.wait(guard)
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn wait_timeout_recovered<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        self.wait_timeout(guard, timeout)
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
