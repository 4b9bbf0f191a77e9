//! The core's one error type. Every fallible core function returns [`CoreResult`].

use std::fmt;

use super::math::exact_number;

/// What went wrong, in words a user can act on.
#[derive(Debug, Clone, PartialEq)]
pub enum CoreError {
    /// A parameter outside its valid range; `range` states the valid range, e.g. "(0, 2)".
    InvalidParameter {
        name: String,
        value: f64,
        range: String,
    },
    /// A computation produced NaN or ±∞; `what` names the quantity.
    NonFinite { what: String },
    /// The quantity does not apply to these inputs (e.g. reverse KL against a sample-only target).
    NotApplicable { reason: String },
    /// A field of a scenario that is invalid other than by its range (a matrix that is not symmetric, lists
    /// of different lengths, a value whose derived quantity underflows); `name` is its path (`init.means`,
    /// `target.covariances[0]`), `reason` says what was found and what is valid.
    Field { name: String, reason: String },
    /// Anything else that is invalid about the input (wrong sizes, empty sets, …).
    Invalid { reason: String },
}

pub type CoreResult<T> = Result<T, CoreError>;

impl CoreError {
    pub fn param(name: impl Into<String>, value: f64, range: impl Into<String>) -> Self {
        Self::InvalidParameter {
            name: name.into(),
            value,
            range: range.into(),
        }
    }

    pub fn non_finite(what: impl Into<String>) -> Self {
        Self::NonFinite { what: what.into() }
    }

    pub fn not_applicable(reason: impl Into<String>) -> Self {
        Self::NotApplicable {
            reason: reason.into(),
        }
    }

    pub fn field(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Field {
            name: name.into(),
            reason: reason.into(),
        }
    }

    /// The field path of a [`Self::InvalidParameter`] or [`Self::Field`].
    pub fn field_name(&self) -> Option<&str> {
        match self {
            Self::InvalidParameter { name, .. } | Self::Field { name, .. } => Some(name),
            _ => None,
        }
    }

    pub fn invalid(reason: impl Into<String>) -> Self {
        Self::Invalid {
            reason: reason.into(),
        }
    }

    /// The same error one level down a scenario: a parameter's name gets `prefix.` in front
    /// (`optimizer.lr` inside `method` becomes `method.optimizer.lr`). Other errors are unchanged.
    pub fn within(self, prefix: &str) -> Self {
        match self {
            Self::InvalidParameter { name, value, range } => Self::InvalidParameter {
                name: format!("{prefix}.{name}"),
                value,
                range,
            },
            Self::Field { name, reason } => Self::Field {
                name: format!("{prefix}.{name}"),
                reason,
            },
            other => other,
        }
    }

    /// A parameter named `from.…` renamed to `to.…` (an object validated under its family name that sits
    /// at another key, e.g. a Sinkhorn configuration at `config`). Other errors are unchanged.
    pub fn rebase(self, from: &str, to: &str) -> Self {
        let renamed = |name: String| match name.strip_prefix(from) {
            Some(rest) if rest.is_empty() || rest.starts_with(['.', '[']) => format!("{to}{rest}"),
            _ => name,
        };
        match self {
            Self::InvalidParameter { name, value, range } => Self::InvalidParameter {
                name: renamed(name),
                value,
                range,
            },
            Self::Field { name, reason } => Self::Field {
                name: renamed(name),
                reason,
            },
            other => other,
        }
    }
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidParameter { name, value, range } => {
                let value = exact_number(*value);
                let overflow = if value.ends_with("inf") {
                    " (a number beyond ±1.8e308 reads as infinite)"
                } else {
                    ""
                };
                write!(
                    f,
                    "{name} = {value}{overflow} is out of range: valid range is {range}"
                )
            }
            Self::Field { name, reason } => write!(f, "{name}: {reason}"),
            Self::NonFinite { what } => write!(f, "{what} is not finite (NaN or infinite)"),
            Self::NotApplicable { reason } => write!(f, "not applicable: {reason}"),
            Self::Invalid { reason } => write!(f, "{reason}"),
        }
    }
}

impl std::error::Error for CoreError {}

/// Checks `lo < value < hi` (open interval), or returns an [`CoreError::InvalidParameter`].
pub fn check_open(name: &str, value: f64, lo: f64, hi: f64) -> CoreResult<f64> {
    if value.is_finite() && value > lo && value < hi {
        Ok(value)
    } else {
        Err(CoreError::param(name, value, format!("({lo}, {hi})")))
    }
}

/// Checks `lo <= value <= hi` (closed interval), or returns an [`CoreError::InvalidParameter`].
pub fn check_closed(name: &str, value: f64, lo: f64, hi: f64) -> CoreResult<f64> {
    if value.is_finite() && value >= lo && value <= hi {
        Ok(value)
    } else {
        Err(CoreError::param(name, value, format!("[{lo}, {hi}]")))
    }
}
