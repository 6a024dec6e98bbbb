//! [`Tracked`]: a value that remembers whether it was borrowed mutably since its
//! invariants were last checked.
//!
//! `Replica::check_invariants` runs after every step; walking a structure whose state no
//! step has touched since the last walk re-checks the very same state. Every mutation needs
//! `&mut T`, which only [`DerefMut`] hands out, and that marks the value dirty; a check
//! runs (and clears the mark) only when it is dirty. The check must be a pure function of
//! the value (and of constants), so skipping it on an untouched value skips nothing.

use std::cell::Cell;
use std::ops::{Deref, DerefMut};

#[derive(Debug)]
pub(crate) struct Tracked<T> {
    value: T,
    dirty: Cell<bool>,
}

impl<T> Tracked<T> {
    /// A value whose first check runs.
    pub(crate) fn new(value: T) -> Self {
        Tracked {
            value,
            dirty: Cell::new(true),
        }
    }

    /// True if the value may have changed since the last call; clears the mark.
    #[cfg_attr(
        not(any(test, debug_assertions, feature = "invariants")),
        allow(dead_code)
    )]
    pub(crate) fn take_dirty(&self) -> bool {
        self.dirty.replace(false)
    }
}

impl<T: Default> Default for Tracked<T> {
    fn default() -> Self {
        Tracked::new(T::default())
    }
}

impl<T> Deref for Tracked<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for Tracked<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.dirty.set(true);
        &mut self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_mutable_borrows_mark_it_dirty() {
        let mut t = Tracked::new(vec![1]);
        assert!(t.take_dirty(), "a new value is checked once");
        assert!(!t.take_dirty());
        assert_eq!(t.len(), 1);
        assert!(!t.take_dirty(), "reads leave it clean");
        t.push(2);
        assert!(t.take_dirty(), "a mutation marks it");
        assert!(!t.take_dirty());
        let r: &mut Vec<i32> = &mut t;
        r.clear();
        assert!(t.take_dirty(), "a reborrow as &mut marks it");
    }
}
