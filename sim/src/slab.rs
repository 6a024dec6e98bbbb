//! A slab of reusable slots: values parked by a small index (an event, a message in
//! flight) without an allocation each, and freed slots reused.

/// Values by slot; freed slots are reused last-freed first.
#[derive(Debug)]
pub(crate) struct Slab<T> {
    slots: Vec<Option<T>>,
    free: Vec<u32>,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T> Slab<T> {
    /// Parks `v`; returns its slot.
    pub(crate) fn put(&mut self, v: T) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(v);
                i
            }
            None => {
                self.slots.push(Some(v));
                u32::try_from(self.slots.len() - 1).expect("slab slots fit u32")
            }
        }
    }

    /// Takes the value of `slot` and frees the slot. Panics on a free slot.
    pub(crate) fn take(&mut self, slot: u32) -> T {
        let v = self.slots[slot as usize]
            .take()
            .expect("a slab slot taken once per put");
        self.free.push(slot);
        v
    }

    /// Occupied slots.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_reused_and_values_come_back_intact() {
        let mut s = Slab::default();
        let a = s.put("a".to_string());
        let b = s.put("b".to_string());
        assert_ne!(a, b);
        assert_eq!(s.take(a), "a");
        let c = s.put("c".to_string());
        assert_eq!(c, a, "the freed slot is reused");
        assert_eq!(s.len(), 2);
        assert_eq!(s.take(b), "b");
        assert_eq!(s.take(c), "c");
        assert_eq!(s.len(), 0);
    }

    #[test]
    #[should_panic(expected = "taken once per put")]
    fn taking_a_free_slot_panics() {
        let mut s: Slab<u8> = Slab::default();
        let a = s.put(1);
        s.take(a);
        s.take(a);
    }
}
