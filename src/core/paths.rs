//! Which implementation the f32 inner loops of [`super::sinkhorn`] and [`super::mmd`] take, so that every
//! fast path can be forced and checked against its reference on any machine.
//!
//! Three independent choices, read once per kernel call from a process-wide setting:
//! - [`Simd`]: the AVX2 build of the loops when the CPU has it (`auto`, the default), or the baseline
//!   build (`scalar`: SSE2 on x86-64, the only build elsewhere). Both run the same operations in the
//!   same order (no FMA is enabled, Rust does not contract `a * b + c`), so their results are
//!   bit-identical; `tests/fast_paths.rs` checks that on full outputs.
//! - [`Blocks`]: block-sparse Sinkhorn rows (`sparse`, the default: a row skips the Morton-ordered column
//!   blocks whose every term lies more than 80 below the row's largest exponent) or every block (`dense`).
//! - [`Exp`]: the polynomial [`super::sinkhorn`] fast exp, which flushes arguments below −80 to exactly 0
//!   (`fast_exp`, the default), or the standard library's `f32::exp` (`std_exp`).
//!
//! The core reads no environment: the native binary and the tests set the choice from `DIVLAB_PATHS`
//! (words separated by commas, e.g. `DIVLAB_PATHS=scalar,dense,std_exp`; [`Paths::parse`]) with [`set`].
//! The default is the fast path everywhere. The f64 reference loops ([`super::sinkhorn::Precision::F64`])
//! do not depend on it.

use std::sync::atomic::{AtomicU8, Ordering};

use super::error::{CoreError, CoreResult};

/// The instruction set of the f32 inner loops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Simd {
    /// AVX2 when this CPU has it, else the baseline build.
    #[default]
    Auto,
    /// The baseline build (no AVX2), even where AVX2 exists.
    Scalar,
    /// AVX2; [`set`] refuses it on a CPU without AVX2.
    Avx2,
}

/// Which column blocks a block-sparse Sinkhorn row evaluates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Blocks {
    /// Skip the blocks that cannot come within 80 of the row's largest exponent.
    #[default]
    Sparse,
    /// Evaluate every block.
    Dense,
}

/// The exponential of the f32 loops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Exp {
    /// The branch-free polynomial (relative error < 5e-7 on [−80, 0], exactly 0 below −80).
    #[default]
    Fast,
    /// `f32::exp` (the platform's libm; no flush to zero).
    Std,
}

/// One choice of each (the default: the fast path everywhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Paths {
    pub simd: Simd,
    pub blocks: Blocks,
    pub exp: Exp,
}

impl Paths {
    /// Reads `auto|scalar|avx2`, `sparse|dense`, `fast_exp|std_exp` words separated by commas (spaces
    /// allowed, any order, an empty string is the default); an unknown word is an error naming it.
    pub fn parse(s: &str) -> CoreResult<Self> {
        let mut p = Self::default();
        for w in s.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            match w {
                "auto" => p.simd = Simd::Auto,
                "scalar" => p.simd = Simd::Scalar,
                "avx2" => p.simd = Simd::Avx2,
                "sparse" => p.blocks = Blocks::Sparse,
                "dense" => p.blocks = Blocks::Dense,
                "fast_exp" => p.exp = Exp::Fast,
                "std_exp" => p.exp = Exp::Std,
                other => {
                    return Err(CoreError::invalid(format!(
                        "DIVLAB_PATHS: unknown word {other:?} (auto, scalar, avx2, sparse, dense, fast_exp, std_exp)"
                    )));
                }
            }
        }
        Ok(p)
    }

    /// The words [`Paths::parse`] reads back, e.g. `scalar,dense,std_exp`.
    pub fn words(&self) -> String {
        let simd = match self.simd {
            Simd::Auto => "auto",
            Simd::Scalar => "scalar",
            Simd::Avx2 => "avx2",
        };
        let blocks = match self.blocks {
            Blocks::Sparse => "sparse",
            Blocks::Dense => "dense",
        };
        let exp = match self.exp {
            Exp::Fast => "fast_exp",
            Exp::Std => "std_exp",
        };
        format!("{simd},{blocks},{exp}")
    }

    /// Whether the loops run their AVX2 build under this choice on this CPU.
    pub fn uses_avx2(&self) -> bool {
        match self.simd {
            Simd::Auto | Simd::Avx2 => avx2_available(),
            Simd::Scalar => false,
        }
    }

    fn encode(self) -> u8 {
        let simd = match self.simd {
            Simd::Auto => 0,
            Simd::Scalar => 1,
            Simd::Avx2 => 2,
        };
        let blocks = match self.blocks {
            Blocks::Sparse => 0,
            Blocks::Dense => 4,
        };
        let exp = match self.exp {
            Exp::Fast => 0,
            Exp::Std => 8,
        };
        simd | blocks | exp
    }

    fn decode(v: u8) -> Self {
        Self {
            simd: match v & 3 {
                1 => Simd::Scalar,
                2 => Simd::Avx2,
                _ => Simd::Auto,
            },
            blocks: if v & 4 != 0 {
                Blocks::Dense
            } else {
                Blocks::Sparse
            },
            exp: if v & 8 != 0 { Exp::Std } else { Exp::Fast },
        }
    }
}

static CURRENT: AtomicU8 = AtomicU8::new(0);

/// Whether this CPU has AVX2 (always false off x86-64).
pub fn avx2_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Sets the paths every later kernel call takes, process-wide. Refuses [`Simd::Avx2`] on a CPU without
/// AVX2 (the setting is then unchanged). Kernel calls already running keep the choice they read.
pub fn set(p: Paths) -> CoreResult<()> {
    if p.simd == Simd::Avx2 && !avx2_available() {
        return Err(CoreError::not_applicable(
            "DIVLAB_PATHS=avx2: this CPU has no AVX2",
        ));
    }
    CURRENT.store(p.encode(), Ordering::Relaxed);
    Ok(())
}

/// The paths kernel calls take now.
pub fn current() -> Paths {
    Paths::decode(CURRENT.load(Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_unknown_words_are_named() {
        for simd in [Simd::Auto, Simd::Scalar, Simd::Avx2] {
            for blocks in [Blocks::Sparse, Blocks::Dense] {
                for exp in [Exp::Fast, Exp::Std] {
                    let p = Paths { simd, blocks, exp };
                    assert_eq!(Paths::parse(&p.words()).unwrap(), p);
                    assert_eq!(Paths::decode(p.encode()), p);
                }
            }
        }
        assert_eq!(Paths::parse("").unwrap(), Paths::default());
        assert_eq!(
            Paths::parse(" dense , scalar").unwrap(),
            Paths {
                simd: Simd::Scalar,
                blocks: Blocks::Dense,
                exp: Exp::Fast
            }
        );
        let e = Paths::parse("scalar,avx512").unwrap_err().to_string();
        assert!(e.contains("avx512"), "{e}");
    }
}
