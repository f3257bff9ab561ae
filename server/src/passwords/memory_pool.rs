//! Reused argon2 memory matrices.
//!
//! An argon2id computation with the default parameters needs a 19 MiB matrix. Allocated
//! and freed per computation, those matrices end up in glibc's heap arenas (its dynamic
//! mmap threshold rises to their size after the first one is freed) and stay resident:
//! one matrix more per concurrent login, hundreds of MiB under load (BENCHMARKS.md,
//! "Memory"). A [`MemoryPool`]
//! instead allocates at most `capacity` matrices of one size, once, and hands them out
//! again and again, so the memory argon2 keeps is bounded by the number of computations
//! allowed at a time.

use std::ops::{Deref, DerefMut};
use std::sync::{Mutex, MutexGuard, PoisonError};

use argon2::Block;

/// At most `capacity` buffers of `block_count` argon2 blocks each, allocated on first
/// need and reused. A request for more blocks than that, or made while all `capacity`
/// buffers are out (which [`super::Passwords`] prevents with its semaphore), gets a
/// one-off buffer freed after use.
#[derive(Debug)]
pub(super) struct MemoryPool {
    block_count: usize,
    capacity: usize,
    state: Mutex<PoolState>,
}

#[derive(Debug, Default)]
struct PoolState {
    /// Allocated buffers not in use.
    idle: Vec<Vec<Block>>,
    /// Buffers this pool has allocated, idle or in use.
    allocated: usize,
    /// One-off buffers handed out so far.
    one_offs: u64,
}

impl MemoryPool {
    /// A pool of at most `capacity` buffers of `block_count` blocks; allocates nothing yet.
    pub(super) fn new(block_count: usize, capacity: usize) -> Self {
        Self {
            block_count,
            capacity,
            state: Mutex::new(PoolState::default()),
        }
    }

    /// Memory for a computation that needs `block_count` blocks: a pooled buffer (at
    /// least that long; argon2 uses only the first `block_count` blocks and overwrites
    /// them before reading them, so what a previous computation left does not matter),
    /// returned to the pool when dropped, or a one-off buffer of exactly `block_count`.
    pub(super) fn take(&self, block_count: usize) -> Result<BlockBuffer<'_>, argon2::Error> {
        if block_count > self.block_count {
            return self.one_off(block_count);
        }
        let mut state = self.lock();
        if let Some(blocks) = state.idle.pop() {
            return Ok(BlockBuffer {
                blocks,
                pool: Some(self),
            });
        }
        if state.allocated >= self.capacity {
            drop(state);
            return self.one_off(block_count);
        }
        // Reserve the slot, then allocate (a few milliseconds) without holding the lock.
        state.allocated += 1;
        drop(state);
        match allocate(self.block_count) {
            Ok(blocks) => Ok(BlockBuffer {
                blocks,
                pool: Some(self),
            }),
            Err(error) => {
                self.lock().allocated -= 1;
                Err(error)
            }
        }
    }

    /// How many buffers the pool holds, idle or in use (never more than its capacity).
    #[cfg(test)]
    pub(super) fn allocated(&self) -> usize {
        self.lock().allocated
    }

    /// How many one-off buffers it has handed out.
    #[cfg(test)]
    pub(super) fn one_offs(&self) -> u64 {
        self.lock().one_offs
    }

    fn one_off(&self, block_count: usize) -> Result<BlockBuffer<'_>, argon2::Error> {
        self.lock().one_offs += 1;
        Ok(BlockBuffer {
            blocks: allocate(block_count)?,
            pool: None,
        })
    }

    fn give_back(&self, blocks: Vec<Block>) {
        self.lock().idle.push(blocks);
    }

    /// The state; a panic while it was locked cannot have left it inconsistent (every
    /// critical section is a single push, pop or counter update), so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A buffer of argon2 blocks from a [`MemoryPool`]: a pooled one goes back to the pool
/// when dropped (also when the computation panics), a one-off one is freed.
#[derive(Debug)]
pub(super) struct BlockBuffer<'pool> {
    blocks: Vec<Block>,
    pool: Option<&'pool MemoryPool>,
}

impl Deref for BlockBuffer<'_> {
    type Target = [Block];

    fn deref(&self) -> &[Block] {
        &self.blocks
    }
}

impl DerefMut for BlockBuffer<'_> {
    fn deref_mut(&mut self) -> &mut [Block] {
        &mut self.blocks
    }
}

impl Drop for BlockBuffer<'_> {
    fn drop(&mut self) {
        if let Some(pool) = self.pool {
            pool.give_back(std::mem::take(&mut self.blocks));
        }
    }
}

/// `block_count` zeroed blocks, or [`argon2::Error::OutOfMemory`] (rather than an abort)
/// when the allocation fails, e.g. for a stored hash with an absurd `m`.
fn allocate(block_count: usize) -> Result<Vec<Block>, argon2::Error> {
    let mut blocks = Vec::new();
    blocks
        .try_reserve_exact(block_count)
        .map_err(|_| argon2::Error::OutOfMemory)?;
    blocks.resize(block_count, Block::new());
    Ok(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_and_bounded_by_the_capacity() {
        let pool = MemoryPool::new(16, 2);
        let first = pool.take(16).expect("memory");
        let second = pool.take(8).expect("memory");
        assert_eq!((pool.allocated(), pool.one_offs()), (2, 0));
        assert_eq!(second.len(), 16, "a smaller need gets a pooled buffer");
        let third = pool.take(16).expect("memory");
        assert_eq!(
            (pool.allocated(), pool.one_offs()),
            (2, 1),
            "all out: one-off"
        );
        assert_eq!(third.len(), 16);
        drop((first, second, third));
        for _ in 0..5 {
            drop(pool.take(16).expect("memory"));
        }
        assert_eq!((pool.allocated(), pool.one_offs()), (2, 1), "reused");
        assert_eq!(pool.lock().idle.len(), 2);
    }

    #[test]
    fn a_larger_need_gets_a_one_off_buffer_of_its_size() {
        let pool = MemoryPool::new(16, 2);
        let large = pool.take(32).expect("memory");
        assert_eq!(large.len(), 32);
        drop(large);
        assert_eq!((pool.allocated(), pool.one_offs()), (0, 1));
        assert!(pool.lock().idle.is_empty(), "not kept");
    }

    #[test]
    fn an_impossible_allocation_is_an_error() {
        let pool = MemoryPool::new(16, 1);
        let error = pool.take(usize::MAX / 2048).expect_err("too large");
        assert_eq!(error, argon2::Error::OutOfMemory);
    }
}
