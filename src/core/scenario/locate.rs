//! Where a scenario file is wrong: the dotted field path, its line, and the nearest valid name.
//!
//! `serde_path_to_error` gives the path as far as serde can see it. Inside internally tagged enums
//! (`kind: …`) serde buffers the object first, so the path stops at the enclosing tagged object and the
//! parser reports the end of that object as the position. The path is then completed on a copy of the file
//! as a `serde_json::Value`: a field whose removal changes the error is the one at fault (for a missing
//! field: the object where inserting it changes the error). The line is found from the path by walking
//! the keys of the text (RON and JSON), never from the position the parser reports inside tagged enums.

use serde::Deserialize;
use serde_json::Value;

use super::{Scenario, ScenarioError};

/// One step of a field path.
#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

fn path_string(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn segments(path: &serde_path_to_error::Path) -> Vec<Seg> {
    use serde_path_to_error::Segment;
    let mut out = Vec::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => out.push(Seg::Index(*index)),
            Segment::Map { key } => out.push(Seg::Key(key.clone())),
            Segment::Enum { .. } => {}
            Segment::Unknown => break,
        }
    }
    out
}

/// What serde found wrong.
#[derive(Debug, Clone, PartialEq)]
enum Problem {
    UnknownField {
        found: String,
        expected: Vec<String>,
    },
    UnknownVariant {
        found: String,
        expected: Vec<String>,
    },
    MissingField(String),
    Other(String),
}

/// The names in backticks of a serde message, in order.
fn backticked(message: &str) -> Vec<String> {
    message
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

impl Problem {
    /// From serde's own wording (serde_json, or any deserializer using serde's default messages).
    fn from_message(message: &str) -> Self {
        let message = match message.rfind(" at line ") {
            Some(i) if message[i..].contains(" column ") => &message[..i],
            _ => message,
        };
        let names = backticked(message);
        let split = |names: Vec<String>| {
            let mut it = names.into_iter();
            let found = it.next().unwrap_or_default();
            (found, it.collect::<Vec<_>>())
        };
        if message.starts_with("unknown field `") {
            let (found, expected) = split(names);
            Self::UnknownField { found, expected }
        } else if message.starts_with("unknown variant `") {
            let (found, expected) = split(names);
            Self::UnknownVariant { found, expected }
        } else if message.starts_with("missing field `") {
            Self::MissingField(names.into_iter().next().unwrap_or_default())
        } else {
            Self::Other(message.to_owned())
        }
    }

    fn from_ron(err: &ron::Error) -> Self {
        let list = |e: &[&str]| e.iter().map(|s| (*s).to_owned()).collect();
        match err {
            ron::Error::NoSuchStructField {
                expected, found, ..
            } => Self::UnknownField {
                found: found.clone(),
                expected: list(expected),
            },
            ron::Error::NoSuchEnumVariant {
                expected, found, ..
            } => Self::UnknownVariant {
                found: found.clone(),
                expected: list(expected),
            },
            ron::Error::MissingStructField { field, .. } => Self::MissingField((*field).to_owned()),
            other => Self::Other(other.to_string()),
        }
    }
}

/// The valid name nearest to `found`: an exact abbreviation by initials (`learning_rate` → `lr`), else
/// the smallest Damerau–Levenshtein distance if it is small for the length.
fn nearest<'a>(found: &str, candidates: &'a [String]) -> Option<&'a str> {
    // Case, surrounding spaces and dashes are not what makes a name unknown: `LAPROP`, `adam `, `two-modes`.
    let found = found.trim().to_lowercase().replace(['-', ' '], "_");
    if let Some(c) = candidates.iter().find(|c| **c == found) {
        return Some(c);
    }
    if found.contains('_') {
        let initials: String = found.split('_').filter_map(|w| w.chars().next()).collect();
        if let Some(c) = candidates.iter().find(|c| **c == initials) {
            return Some(c);
        }
    }
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(&found, c), c))
        .filter(|(d, c)| *d <= (found.len().max(c.len()) / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.as_str())
}

/// A message for the problems serde words for itself only (a whole number beyond u64, a duplicate field),
/// or `None` to keep serde's.
fn reworded(
    text: &str,
    problem: &Problem,
    field: &str,
    line: Option<usize>,
    value: Option<&Value>,
) -> Option<String> {
    let Problem::Other(m) = problem else {
        return None;
    };
    let words = reworded_words(text, m, field, line)?;
    // The declared range, where the field has one.
    let range = value
        .and_then(|v| crate::core::params::decl_at(v, field))
        .map(|d| format!("; valid range is {}", d.range_words()))
        .unwrap_or_default();
    Some(format!("{words}{range}"))
}

fn reworded_words(text: &str, m: &str, field: &str, line: Option<usize>) -> Option<String> {
    if m.contains("Integer is out of bounds")
        || (m.contains("found integer") && m.contains("u128"))
        || m.contains("number out of range")
    {
        let literal = line
            .and_then(|l| text.lines().nth(l.wrapping_sub(1)))
            .and_then(|l| literal_after_key(l, field.rsplit('.').next().unwrap_or(field)))
            .map(|v| format!(" {v}"))
            .unwrap_or_default();
        return Some(format!(
            "the whole number{literal} is beyond 18446744073709551615 (2^64 − 1), the largest this format reads; a real-valued field may be written with an exponent (1e23), a count or seed must be smaller"
        ));
    }
    if let Some(rest) = m.strip_prefix("invalid type: floating point `")
        && let Some((found, expected)) = rest.split_once("`, expected ")
        && matches!(expected, "u64" | "usize" | "u32")
    {
        return Some(format!(
            "invalid type: found {found}, expected a whole number from 0 to 18446744073709551615 (2^64 − 1) here"
        ));
    }
    if let Some(rest) = m.strip_prefix("invalid value: integer `")
        && let Some((found, expected)) = rest.split_once("`, expected ")
        && matches!(expected, "u64" | "usize" | "u32")
    {
        return Some(format!(
            "found {found}, expected a whole number from 0 to 18446744073709551615 (2^64 − 1) here"
        ));
    }
    if m.starts_with("invalid type: ") {
        return Some(m.to_owned());
    }
    None
}

/// The value written after `key:` on a line (`seed: 123,` → `123`).
fn literal_after_key(line: &str, key: &str) -> Option<String> {
    let key = key.split('[').next().unwrap_or(key);
    let at = line
        .find(&format!("\"{key}\""))
        .map(|i| i + key.len() + 2)
        .or_else(|| line.find(key).map(|i| i + key.len()))?;
    let rest = line[at..].trim_start().strip_prefix(':')?.trim_start();
    let end = rest.find([',', ')', '}', ']', ' ']).unwrap_or(rest.len());
    (end > 0).then(|| rest[..end].to_owned())
}

/// The second occurrence of a field given twice in the same object: (path, its line, the first's line).
fn duplicate_key(text: &str) -> Option<(String, usize, usize)> {
    let lines = key_lines(text);
    lines.iter().enumerate().find_map(|(i, (p, l))| {
        lines[..i]
            .iter()
            .find(|(q, _)| q == p && !p.ends_with(']'))
            .map(|(_, first)| (p.clone(), *l, *first))
    })
}

fn message(problem: &Problem, field: &str) -> String {
    let list = |v: &[String]| v.join(", ");
    match problem {
        Problem::UnknownField { found, expected } => {
            let hint = nearest(found, expected)
                .map(|n| format!("; did you mean {n}?"))
                .unwrap_or_default();
            if expected.is_empty() {
                format!("unknown field{hint} (this kind takes no other fields)")
            } else {
                format!("unknown field{hint} (valid fields: {})", list(expected))
            }
        }
        Problem::UnknownVariant { found, expected } => {
            let hint = nearest(found, expected)
                .map(|n| format!("; did you mean {n}?"))
                .unwrap_or_default();
            let what = if field == "kind" || field.ends_with(".kind") {
                "kinds"
            } else {
                "values"
            };
            format!(
                "unknown value \"{found}\": it is the value of {field} that is unknown{hint} (valid {what}: {})",
                list(expected)
            )
        }
        Problem::MissingField(_) => "missing field (required here)".to_owned(),
        Problem::Other(m) => m.clone(),
    }
}

// --- completing the path on a JSON copy ---------------------------------------------------------------

/// The error of deserializing a scenario from `v`, as text (`None`: it deserializes).
fn value_error(v: &Value) -> Option<String> {
    Scenario::deserialize(v).err().map(|e| e.to_string())
}

fn get<'a>(v: &'a Value, path: &[Seg]) -> Option<&'a Value> {
    path.iter().try_fold(v, |node, seg| match seg {
        Seg::Key(k) => node.get(k),
        Seg::Index(i) => node.get(i),
    })
}

fn get_mut<'a>(v: &'a mut Value, path: &[Seg]) -> Option<&'a mut Value> {
    path.iter().try_fold(v, |node, seg| match seg {
        Seg::Key(k) => node.get_mut(k),
        Seg::Index(i) => node.get_mut(i),
    })
}

/// `v` without the child `child` of the node at `path`.
fn without(v: &Value, path: &[Seg], child: &Seg) -> Value {
    let mut w = v.clone();
    match (get_mut(&mut w, path), child) {
        (Some(Value::Object(m)), Seg::Key(k)) => {
            m.remove(k);
        }
        (Some(Value::Array(a)), Seg::Index(i)) if *i < a.len() => {
            a.remove(*i);
        }
        _ => {}
    }
    w
}

/// Completes `path` (where serde stopped) down to the field at fault; `base` is the error of `v`.
fn refine(v: &Value, mut path: Vec<Seg>, base: &str, problem: &Problem) -> Vec<Seg> {
    if let Problem::MissingField(name) = problem {
        if let Some(found) = missing_in(v, &path, name, base) {
            path = found;
        }
        path.push(Seg::Key(name.clone()));
        return path;
    }
    loop {
        let children: Vec<Seg> = match get(v, &path) {
            Some(Value::Object(m)) => {
                let mut keys: Vec<Seg> = m
                    .keys()
                    .filter(|k| *k != "kind")
                    .map(|k| Seg::Key(k.clone()))
                    .collect();
                // A tag is at fault only when its value is unknown (removing it always changes the error).
                if matches!(problem, Problem::UnknownVariant { .. }) && m.contains_key("kind") {
                    keys.push(Seg::Key("kind".to_owned()));
                }
                keys
            }
            Some(Value::Array(a)) => (0..a.len()).map(Seg::Index).collect(),
            _ => break,
        };
        let culprit = children
            .into_iter()
            .find(|c| value_error(&without(v, &path, c)).as_deref() != Some(base));
        match culprit {
            Some(c) => path.push(c),
            None => break,
        }
    }
    // An unknown field that is not in the text as such (e.g. a parser's own report): name it below.
    if let Problem::UnknownField { found, .. } = problem
        && path.last() != Some(&Seg::Key(found.clone()))
    {
        path.push(Seg::Key(found.clone()));
    }
    path
}

/// The object (at or below `path`) that lacks `name` and where inserting it changes the error other than
/// into "unknown field": the one that requires it. Deepest first.
fn missing_in(v: &Value, path: &[Seg], name: &str, base: &str) -> Option<Vec<Seg>> {
    let mut objects = Vec::new();
    collect_objects(get(v, path)?, path.to_vec(), &mut objects);
    objects.sort_by_key(|p| std::cmp::Reverse(p.len()));
    let unknown = format!("unknown field `{name}`");
    objects.into_iter().find(|p| {
        let mut w = v.clone();
        match get_mut(&mut w, p) {
            Some(Value::Object(m)) if !m.contains_key(name) => {
                m.insert(name.to_owned(), Value::Null);
            }
            _ => return false,
        }
        match value_error(&w) {
            Some(e) => e != base && !e.starts_with(&unknown),
            None => true,
        }
    })
}

fn collect_objects(node: &Value, path: Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
    match node {
        Value::Object(m) => {
            for (k, child) in m {
                let mut p = path.clone();
                p.push(Seg::Key(k.clone()));
                collect_objects(child, p, out);
            }
            out.push(path);
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                let mut p = path.clone();
                p.push(Seg::Index(i));
                collect_objects(child, p, out);
            }
        }
        _ => {}
    }
}

/// The error for a file that serde refused at `path` with `native` (the parser's own account, with the
/// line it reported), completed on `value` (the file as JSON, when it reads as such).
fn locate(
    text: &str,
    value: Option<Value>,
    path: Vec<Seg>,
    native: Problem,
    native_line: Option<usize>,
) -> ScenarioError {
    let refined = value.as_ref().and_then(|v| {
        let base = value_error(v)?;
        let problem = Problem::from_message(&base);
        let path = refine(v, path.clone(), &base, &problem);
        Some((path, problem))
    });
    let (path, problem) = refined.unwrap_or_else(|| {
        let mut path = path;
        match &native {
            Problem::UnknownField { found, .. } | Problem::MissingField(found)
                if path.last() != Some(&Seg::Key(found.clone())) =>
            {
                path.push(Seg::Key(found.clone()));
            }
            _ => {}
        }
        (path, native)
    });
    let field = path_string(&path);
    let line = line_of_path(text, &field).or(native_line);
    let message = reworded(text, &problem, &field, line, value.as_ref())
        .unwrap_or_else(|| message(&problem, &field));
    ScenarioError {
        line,
        message,
        field: (!field.is_empty()).then_some(field),
    }
}

/// A field given twice, found in the text (serde names only the key, and RON the outermost struct).
fn duplicate_error(text: &str, message: &str) -> Option<ScenarioError> {
    if !message.contains("duplicate field") {
        return None;
    }
    let (field, line, first) = duplicate_key(text)?;
    Some(ScenarioError {
        line: Some(line),
        message: format!(
            "duplicate field: it is given twice (first on line {first}); keep one of them"
        ),
        field: Some(field),
    })
}

pub(super) fn parse_json(text: &str) -> Result<Scenario, ScenarioError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let err = match serde_path_to_error::deserialize::<_, Scenario>(&mut de) {
        Ok(s) => {
            return de.end().map(|()| s).map_err(|e| ScenarioError {
                line: Some(e.line()),
                field: None,
                message: Problem::from_message(&e.to_string()).to_plain(),
            });
        }
        Err(e) => e,
    };
    let path = segments(err.path());
    let inner = err.into_inner();
    let line = (inner.line() > 0).then_some(inner.line());
    if inner.is_syntax() || inner.is_eof() {
        return Err(ScenarioError {
            line,
            field: None,
            message: Problem::from_message(&inner.to_string()).to_plain(),
        });
    }
    if let Some(dup) = duplicate_error(text, &inner.to_string()) {
        return Err(dup);
    }
    let value = serde_json::from_str::<Value>(text).ok();
    Err(locate(
        text,
        value,
        path,
        Problem::from_message(&inner.to_string()),
        line,
    ))
}

pub(super) fn parse_ron(text: &str) -> Result<Scenario, ScenarioError> {
    let spanned = |e: ron::error::SpannedError| ScenarioError {
        line: Some(e.span.start.line),
        field: None,
        message: e.code.to_string(),
    };
    let mut de = ron::Deserializer::from_str(text).map_err(spanned)?;
    let err = match serde_path_to_error::deserialize::<_, Scenario>(&mut de) {
        Ok(s) => return de.end().map(|()| s).map_err(|e| spanned(de.span_error(e))),
        Err(e) => e,
    };
    let path = segments(err.path());
    let inner = err.into_inner();
    if let Some(dup) = duplicate_error(text, &inner.to_string()) {
        return Err(dup);
    }
    let problem = Problem::from_ron(&inner);
    let at = de.span_error(inner);
    let line = Some(at.span.start.line);
    match ron::from_str::<Value>(text) {
        Ok(value) => Err(locate(text, Some(value), path, problem, line)),
        // Not well-formed RON (or RON this check cannot read as JSON): the parser's position is the best.
        Err(_) => {
            let field = path_string(&path);
            let native = at.code.to_string();
            // A number serde could not hold: on the line of its field; a syntax error: the parser's.
            let field_line = line_of_path(text, &field).or(line);
            let (line, message) = match reworded(
                text,
                &Problem::Other(native.clone()),
                &field,
                field_line,
                None,
            ) {
                Some(m) => (field_line, m),
                None => (line, native),
            };
            Err(ScenarioError {
                line,
                message,
                field: (!field.is_empty()).then_some(field),
            })
        }
    }
}

impl Problem {
    fn to_plain(&self) -> String {
        match self {
            Self::Other(m) => m.clone(),
            other => message(other, ""),
        }
    }
}

// --- lines from paths -------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Str(String),
    Word(String),
    Colon,
    Comma,
    Open,
    Close,
}

/// The tokens of a RON or JSON text with their 1-based lines (comments and whitespace dropped).
fn tokens(text: &str) -> Vec<(Tok, usize)> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\n' => {
                line += 1;
                i += 1;
            }
            '/' if chars.get(i + 1) == Some(&'/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                i += 2;
                while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
                i += 2;
            }
            '"' => {
                let start_line = line;
                let mut s = String::new();
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        i += 1;
                    }
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    s.push(chars[i]);
                    i += 1;
                }
                i += 1;
                out.push((Tok::Str(s), start_line));
            }
            ':' => {
                out.push((Tok::Colon, line));
                i += 1;
            }
            ',' => {
                out.push((Tok::Comma, line));
                i += 1;
            }
            '(' | '{' | '[' => {
                out.push((Tok::Open, line));
                i += 1;
            }
            ')' | '}' | ']' => {
                out.push((Tok::Close, line));
                i += 1;
            }
            c if c.is_whitespace() => i += 1,
            _ => {
                let mut w = String::new();
                while i < chars.len()
                    && !chars[i].is_whitespace()
                    && !"\"/:,(){}[]".contains(chars[i])
                {
                    w.push(chars[i]);
                    i += 1;
                }
                if w.is_empty() {
                    i += 1;
                } else {
                    out.push((Tok::Word(w), line));
                }
            }
        }
    }
    out
}

/// Every key and list element of the text as (dotted path, line), paths as [`path_string`] writes them.
fn key_lines(text: &str) -> Vec<(String, usize)> {
    struct Frame {
        path: String,
        index: usize,
        key: Option<String>,
        element_seen: bool,
    }
    let join = |parent: &str, key: &str| {
        if parent.is_empty() {
            key.to_owned()
        } else {
            format!("{parent}.{key}")
        }
    };
    let toks = tokens(text);
    let mut out = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let (tok, line) = &toks[i];
        let next_is_colon = matches!(toks.get(i + 1), Some((Tok::Colon, _)));
        // The path of a value starting here (and record a list element's line).
        let value_path = |stack: &mut Vec<Frame>, out: &mut Vec<(String, usize)>| -> String {
            match stack.last_mut() {
                None => String::new(),
                Some(f) => match &f.key {
                    Some(k) => join(&f.path, k),
                    None => {
                        let p = format!("{}[{}]", f.path, f.index);
                        if !f.element_seen {
                            f.element_seen = true;
                            out.push((p.clone(), *line));
                        }
                        p
                    }
                },
            }
        };
        match tok {
            Tok::Str(s) | Tok::Word(s) if next_is_colon && !stack.is_empty() => {
                if let Some(f) = stack.last_mut() {
                    out.push((join(&f.path, s), *line));
                    f.key = Some(s.clone());
                }
                i += 1; // the colon
            }
            Tok::Str(_) | Tok::Word(_) => {
                value_path(&mut stack, &mut out);
            }
            Tok::Open => {
                let path = value_path(&mut stack, &mut out);
                stack.push(Frame {
                    path,
                    index: 0,
                    key: None,
                    element_seen: false,
                });
            }
            Tok::Close => {
                stack.pop();
            }
            Tok::Comma => {
                if let Some(f) = stack.last_mut() {
                    f.index += 1;
                    f.key = None;
                    f.element_seen = false;
                }
            }
            Tok::Colon => {}
        }
        i += 1;
    }
    out
}

/// The line of exactly this path in the text, if it is there.
pub(super) fn exact_line(text: &str, path: &str) -> Option<usize> {
    key_lines(text)
        .into_iter()
        .find(|(p, _)| p == path)
        .map(|(_, l)| l)
}

/// The line of a dotted path (`method.optimizer.lr`, `model.init.means[1][0]`): of the path itself, else
/// of its nearest enclosing key that is in the text (a missing field: the object that lacks it).
pub(super) fn line_of_path(text: &str, path: &str) -> Option<usize> {
    let lines = key_lines(text);
    let mut p = path;
    while !p.is_empty() {
        if let Some((_, l)) = lines.iter().find(|(q, _)| q == p) {
            return Some(*l);
        }
        p = match (p.rfind('['), p.rfind('.')) {
            (Some(b), Some(d)) if p.ends_with(']') && b > d => &p[..b],
            (Some(b), None) if p.ends_with(']') => &p[..b],
            (_, Some(d)) => &p[..d],
            _ => "",
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_of_keys_and_elements_in_ron_and_json() {
        let ron = "// c\n(\n  a: 1,\n  b: (kind: \"x\", c: [\n    (1, 2),\n    (3, 4),\n  ]),\n)\n";
        assert_eq!(line_of_path(ron, "a"), Some(3));
        assert_eq!(line_of_path(ron, "b.kind"), Some(4));
        assert_eq!(line_of_path(ron, "b.c[1]"), Some(6));
        assert_eq!(line_of_path(ron, "b.c[1][0]"), Some(6));
        assert_eq!(line_of_path(ron, "b.missing"), Some(4));
        let json =
            "{\n  \"a\": 1,\n  \"b\": {\n    \"kind\": \"x\",\n    \"c\": [[1, 2], [3, 4]]\n  }\n}";
        assert_eq!(line_of_path(json, "b.kind"), Some(4));
        assert_eq!(line_of_path(json, "b.c[1]"), Some(5));
        assert_eq!(line_of_path(json, "b"), Some(3));
    }

    #[test]
    fn nearest_names() {
        let v = |s: &[&str]| s.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        let opt = v(&["lr", "beta1", "beta2", "eps", "weight_decay"]);
        assert_eq!(nearest("learning_rate", &opt), Some("lr"));
        assert_eq!(nearest("bta1", &opt), Some("beta1"));
        assert_eq!(nearest("zzzzzzzz", &opt), None);
        assert_eq!(
            nearest("resolutoin", &v(&["resolution"])),
            Some("resolution")
        );
        let kinds = v(&["sgd", "adam", "lion", "laprop", "ademamix", "grams"]);
        assert_eq!(nearest("LAPROP", &kinds), Some("laprop"));
        assert_eq!(nearest("adam ", &kinds), Some("adam"));
        assert_eq!(nearest(" Lion", &kinds), Some("lion"));
        assert_eq!(
            nearest("two-modes", &v(&["two_modes", "ring8"])),
            Some("two_modes")
        );
    }

    #[test]
    fn duplicates_and_literals_are_found_in_the_text() {
        let ron = "(\n a: (b: 1,\n  c: 2,\n  b: 3),\n)";
        assert_eq!(duplicate_key(ron), Some(("a.b".to_owned(), 4, 2)));
        assert_eq!(duplicate_key("(a: [(b: 1), (b: 2)])"), None);
        assert_eq!(
            literal_after_key("    seed: 123456,", "seed").as_deref(),
            Some("123456")
        );
        assert_eq!(
            literal_after_key("  \"lr\": 1e400}", "lr").as_deref(),
            Some("1e400")
        );
    }
}
