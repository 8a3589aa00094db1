//! Lock helpers that tolerate poisoning.
//!
//! A lock is poisoned when a thread panicked while holding it. Every lock in this crate guards
//! plain data that each holder leaves consistent between statements (no invariant spans a
//! panic point), so the data is still good, and one panicking request must not take every
//! later one down with it.

use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

pub fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

pub fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}
