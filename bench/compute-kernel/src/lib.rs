//! Compute-bound kernels written once and compiled both ways: into the `compute` test guest
//! (WebAssembly) and natively into `cameo bench overhead`, which runs both on the same input
//! to measure Wasm's speed as a share of native.
//!
//! - [`checksum`]: a multiply-rotate hash over bytes, repeated; integer work with one load
//!   per 8 bytes, the shape of a hash partitioner, a dedup filter or a checksum stage.
//! - [`matrix`]: repeated products of small `f64` matrices, renormalised; floating-point work
//!   that a compiler can vectorise, the shape of a scoring model or a small simulation.
//!
//! Both are deterministic functions of their input on every target (no fused multiply-add,
//! no platform functions), so a guest's result can be compared bit for bit with the native
//! one.
//!
//! # Layout
//!
//! One file: the two kernels, the kernel names, and their helpers.

#![no_std]
#![deny(missing_docs)]

/// The kernels by name, as an operator's config chooses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// [`checksum`] over the event's bytes.
    Checksum,
    /// [`matrix`] seeded from the event's bytes.
    Matrix,
}

impl Kernel {
    /// Every kernel's name, for error messages.
    pub const NAMES: &'static str = "\"checksum\" or \"matrix\"";

    /// The kernel called `name`, if there is one.
    pub fn from_name(name: &str) -> Option<Kernel> {
        match name {
            "checksum" => Some(Kernel::Checksum),
            "matrix" => Some(Kernel::Matrix),
            _ => None,
        }
    }

    /// The kernel's name.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Checksum => "checksum",
            Kernel::Matrix => "matrix",
        }
    }

    /// The kernel run `rounds` times over `bytes`, as 64 bits (a matrix result's bit pattern).
    pub fn run(self, bytes: &[u8], rounds: u32) -> u64 {
        match self {
            Kernel::Checksum => checksum(bytes, rounds),
            Kernel::Matrix => matrix(checksum(bytes, 1), rounds).to_bits(),
        }
    }
}

const PRIME_1: u64 = 0x9E37_79B1_85EB_CA87;
const PRIME_2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const PRIME_3: u64 = 0x1656_67B1_9E37_79F9;

/// One 8-byte lane folded into the running hash.
#[inline(always)]
fn fold(hash: u64, lane: u64) -> u64 {
    (hash ^ lane.wrapping_mul(PRIME_2))
        .rotate_left(31)
        .wrapping_mul(PRIME_1)
}

/// Mixes every bit of `hash` into every other.
#[inline(always)]
fn avalanche(mut hash: u64) -> u64 {
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(PRIME_2);
    hash ^= hash >> 29;
    hash = hash.wrapping_mul(PRIME_3);
    hash ^ (hash >> 32)
}

/// A 64-bit hash of `bytes`, taken `rounds` times, each round seeded with the last one's
/// result (so no round can be skipped or hoisted): 8 bytes a step, little-endian, the tail
/// zero-padded.
pub fn checksum(bytes: &[u8], rounds: u32) -> u64 {
    let mut hash = PRIME_3 ^ bytes.len() as u64;
    for _ in 0..rounds {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut lane = [0u8; 8];
            lane.copy_from_slice(chunk);
            hash = fold(hash, u64::from_le_bytes(lane));
        }
        let tail = chunks.remainder();
        if !tail.is_empty() {
            let mut lane = [0u8; 8];
            lane[..tail.len()].copy_from_slice(tail);
            hash = fold(hash, u64::from_le_bytes(lane));
        }
        hash = avalanche(hash);
    }
    hash
}

/// Side of the matrices [`matrix`] multiplies.
pub const SIDE: usize = 8;

type Matrix = [[f64; SIDE]; SIDE];

/// splitmix64: the next state and a number from it.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(PRIME_1);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `SIDE` x `SIDE` matrix `a`, drawn from `seed` with entries in [-1, 1), is multiplied into
/// the identity `rounds` times, the product scaled back after each step so that its entries
/// stay finite; the result is the sum of the product's entries.
pub fn matrix(seed: u64, rounds: u32) -> f64 {
    let mut state = seed;
    let mut a: Matrix = [[0.0; SIDE]; SIDE];
    for row in a.iter_mut() {
        for cell in row.iter_mut() {
            // 53 random bits as a fraction in [0, 1), then moved to [-1, 1).
            let unit = (splitmix(&mut state) >> 11) as f64 / (1u64 << 53) as f64;
            *cell = unit * 2.0 - 1.0;
        }
    }
    let mut m: Matrix = [[0.0; SIDE]; SIDE];
    for (i, row) in m.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    for _ in 0..rounds {
        let mut next: Matrix = [[0.0; SIDE]; SIDE];
        for (next_row, m_row) in next.iter_mut().zip(m.iter()) {
            for (k, a_row) in a.iter().enumerate() {
                let factor = m_row[k];
                for (cell, value) in next_row.iter_mut().zip(a_row.iter()) {
                    *cell += factor * value;
                }
            }
        }
        // Scaled by the sum of absolute values (never zero unless `a` is: then it stays 0).
        let mut norm = 0.0;
        for row in next.iter() {
            for value in row.iter() {
                norm += if *value < 0.0 { -*value } else { *value };
            }
        }
        let scale = if norm > 0.0 { SIDE as f64 / norm } else { 1.0 };
        for (m_row, next_row) in m.iter_mut().zip(next.iter()) {
            for (cell, value) in m_row.iter_mut().zip(next_row.iter()) {
                *cell = value * scale;
            }
        }
    }
    m.iter().flatten().sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_depends_on_every_byte_and_on_rounds() {
        let base = checksum(b"0123456789abcdef-", 3);
        assert_ne!(base, checksum(b"0123456789abcdef+", 3));
        assert_ne!(base, checksum(b"1123456789abcdef-", 3));
        assert_ne!(base, checksum(b"0123456789abcdef-", 4));
        assert_ne!(checksum(b"", 1), checksum(b"\0", 1));
    }

    #[test]
    fn matrix_stays_finite_and_follows_its_seed() {
        let value = matrix(7, 10_000);
        assert!(value.is_finite(), "{value}");
        assert_ne!(value.to_bits(), matrix(8, 10_000).to_bits());
        assert_eq!(value.to_bits(), matrix(7, 10_000).to_bits());
    }

    #[test]
    fn kernels_are_found_by_name() {
        for kernel in [Kernel::Checksum, Kernel::Matrix] {
            assert_eq!(Kernel::from_name(kernel.name()), Some(kernel));
        }
        assert_eq!(Kernel::from_name("sha"), None);
    }
}
