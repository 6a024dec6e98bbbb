//! Faults: process crashes and restarts, peer links (FIFO, breaks, reconnects) and
//! partitions (symmetric and one way), the fault generator and the final heal.

use std::collections::BTreeMap;

use arbor_core::replica::{Input, Replica};
use arbor_core::txn::Txn;
use arbor_core::types::Zxid;
use arbor_core::PeerMessage;
use rand::Rng;
use tracing::info;

use super::{
    link_ix, Ev, World, BRIDGE, DEPTH_SCHEDULED, FLAP, MS, RECONNECT_DUP, REQUEST_BOUND_NS, S2C,
    SLOW_NODE, TIMER_JUMP, US,
};
use crate::check::liveness::{self, EndState};
use crate::check::{CheckResult, Violation, INTEGRITY};
use crate::disk::{Detection, FlipTarget};
use crate::options::Mutation;

impl World {
    // ----- crashes -----

    pub(super) fn crash(&mut self, n: usize) {
        if self.nodes[n].replica.is_none() {
            return;
        }
        self.line(format!("crash node {}", n + 1));
        info!(node = n + 1, "crash");
        self.faults += 1;
        let node = &mut self.nodes[n];
        if let Some(r) = &node.replica {
            for (t, x) in self.buggify_fired.iter_mut().zip(r.buggify_fired()) {
                *t += x;
            }
        }
        node.replica = None;
        node.inc += 1;
        let pending = node.disk.pending_len();
        let p = self.opts.unsynced_survive_prob.clamp(0.0, 1.0);
        let txns = node.disk.next_txn_records();
        let tear = txns > 0
            && self.opts.storage.torn_write_prob > 0.0
            && self.in_fault_phase
            && self
                .rng
                .storage
                .gen_bool(self.opts.storage.torn_write_prob.clamp(0.0, 1.0))
            && self.damage_allowed(n);
        let node = &mut self.nodes[n];
        if tear {
            let whole = self.rng.storage.gen_range(0..txns);
            let part = self.rng.storage.gen_range(0..8);
            if node.disk.crash_tearing(whole, part, 8) {
                self.disk_faults.torn += 1;
                self.faults += 1;
                self.trace.line(
                    self.now,
                    format!("node {} torn write ({whole} whole records)", n + 1),
                );
            }
            let d = &node.disk.durable;
            let last = d.last_txn_zxid();
            let (id, a, c) = (node.id, d.accepted, d.current);
            if let Err(v) = self.chk.epochs.on_durable(id, a, c, last) {
                self.pending_violation.get_or_insert(v);
            }
        } else if pending > 0 && p > 0.0 && self.rng.disk.gen_bool(p) {
            let keep = self.rng.disk.gen_range(0..=pending);
            let torn = self.rng.disk.gen_range(0..4usize);
            node.disk.crash_keeping(keep, Some(torn));
            let d = &node.disk.durable;
            let last = d.last_txn_zxid();
            let (id, a, c) = (node.id, d.accepted, d.current);
            if let Err(v) = self.chk.epochs.on_durable(id, a, c, last) {
                self.pending_violation.get_or_insert(v);
            }
        } else {
            node.disk.crash();
        }
        node.tick_at = None;
        node.slow_until = 0;
        node.role_seen = "down";
        node.serving_seen = None;
        for m in 0..self.nodes.len() {
            // A resend never crosses a restart of either end.
            if m != n {
                let l = &mut self.links[link_ix(n, m, self.nodes.len())];
                l.sent = Default::default();
            }
            if m != n && self.links[link_ix(n, m, self.nodes.len())].up {
                // The peer notices; this cannot fail a check except via the core.
                let _ = self.break_link(n, m);
            }
        }
        let lost: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, c)| c.server == n && c.server_open)
            .map(|(id, _)| id)
            .collect();
        for id in lost {
            if let Some(c) = self.conns.get_mut(&id) {
                c.server_open = false;
            }
            self.server_to_client(id, S2C::Lost);
        }
        if self.in_fault_phase {
            let down = self.rng.fault.gen_range(50 * MS..3_000 * MS);
            self.push(self.now + down, Ev::Restart { node: n });
        }
    }

    pub(super) fn restart(&mut self, n: usize) -> CheckResult {
        self.line(format!("start node {}", n + 1));
        let detection = if self.opts.mutation == Some(Mutation::NoChecksums) {
            Detection::Off
        } else {
            Detection::On
        };
        let marked = self.nodes[n].disk.durable.damaged;
        let rec = self.nodes[n].disk.recover(detection);
        if rec.damaged.is_some() && rec.damaged != marked {
            self.disk_faults.damage_detected += 1;
            self.line(format!(
                "node {} storage damage detected by checksum; bound {}",
                n + 1,
                rec.damaged.unwrap_or_default()
            ));
        }
        let log: crate::zxid_map::ZxidMap<Txn> =
            rec.log.iter().map(|t| (t.header.zxid, t.clone())).collect();
        let cfg = self.nodes[n].cfg.clone();
        let replica = {
            let span = tracing::info_span!("replica", id = cfg.id.0);
            let _g = span.enter();
            Replica::recover(cfg, rec)
        };
        // Storage handed back a snapshot the core refuses: the checksums let damage through
        // (only possible with them off), and a real server would refuse to start on it.
        let replica = replica.map_err(|e| Violation {
            checker: crate::check::NAMES[INTEGRITY],
            detail: format!("node {} cannot recover: {e}", n + 1),
        })?;
        let applied = replica.applied_zxid();
        let id = self.nodes[n].id;
        self.nodes[n].damaged_seen = replica.damaged().is_some();
        self.chk.primary.on_restart(id, applied);
        {
            let node = &mut self.nodes[n];
            node.shadow = log;
            node.applied_seen = applied;
            node.replica = Some(replica);
            node.disk_done_at = self.now;
        }
        let outs = {
            let r = self.nodes[n].replica.as_mut().expect("just started");
            let mut outs = Vec::new();
            while let Some(o) = r.poll_output() {
                outs.push(o);
            }
            outs
        };
        let inc = self.nodes[n].inc;
        for o in outs {
            if self.nodes[n].inc != inc {
                return Ok(());
            }
            self.perform(n, o)?;
        }
        {
            let r = self.nodes[n].replica.as_ref().expect("live");
            self.chk.ephemerals.check(id, Zxid(-1), applied, r.tree())?;
        }
        self.observe(n)?;
        self.schedule_tick(n);
        for m in 0..self.nodes.len() {
            if m != n {
                let d = self.rng.net.gen_range(MS..50 * MS);
                self.push(
                    self.now + d,
                    Ev::LinkUp {
                        a: n.min(m),
                        b: n.max(m),
                    },
                );
            }
        }
        Ok(())
    }

    // ----- storage faults -----

    /// Rolls a storage fault with probability `p` (fault phase only).
    pub(super) fn roll_storage(&mut self, p: f64) -> bool {
        self.in_fault_phase && p > 0.0 && self.rng.storage.gen_bool(p.clamp(0.0, 1.0))
    }

    /// Whether node `n` may take new damage: fewer than `f = (nodes - 1) / 2` *other* nodes
    /// hold unrepaired damage (on disk, or as a replica still waiting for its resync).
    pub(super) fn damage_allowed(&self, n: usize) -> bool {
        let f = (self.nodes.len() - 1) / 2;
        let others = (0..self.nodes.len())
            .filter(|m| *m != n)
            .filter(|m| {
                let node = &self.nodes[*m];
                node.disk.is_damaged()
                    || node.replica.as_ref().is_some_and(|r| r.damaged().is_some())
            })
            .count();
        let this = self.nodes[n].disk.is_damaged();
        others + usize::from(!this) <= f
    }

    /// After a completed fsync of node `n`: maybe flip a bit of its stored data, and maybe
    /// have the write (if it logged txns: `grew`) land in the wrong slot.
    pub(super) fn maybe_damage_after_sync(&mut self, n: usize, grew: bool) {
        if self.roll_storage(self.opts.storage.bit_flip_prob) && self.damage_allowed(n) {
            let len = self.nodes[n].disk.durable.log.len();
            let has_snap = self.nodes[n].disk.durable.snapshot.is_some();
            if len == 0 && !has_snap {
                return self.maybe_misdirect(n, grew);
            }
            let pick = self
                .rng
                .storage
                .gen_range(0..len + usize::from(has_snap))
                .min(len);
            let target = if pick == len && has_snap {
                FlipTarget::Snapshot
            } else {
                FlipTarget::Record(pick)
            };
            let bit = self.rng.storage.gen_range(0..usize::MAX);
            if self.nodes[n].disk.flip_bit(target, bit) {
                self.disk_faults.bit_flips += 1;
                self.faults += 1;
                self.line(format!("node {} bit flip in {target:?}", n + 1));
            }
        }
        self.maybe_misdirect(n, grew);
    }

    fn maybe_misdirect(&mut self, n: usize, grew: bool) {
        if grew && self.roll_storage(self.opts.storage.misdirect_prob) && self.damage_allowed(n) {
            let len = self.nodes[n].disk.durable.log.len();
            if len >= 2 {
                let to = self.rng.storage.gen_range(0..len - 1);
                if self.nodes[n].disk.misdirect_last(to) {
                    self.disk_faults.misdirected += 1;
                    self.faults += 1;
                    self.line(format!(
                        "node {} misdirected write: record {} landed in slot {to}",
                        n + 1,
                        len - 1
                    ));
                }
            }
        }
    }

    // ----- links -----

    pub(super) fn send(&mut self, from: usize, to: usize, msg: PeerMessage) {
        let nn = self.nodes.len();
        let dir = usize::from(from > to);
        if self.nodes[to].replica.is_none() {
            return;
        }
        let blocked = self.blocked[from * nn + to] > 0;
        let l = &mut self.links[link_ix(from, to, nn)];
        if !l.up || l.poisoned[dir] {
            return;
        }
        if blocked {
            // TCP-like: the stream stalls, then the connection times out and breaks.
            l.poisoned[dir] = true;
            let gen = l.gen;
            let t = self.rng.net.gen_range(200 * MS..1_000 * MS);
            self.push(
                self.now + t,
                Ev::LinkDown {
                    a: from.min(to),
                    b: from.max(to),
                    gen,
                },
            );
            return;
        }
        if self.depth_kinds[DEPTH_SCHEDULED] {
            let sent = &mut self.links[link_ix(from, to, nn)].sent[dir];
            sent.push_back(msg.clone());
            if sent.len() > 4 {
                sent.pop_front();
            }
        }
        self.enqueue(from, to, msg);
    }

    /// Puts `msg` on the link from → to (current connection), FIFO.
    fn enqueue(&mut self, from: usize, to: usize, msg: PeerMessage) {
        let nn = self.nodes.len();
        let dir = usize::from(from > to);
        let mut delay = self
            .rng
            .net
            .gen_range(10 * US..=self.opts.net_delay_us_max.max(11) * US);
        delay += self.slow_delay(from) + self.slow_delay(to);
        let l = &mut self.links[link_ix(from, to, nn)];
        let at = if self.opts.mutation == Some(Mutation::ReorderLinks) {
            self.now + delay
        } else {
            (self.now + delay).max(l.last_at[dir])
        };
        l.last_at[dir] = at;
        let gen = l.gen;
        let msg = self.put_in_flight(msg);
        self.push(at, Ev::Deliver { from, to, gen, msg });
    }

    /// The extra delay of a message from or to node `n` while it is slow (0 otherwise).
    pub(super) fn slow_delay(&mut self, n: usize) -> u64 {
        let node = &self.nodes[n];
        if self.now >= node.slow_until || node.slow_extra_ns == 0 {
            return 0;
        }
        let max = node.slow_extra_ns;
        self.rng.depth.gen_range(max / 4..=max)
    }

    /// How much later a slow node wakes up for its timers (0 when not slow).
    pub(super) fn slow_extra(&self, n: usize) -> u64 {
        let node = &self.nodes[n];
        if self.now < node.slow_until {
            node.slow_extra_ns
        } else {
            0
        }
    }

    pub(super) fn break_link(&mut self, a: usize, b: usize) -> CheckResult {
        let nn = self.nodes.len();
        let l = &mut self.links[link_ix(a, b, nn)];
        if !l.up {
            return Ok(());
        }
        l.up = false;
        l.gen += 1;
        l.poisoned = [false; 2];
        self.line(format!("link {}-{} down", a + 1, b + 1));
        for (x, y) in [(a, b), (b, a)] {
            if self.nodes[x].replica.is_some() {
                let peer = self.nodes[y].id;
                self.step(x, Input::PeerDisconnected { peer })?;
            }
        }
        let d = self.rng.net.gen_range(20 * MS..500 * MS);
        self.push(
            self.now + d,
            Ev::LinkUp {
                a: a.min(b),
                b: a.max(b),
            },
        );
        Ok(())
    }

    pub(super) fn link_up(&mut self, a: usize, b: usize) -> CheckResult {
        let nn = self.nodes.len();
        if self.links[link_ix(a, b, nn)].up
            || self.nodes[a].replica.is_none()
            || self.nodes[b].replica.is_none()
        {
            return Ok(());
        }
        if self.blocked[a * nn + b] > 0 || self.blocked[b * nn + a] > 0 {
            let d = self.rng.net.gen_range(200 * MS..800 * MS);
            self.push(self.now + d, Ev::LinkUp { a, b });
            return Ok(());
        }
        let l = &mut self.links[link_ix(a, b, nn)];
        l.up = true;
        l.gen += 1;
        l.last_at = [0; 2];
        let sent = std::mem::take(&mut l.sent);
        self.line(format!("link {}-{} up", a + 1, b + 1));
        // Frames of the old connection resent first on the new one (they were queued
        // before anything the connect handlers send).
        if self.in_fault_phase && self.depth_kinds[DEPTH_SCHEDULED] {
            let p = self.opts.depth.reconnect_dup_prob.clamp(0.0, 1.0);
            for (dir, mut frames) in sent.into_iter().enumerate() {
                if frames.is_empty() || !self.rng.depth.gen_bool(p) {
                    continue;
                }
                let (from, to) = if dir == 0 { (a, b) } else { (b, a) };
                let k = self.rng.depth.gen_range(1..=frames.len());
                let resent = frames.split_off(frames.len() - k);
                self.faults += 1;
                self.fault_counts[RECONNECT_DUP] += 1;
                self.line(format!(
                    "link {}->{} reconnect resends {k} old frames",
                    from + 1,
                    to + 1
                ));
                for m in resent {
                    self.enqueue(from, to, m);
                }
            }
        }
        let (ia, ib) = (self.nodes[a].id, self.nodes[b].id);
        self.step(a, Input::PeerConnected { peer: ib })?;
        if self.nodes[b].replica.is_some() && self.links[link_ix(a, b, nn)].up {
            self.step(b, Input::PeerConnected { peer: ia })?;
        }
        Ok(())
    }

    // ----- faults -----

    pub(super) fn schedule_fault(&mut self) {
        let o = &self.opts;
        let rates = [
            o.crash_rate,
            o.link_break_rate,
            o.partition_rate,
            o.client_drop_rate,
            o.clock_jump_rate,
        ];
        let total: f64 = rates
            .iter()
            .zip(self.kinds.iter())
            .filter(|(_, on)| **on)
            .map(|(r, _)| *r)
            .sum();
        if total <= 0.0 {
            return;
        }
        let u: f64 = self.rng.fault.gen_range(f64::EPSILON..1.0);
        let dt = (-u.ln() / total * 1e9) as u64;
        let at = self.now + dt.max(1);
        if at < self.fault_end {
            self.push(at, Ev::Fault);
        }
    }

    pub(super) fn fault(&mut self) -> CheckResult {
        if !self.in_fault_phase {
            return Ok(());
        }
        let o = &self.opts;
        let rates = [
            o.crash_rate,
            o.link_break_rate,
            o.partition_rate,
            o.client_drop_rate,
            o.clock_jump_rate,
        ];
        let total: f64 = (0..5).filter(|k| self.kinds[*k]).map(|k| rates[k]).sum();
        let mut x = self.rng.fault.gen_range(0.0..total);
        let mut kind = 0;
        #[allow(clippy::needless_range_loop)] // `kinds` and `rates` are parallel arrays
        for k in 0..5 {
            if !self.kinds[k] {
                continue;
            }
            kind = k;
            if x < rates[k] {
                break;
            }
            x -= rates[k];
        }
        let nn = self.nodes.len();
        match kind {
            0 => {
                let p = self.opts.power_loss_prob.clamp(0.0, 1.0);
                // The draw is skipped when power loss is off, so such runs keep their
                // schedules.
                if p > 0.0 && self.rng.fault.gen_bool(p) {
                    self.line("power loss: every node crashes".to_string());
                    for n in 0..nn {
                        if self.nodes[n].replica.is_some() {
                            self.fault_counts[0] += 1;
                        }
                        self.crash(n);
                    }
                } else {
                    let n = self.rng.fault.gen_range(0..nn);
                    if self.nodes[n].replica.is_some() {
                        self.fault_counts[0] += 1;
                    }
                    self.crash(n);
                }
            }
            1 if nn > 1 => {
                let a = self.rng.fault.gen_range(0..nn);
                let b = (a + self.rng.fault.gen_range(1..nn)) % nn;
                if self.links[link_ix(a, b, nn)].up {
                    self.faults += 1;
                    self.fault_counts[2] += 1;
                    self.break_link(a, b)?;
                }
            }
            2 if nn > 1 => self.partition(),
            3 => {
                let open: Vec<u64> = self
                    .conns
                    .iter()
                    .filter(|(_, c)| c.client_open)
                    .map(|(id, _)| id)
                    .collect();
                if !open.is_empty() {
                    let id = open[self.rng.fault.gen_range(0..open.len())];
                    self.faults += 1;
                    self.fault_counts[4] += 1;
                    self.line(format!("drop client conn {id}"));
                    self.client_drop_conn(id);
                }
            }
            4 => {
                let n = self.rng.fault.gen_range(0..nn);
                self.nodes[n].wall_offset_ms += self.rng.fault.gen_range(-60_000..60_000);
                self.faults += 1;
                self.fault_counts[5] += 1;
                self.line(format!("wall clock jump node {}", n + 1));
            }
            _ => {}
        }
        self.schedule_fault();
        Ok(())
    }

    // ----- depth faults: their own stream and schedule -----

    fn depth_rates(&self) -> [f64; DEPTH_SCHEDULED] {
        let d = &self.opts.depth;
        let mut r = [
            d.timer_jump_rate,
            d.bridge_rate,
            d.flap_rate,
            d.slow_node_rate,
        ];
        for (r, on) in r.iter_mut().zip(self.depth_kinds) {
            if !on {
                *r = 0.0;
            }
        }
        r
    }

    pub(super) fn schedule_depth_fault(&mut self) {
        let total: f64 = self.depth_rates().iter().sum();
        if total <= 0.0 {
            return;
        }
        let u: f64 = self.rng.depth.gen_range(f64::EPSILON..1.0);
        let dt = (-u.ln() / total * 1e9) as u64;
        let at = self.now + dt.max(1);
        if at < self.fault_end {
            self.push(at, Ev::DepthFault);
        }
    }

    pub(super) fn depth_fault(&mut self) -> CheckResult {
        if !self.in_fault_phase {
            return Ok(());
        }
        let rates = self.depth_rates();
        let total: f64 = rates.iter().sum();
        let mut x = self.rng.depth.gen_range(0.0..total);
        let mut kind = 0;
        for (k, r) in rates.iter().enumerate() {
            if *r <= 0.0 {
                continue;
            }
            kind = k;
            if x < *r {
                break;
            }
            x -= r;
        }
        let nn = self.nodes.len();
        match kind {
            0 => self.timer_jump(),
            1 if nn >= 3 => self.bridge(),
            2 if nn >= 2 => {
                let a = self.rng.depth.gen_range(0..nn);
                let b = (a + self.rng.depth.gen_range(1..nn)) % nn;
                let left = self.rng.depth.gen_range(4..=20);
                self.faults += 1;
                self.fault_counts[FLAP] += 1;
                self.line(format!("link {}-{} flaps {left} times", a + 1, b + 1));
                self.flap(a.min(b), a.max(b), left)?;
            }
            3 => {
                let n = self.rng.depth.gen_range(0..nn);
                let max = self.opts.depth.slow_delay_ms_max.max(1) * MS;
                let extra = self.rng.depth.gen_range(max / 10..=max);
                let len = self.rng.depth.gen_range(500 * MS..5_000 * MS);
                let node = &mut self.nodes[n];
                if node.replica.is_some() && node.slow_until <= self.now {
                    node.slow_until = self.now + len;
                    node.slow_extra_ns = extra;
                    self.faults += 1;
                    self.fault_counts[SLOW_NODE] += 1;
                    self.line(format!(
                        "node {} slow for {} ms (+{} ms per message)",
                        n + 1,
                        len / MS,
                        extra / MS
                    ));
                }
            }
            _ => {}
        }
        self.schedule_depth_fault();
        Ok(())
    }

    /// One toggle of a flapping link: down if up, up if down; `left` toggles to go.
    pub(super) fn flap(&mut self, a: usize, b: usize, left: u32) -> CheckResult {
        if !self.in_fault_phase || left == 0 {
            return Ok(());
        }
        let nn = self.nodes.len();
        if self.links[link_ix(a, b, nn)].up {
            self.break_link(a, b)?;
        } else {
            self.link_up(a, b)?;
        }
        let d = self.rng.depth.gen_range(2 * MS..80 * MS);
        self.push(
            self.now + d,
            Ev::Flap {
                a,
                b,
                left: left - 1,
            },
        );
        Ok(())
    }

    /// A bridge partition: one node keeps links to both sides, the sides are cut from
    /// each other (both ways).
    fn bridge(&mut self) {
        let nn = self.nodes.len();
        let x = self.rng.depth.gen_range(0..nn);
        let mut side: Vec<bool> = (0..nn).map(|_| self.rng.depth.gen_bool(0.5)).collect();
        let others: Vec<usize> = (0..nn).filter(|i| *i != x).collect();
        if others.iter().all(|i| side[*i]) || others.iter().all(|i| !side[*i]) {
            let i = others[self.rng.depth.gen_range(0..others.len())];
            side[i] = !side[i];
        }
        let mut cuts = Vec::new();
        for a in others.iter().copied() {
            for b in others.iter().copied() {
                if side[a] != side[b] {
                    cuts.push((a, b));
                    self.blocked[a * nn + b] += 1;
                }
            }
        }
        let id = self.partition_next;
        self.partition_next += 1;
        self.faults += 1;
        self.fault_counts[BRIDGE] += 1;
        let left: Vec<usize> = others.iter().filter(|i| side[**i]).map(|i| i + 1).collect();
        let right: Vec<usize> = others
            .iter()
            .filter(|i| !side[**i])
            .map(|i| i + 1)
            .collect();
        self.line(format!(
            "partition {id} bridge: {left:?} | {right:?}, node {} sees both",
            x + 1
        ));
        self.partitions.insert(id, cuts);
        let d = self.rng.depth.gen_range(300 * MS..5_000 * MS);
        self.push(self.now + d, Ev::PartitionHeal { id });
    }

    /// One node's timer clock jumps forward or backward (never below zero). Its core must
    /// neither panic nor fire a timer early; elections and session expiry may come sooner
    /// or later.
    fn timer_jump(&mut self) {
        let nn = self.nodes.len();
        let n = self.rng.depth.gen_range(0..nn);
        let max = (self.opts.depth.timer_jump_ms_max.max(1) * MS) as i64;
        let mut d = self.rng.depth.gen_range(-max..=max);
        let cur = self.local_now(n) as i64;
        if cur + d < 0 {
            d = -cur;
        }
        self.nodes[n].timer_offset_ns += d;
        self.faults += 1;
        self.fault_counts[TIMER_JUMP] += 1;
        self.line(format!(
            "timer clock jump node {} {:+} ms",
            n + 1,
            d / MS as i64
        ));
        // The pending tick was placed by the old clock.
        self.schedule_tick(n);
    }

    pub(super) fn partition(&mut self) {
        let nn = self.nodes.len();
        let mut side: Vec<bool> = (0..nn).map(|_| self.rng.fault.gen_bool(0.5)).collect();
        if side.iter().all(|s| *s) || side.iter().all(|s| !*s) {
            let i = self.rng.fault.gen_range(0..nn);
            side[i] = !side[i];
        }
        let one_way = self.rng.fault.gen_bool(0.3);
        let mut cuts = Vec::new();
        for a in 0..nn {
            for b in 0..nn {
                if side[a] && !side[b] || (!one_way && !side[a] && side[b]) {
                    cuts.push((a, b));
                    self.blocked[a * nn + b] += 1;
                }
            }
        }
        let id = self.partition_next;
        self.partition_next += 1;
        self.faults += 1;
        self.fault_counts[3] += 1;
        let members: Vec<usize> = (0..nn).filter(|i| side[*i]).map(|i| i + 1).collect();
        self.line(format!(
            "partition {id} {} {members:?} | rest",
            if one_way { "one-way from" } else { "symmetric" }
        ));
        self.partitions.insert(id, cuts);
        let d = self.rng.fault.gen_range(300 * MS..5_000 * MS);
        self.push(self.now + d, Ev::PartitionHeal { id });
    }

    pub(super) fn heal_partition(&mut self, id: u64) {
        let Some(cuts) = self.partitions.remove(&id) else {
            return;
        };
        let nn = self.nodes.len();
        self.line(format!("heal partition {id}"));
        for (a, b) in cuts {
            self.blocked[a * nn + b] -= 1;
        }
    }

    pub(super) fn heal_all(&mut self) -> CheckResult {
        self.line("heal all; faults stop".to_string());
        info!("fault phase over; healing");
        self.in_fault_phase = false;
        for node in &mut self.nodes {
            node.slow_until = 0;
        }
        let ids: Vec<u64> = self.partitions.keys().copied().collect();
        for id in ids {
            self.heal_partition(id);
        }
        for n in 0..self.nodes.len() {
            if self.nodes[n].replica.is_none() {
                self.restart(n)?;
            }
        }
        let nn = self.nodes.len();
        for a in 0..nn {
            for b in a + 1..nn {
                if !self.links[link_ix(a, b, nn)].up {
                    let d = self.rng.net.gen_range(MS..20 * MS);
                    self.push(self.now + d, Ev::LinkUp { a, b });
                }
            }
        }
        Ok(())
    }

    pub(super) fn check_liveness(&mut self) -> CheckResult {
        let quorum = self.nodes.len() / 2 + 1;
        let mut by_leader: BTreeMap<(u64, u32), usize> = BTreeMap::new();
        for node in &self.nodes {
            if let Some((l, e)) = node.replica.as_ref().and_then(|r| r.serving_leader()) {
                *by_leader.entry((l.0, e.0)).or_default() += 1;
            }
        }
        let quorum_serving = by_leader.values().copied().max().unwrap_or(0);
        let mut stuck = Vec::new();
        for c in &self.clients {
            if !c.live() {
                continue;
            }
            for h in &c.history {
                if h.reply_ns.is_none() && !h.lost && h.sent_ns + REQUEST_BOUND_NS <= self.now {
                    stuck.push((c.idx, h.xid, (self.now - h.sent_ns) / MS));
                    tracing::warn!(client = c.idx, xid = h.xid, op = h.op, server = h.server, session = %h.session, sent_ns = h.sent_ns, "stuck request");
                }
            }
        }
        self.exercised[crate::check::LIVENESS] += 1;
        liveness::check(&EndState {
            quorum_serving,
            quorum,
            stuck,
            acked_after_heal: self.acked_after_heal,
            writes_tried_after_heal: self.writes_after_heal,
        })
    }
}
