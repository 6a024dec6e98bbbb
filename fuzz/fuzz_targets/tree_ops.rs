//! Differential fuzzing of the znode tree: a byte string becomes a sequence of operations
//! (every create mode, deletes, setData, setACL, checks, multis, session closes, expiry,
//! reads, clock ticks) applied both to the real tree (prep + apply) and to the naive model
//! of `core/tests/support/tree_world.rs` (shared with the `tree_model` proptest). Every
//! result code, path and Stat must agree, and the tree's invariants and digest must hold
//! after every step.
#![no_main]

#[path = "../../core/tests/support/tree_world.rs"]
mod tree_world;

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use tree_world::{GenOp, Step, Target, World};

const STEPS_MAX: usize = 400;

fn target(u: &mut Unstructured<'_>) -> Result<Target> {
    Ok(match u.int_in_range(0..=6)? {
        0..=2 => {
            let depth = u.int_in_range(1..=3)?;
            let mut path = String::new();
            for _ in 0..depth {
                path.push('/');
                path.push_str(u.choose(&["a", "b", "c"])?);
            }
            Target::Fixed(path)
        }
        3..=5 => Target::Existing(u.arbitrary()?),
        _ => Target::Fixed(
            u.choose(&[
                "/",
                "/zookeeper",
                "/zookeeper/config",
                "/zookeeper/quota",
                "a",
                "/a/",
                "/a//b",
                "/a/.",
                "",
            ])?
            .to_string(),
        ),
    })
}

fn version(u: &mut Unstructured<'_>) -> Result<i32> {
    Ok(if u.ratio(2, 3)? {
        -1
    } else {
        u.int_in_range(0..=2)?
    })
}

fn data(u: &mut Unstructured<'_>) -> Result<Option<Vec<u8>>> {
    if u.ratio(1, 7)? {
        return Ok(None);
    }
    let len = u.int_in_range(0..=5)?;
    Ok(Some(u.bytes(len)?.to_vec()))
}

fn simple_op(u: &mut Unstructured<'_>) -> Result<GenOp> {
    Ok(match u.int_in_range(0..=15)? {
        0..=7 => GenOp::Create {
            target: target(u)?,
            child: if u.ratio(1, 5)? {
                None
            } else {
                Some(u.int_in_range(0..=3)?)
            },
            data: data(u)?,
            acl: if u.ratio(2, 3)? {
                0
            } else {
                u.int_in_range(1..=9)?
            },
            flags: u.int_in_range(-1..=7)?,
            op: u.int_in_range(0..=3)?,
            ttl: match u.int_in_range(0..=7)? {
                0 => -1,
                1 => 0,
                _ => u.int_in_range(1..=40)?,
            },
        },
        8..=10 => GenOp::Delete {
            target: target(u)?,
            version: version(u)?,
        },
        11..=13 => GenOp::SetData {
            target: target(u)?,
            data: data(u)?,
            version: version(u)?,
        },
        14 => GenOp::SetAcl {
            target: target(u)?,
            acl: u.int_in_range(0..=9)?,
            version: version(u)?,
        },
        _ => GenOp::Check {
            target: target(u)?,
            version: version(u)?,
        },
    })
}

fn step(u: &mut Unstructured<'_>) -> Result<Step> {
    let session = u.int_in_range(0..=1)?;
    Ok(match u.int_in_range(0..=20)? {
        0..=11 => Step::Write {
            session,
            op: simple_op(u)?,
        },
        12..=13 => {
            let n = u.int_in_range(0..=3)?;
            let ops = (0..n).map(|_| simple_op(u)).collect::<Result<Vec<_>>>()?;
            Step::Write {
                session,
                op: GenOp::Multi(ops),
            }
        }
        14 => Step::Write {
            session,
            op: GenOp::Close,
        },
        15..=18 => Step::Read {
            session,
            target: target(u)?,
        },
        19 => Step::Expire { target: target(u)? },
        _ => Step::Tick(u.int_in_range(0..=59)?),
    })
}

fuzz_target!(|bytes: &[u8]| {
    let mut u = Unstructured::new(bytes);
    let mut world = World::new();
    for _ in 0..STEPS_MAX {
        if u.is_empty() {
            break;
        }
        let Ok(step) = step(&mut u) else { break };
        world.run_step(&step);
    }
});
