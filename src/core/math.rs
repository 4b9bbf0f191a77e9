//! Small 2D linear-algebra and numerically stable helpers shared by the whole core.

/// A point or vector in the plane.
pub type Vec2 = [f64; 2];

#[inline]
pub fn add(a: Vec2, b: Vec2) -> Vec2 {
    [a[0] + b[0], a[1] + b[1]]
}

#[inline]
pub fn sub(a: Vec2, b: Vec2) -> Vec2 {
    [a[0] - b[0], a[1] - b[1]]
}

#[inline]
pub fn scale(a: Vec2, s: f64) -> Vec2 {
    [a[0] * s, a[1] * s]
}

#[inline]
pub fn dot(a: Vec2, b: Vec2) -> f64 {
    a[0] * b[0] + a[1] * b[1]
}

/// Squared Euclidean distance |a − b|².
#[inline]
pub fn dist2(a: Vec2, b: Vec2) -> f64 {
    let d = sub(a, b);
    dot(d, d)
}

#[inline]
pub fn is_finite2(a: Vec2) -> bool {
    a[0].is_finite() && a[1].is_finite()
}

/// log Σ exp(xᵢ), stable for any finite input; −∞ for an empty slice or all −∞.
pub fn logsumexp(xs: &[f64]) -> f64 {
    let m = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return f64::NEG_INFINITY;
    }
    if m == f64::INFINITY {
        return f64::INFINITY;
    }
    let s: f64 = xs.iter().map(|&x| (x - m).exp()).sum();
    m + s.ln()
}

/// log(exp(a) + exp(b)), stable.
#[inline]
pub fn logaddexp(a: f64, b: f64) -> f64 {
    let m = a.max(b);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + ((a - m).exp() + (b - m).exp()).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logsumexp_matches_naive_and_survives_large_inputs() {
        let xs = [0.1, -2.0, 3.5];
        let naive = xs.iter().map(|x: &f64| x.exp()).sum::<f64>().ln();
        assert!((logsumexp(&xs) - naive).abs() < 1e-14);
        let big = [1000.0, 1000.0];
        assert!((logsumexp(&big) - (1000.0 + 2f64.ln())).abs() < 1e-12);
        assert_eq!(logsumexp(&[]), f64::NEG_INFINITY);
        assert!((logaddexp(-1e3, -1e3) - (-1e3 + 2f64.ln())).abs() < 1e-12);
    }
}
