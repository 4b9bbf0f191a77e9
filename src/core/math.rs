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

/// A number exactly as it reads back (the shortest text that parses to the same f64), with an exponent
/// outside [1e-4, 1e16) so that 1e300 or 5e-324 do not print hundreds of digits (0.05 → "0.05",
/// 1e300 → "1e300", 3 → "3").
pub fn exact_number(v: f64) -> String {
    if v == 0.0 || !v.is_finite() || (1e-4..1e16).contains(&v.abs()) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

/// A number for display names: three significant digits, trailing zeros dropped (0.9 → "0.9", 0.81234 →
/// "0.812", 0.016 → "0.016", 2 → "2", 1234.6 → "1235").
pub fn display_number(v: f64) -> String {
    if !v.is_finite() || v == 0.0 {
        return format!("{v}");
    }
    let magnitude = v.abs().log10().floor() as i32;
    let decimals = (2 - magnitude).clamp(0, 15) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
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

    #[test]
    fn exact_numbers_are_short_at_every_magnitude() {
        assert_eq!(exact_number(0.05), "0.05");
        assert_eq!(exact_number(3.0), "3");
        assert_eq!(exact_number(-1000000.0), "-1000000");
        assert_eq!(exact_number(1e300), "1e300");
        assert_eq!(exact_number(5e-324), "5e-324");
        assert_eq!(exact_number(99.99999999999999), "99.99999999999999");
        assert_eq!(exact_number(f64::INFINITY), "inf");
        for v in [1e-300, 1.5e-154, 2.5e17, f64::MAX, -7e-9] {
            assert_eq!(exact_number(v).parse::<f64>(), Ok(v));
        }
    }

    #[test]
    fn display_number_keeps_three_significant_digits() {
        assert_eq!(display_number(0.9), "0.9");
        assert_eq!(display_number(0.81234), "0.812");
        assert_eq!(display_number(0.016), "0.016");
        assert_eq!(display_number(2.0), "2");
        assert_eq!(display_number(-1.0), "-1");
        assert_eq!(display_number(1234.6), "1235");
        assert_eq!(display_number(12.5), "12.5");
        assert_eq!(display_number(0.0), "0");
    }
}
