//! Mutations of every bundled preset (`assets/scenarios`), in RON and JSON with one field per line: an
//! unknown field in every object, a misspelt `kind` in every tagged object, a wrong type, a number out of
//! range and a non-finite number at every numeric leaf, truncation, invalid UTF-8 and a byte-order mark.
//! Each mutation is refused naming the line of the change and the dotted path of the field (a truncation
//! or a bad byte: a line), never accepted; a BOM is accepted and changes nothing.

use divlab::core::params;
use divlab::core::scenario::Scenario;
use serde_json::Value;

/// A unique placeholder put where the mutation goes, so that its line is known before the literal is set.
const MARK: &str = "@@MUTATION@@";

#[derive(Clone, Copy, Debug)]
enum Format {
    Ron,
    Json,
}

#[derive(Clone, Debug, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

fn path_string(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) if out.is_empty() => out.push_str(k),
            Seg::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn get_mut<'a>(v: &'a mut Value, path: &[Seg]) -> &'a mut Value {
    path.iter().fold(v, |node, seg| match seg {
        Seg::Key(k) => node.get_mut(k).expect("path exists"),
        Seg::Index(i) => node.get_mut(*i).expect("path exists"),
    })
}

/// Every object path and every numeric leaf path of `v`.
fn walk(v: &Value, path: Vec<Seg>, objects: &mut Vec<Vec<Seg>>, numbers: &mut Vec<Vec<Seg>>) {
    match v {
        Value::Object(m) => {
            objects.push(path.clone());
            for (k, child) in m {
                let mut p = path.clone();
                p.push(Seg::Key(k.clone()));
                walk(child, p, objects, numbers);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                let mut p = path.clone();
                p.push(Seg::Index(i));
                walk(child, p, objects, numbers);
            }
        }
        Value::Number(_) => numbers.push(path),
        _ => {}
    }
}

/// RON with one field per line (lists of numbers on one line), the `kind` first.
fn ron_of(v: &Value, indent: usize, out: &mut String) {
    let pad = "    ".repeat(indent + 1);
    match v {
        Value::Object(m) => {
            out.push_str("(\n");
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_by_key(|k| (*k != "kind", (*k).clone()));
            for k in keys {
                out.push_str(&format!("{pad}{k}: "));
                ron_of(&m[k], indent + 1, out);
                out.push_str(",\n");
            }
            out.push_str(&"    ".repeat(indent));
            out.push(')');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                ron_of(x, indent + 1, out);
            }
            out.push(']');
        }
        Value::String(s) => out.push_str(&format!("{s:?}")),
        Value::Number(n) => {
            // RON reads `1` as an integer: keep floats recognizably floats.
            let s = n.to_string();
            if n.is_f64() && !s.contains(['.', 'e', 'E']) {
                out.push_str(&format!("{s}.0"));
            } else {
                out.push_str(&s);
            }
        }
        Value::Bool(b) => out.push_str(&b.to_string()),
        Value::Null => out.push_str("None"),
    }
}

fn text_of(v: &Value, format: Format) -> String {
    match format {
        Format::Json => serde_json::to_string_pretty(v).expect("JSON"),
        Format::Ron => {
            let mut s = String::from("// mutated preset\n");
            ron_of(v, 0, &mut s);
            s.push('\n');
            s
        }
    }
}

/// `v` with the mark at `path` (or, with `key`, a new key in the object at `path`), written in `format`,
/// with the mark replaced by `literal`; and the line of the change.
fn mutated(
    v: &Value,
    path: &[Seg],
    key: Option<&str>,
    literal: &str,
    format: Format,
) -> (String, usize) {
    let mut w = v.clone();
    let node = get_mut(&mut w, path);
    let mark = Value::String(MARK.to_owned());
    match key {
        Some(k) => {
            node.as_object_mut()
                .expect("an object")
                .insert(k.to_owned(), mark);
        }
        None => *node = mark,
    }
    let text = text_of(&w, format);
    let quoted = format!("\"{MARK}\"");
    let line = text
        .lines()
        .position(|l| l.contains(&quoted))
        .expect("the mark is written")
        + 1;
    (text.replace(&quoted, literal), line)
}

fn presets() -> Vec<(&'static str, Value)> {
    divlab::assets::BUNDLED
        .iter()
        .map(|(name, text)| {
            let s = Scenario::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            (*name, serde_json::to_value(&s).expect("JSON value"))
        })
        .collect()
}

/// Parses `text`, which must be refused naming `field` on `line`.
fn assert_refused(name: &str, text: &str, field: &str, line: usize, what: &str) -> String {
    let err = match Scenario::parse(text) {
        Ok(_) => panic!("{name}: {what} at {field} was accepted:\n{text}"),
        Err(e) => e,
    };
    assert_eq!(
        err.field.as_deref(),
        Some(field),
        "{name}: {what}: {err}\n{text}"
    );
    assert_eq!(err.line, Some(line), "{name}: {what}: {err}\n{text}");
    err.to_string()
}

#[test]
fn the_written_presets_read_back_unchanged() {
    for (name, v) in presets() {
        for format in [Format::Ron, Format::Json] {
            let text = text_of(&v, format);
            let s =
                Scenario::parse(&text).unwrap_or_else(|e| panic!("{name} {format:?}: {e}\n{text}"));
            assert_eq!(serde_json::to_value(&s).unwrap(), v, "{name} {format:?}");
        }
    }
}

#[test]
fn an_unknown_field_in_every_object_and_a_misspelt_kind_are_refused_with_line_and_path() {
    let mut cases = 0;
    for (name, v) in presets() {
        let (mut objects, mut numbers) = (Vec::new(), Vec::new());
        walk(&v, Vec::new(), &mut objects, &mut numbers);
        for format in [Format::Ron, Format::Json] {
            for obj in &objects {
                let mut field = obj.clone();
                field.push(Seg::Key("zzz_unknown".into()));
                let (text, line) = mutated(&v, obj, Some("zzz_unknown"), "1", format);
                let msg = assert_refused(name, &text, &path_string(&field), line, "unknown field");
                assert!(msg.contains("unknown field"), "{msg}");
                cases += 1;
                let mut w = v.clone();
                let node = get_mut(&mut w, obj);
                if node.get("kind").is_some() {
                    let mut kind = obj.clone();
                    kind.push(Seg::Key("kind".into()));
                    let (text, line) = mutated(&v, &kind, None, "\"zzkind\"", format);
                    let msg = assert_refused(name, &text, &path_string(&kind), line, "kind");
                    assert!(msg.contains("valid kinds: "), "{msg}");
                    cases += 1;
                }
            }
        }
    }
    eprintln!("{cases} unknown-field and kind mutations refused");
    assert!(cases > 100, "{cases}");
}

/// A value just outside the declared range (or far outside an unbounded side), as a literal.
fn outside(d: &params::ParamDecl) -> String {
    let v = if d.max < 1e15 {
        if d.max_inclusive {
            d.max + d.max.abs().max(1.0)
        } else {
            d.max
        }
    } else if d.min_inclusive {
        d.min - 1.0
    } else {
        d.min
    };
    if d.integer {
        format!("{v:.0}")
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.1}")
    } else {
        format!("{v:e}")
    }
}

#[test]
fn wrong_types_out_of_range_and_non_finite_numbers_are_refused_at_every_leaf() {
    let mut cases = 0;
    for (name, v) in presets() {
        let (mut objects, mut numbers) = (Vec::new(), Vec::new());
        walk(&v, Vec::new(), &mut objects, &mut numbers);
        for format in [Format::Ron, Format::Json] {
            for leaf in &numbers {
                let field = path_string(leaf);
                let (text, line) = mutated(&v, leaf, None, "\"text\"", format);
                let msg = assert_refused(name, &text, &field, line, "wrong type");
                assert!(msg.contains("invalid type"), "{msg}");
                cases += 1;
                let d = params::decl_at(&v, &field)
                    .unwrap_or_else(|| panic!("{name}: no declaration for {field}"));
                let (text, line) = mutated(&v, leaf, None, &outside(d), format);
                let msg = assert_refused(name, &text, &field, line, "out of range");
                assert!(msg.contains("valid range"), "{msg}");
                cases += 1;
                let non_finite: &[&str] = match format {
                    Format::Ron => &["NaN", "inf", "-inf"],
                    Format::Json => &["1e999"],
                };
                for literal in non_finite {
                    let (text, line) = mutated(&v, leaf, None, literal, format);
                    let err = Scenario::parse(&text)
                        .expect_err(&format!("{name}: {field} = {literal} accepted"));
                    // A JSON number beyond f64 is a syntax error with the parser's line.
                    assert_eq!(err.line, Some(line), "{name}: {literal}: {err}");
                    if matches!(format, Format::Ron) {
                        assert_eq!(err.field.as_deref(), Some(field.as_str()), "{err}");
                    }
                    cases += 1;
                }
            }
        }
    }
    eprintln!("{cases} leaf mutations refused");
    assert!(cases > 500, "{cases}");
}

#[test]
fn truncated_files_and_bad_bytes_are_refused_with_a_line_and_a_bom_is_accepted() {
    let mut cases = 0;
    for (name, text) in divlab::assets::BUNDLED {
        let v = serde_json::to_value(Scenario::parse(text).unwrap()).unwrap();
        for text in [text.to_string(), text_of(&v, Format::Json)] {
            // Every cut that leaves the structure open (the last close bracket removed) is refused.
            let end = text.rfind([')', '}']).expect("closes");
            let cuts: Vec<usize> = (1..end)
                .step_by(13)
                .chain([end])
                .filter(|i| text.is_char_boundary(*i))
                .collect();
            for cut in cuts {
                let err = Scenario::parse(&text[..cut])
                    .expect_err(&format!("{name}: truncated at {cut} accepted"));
                assert!(err.line.is_some(), "{name} cut at {cut}: {err}");
                cases += 1;
            }
            for at in (0..text.len())
                .step_by(29)
                .filter(|i| text.is_char_boundary(*i))
            {
                let mut bytes = text.clone().into_bytes();
                bytes[at] = 0xff;
                let err = Scenario::parse_bytes(&bytes).expect_err("not UTF-8");
                let line = text[..at].matches('\n').count() + 1;
                assert_eq!(err.line, Some(line), "{name} byte {at}: {err}");
                assert!(err.message.contains(&format!("byte offset {at}")), "{err}");
                cases += 1;
            }
            let bom = format!("\u{feff}{text}");
            assert_eq!(
                Scenario::parse_bytes(bom.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}")),
                Scenario::parse(&text).unwrap()
            );
        }
    }
    eprintln!("{cases} truncations and bad bytes refused");
    assert!(cases > 200, "{cases}");
}
