//! The app's state as a link, and back: what a teacher sends, what the address bar shows, what is kept
//! between visits.
//!
//! # The link format (version 1)
//! A link is `key=value` pairs joined by `&`, after the `#` of the page address (natively: the `DIVLAB_LINK`
//! variable or `divlab open '#…'`). It is the *difference* from a bundled preset, so a link for the common
//! case stays short and readable:
//!
//! ```text
//! #v=1&preset=mixture_gradient_fit&layout=2&B.method.objective.kind=forward_kl&step=120
//! ```
//!
//! - `v` — the link version (1). A link from a newer divlab is refused with both versions named.
//! - `preset` — the bundled scenario every panel starts from (default `mixture_mmd_flow`).
//! - `layout` — 1, 2 or 4 panels. `step` — the step to run to on opening; `until` — where Run stops.
//! - `seed`, `target.…` — shared by every panel (they fit the same target from the same seed).
//! - `A.…`, `B.…`, `C.…`, `D.…` — a panel's scenario below the top level, as the dotted field path of the
//!   scenario format (`B.method.optimizer.lr=0.02`, `A.model.count=500`), and `A.overlays=plan,witness`.
//! - `view.scale` (`linear`/`log`), `view.density` (`p`/`q`), `view.colormap`, `view.theme`, `view.text`.
//!
//! A value is the field's JSON (numbers, `true`, `[0.5,1]`, a whole `{…}` object where a part changes kind),
//! or plain text where the field is text. Every panel's scenario then goes through the same parser and the
//! same parameter declarations as a scenario file, so a link can hold nothing a file could not.
//!
//! Embedding keys are not state, and are kept as given when the app rewrites the address: `ui=min` (only
//! Play/Step/Reset), `hide=seed,optimizer,…` (named controls hidden), `show=lr,…` (with `ui=min`: these
//! stay), `autoplay=1` (runs on opening), `tour=<id>.<step>` (the guided tour `assets/tours/<id>.ron` at that
//! step, from 1; Back and Next rewrite it).
//!
//! Opening a link runs every panel from its seed to `step`, so the values are those of the scenario run
//! headless for that many steps. A target edited on the canvas *during* a run is in the link as the final
//! target, so the replay fits it from step 0 rather than repeating the edit's history.

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};
use serde_json::{Map, Value};

use super::heatmap::{ColorScale, Colormap};
use super::looks::{Look, ThemeChoice};
use super::overlays::{Overlay, Toggles};
use super::panel::panel_letter;
use crate::core::scenario::{MAX_STEPS, Scenario};

/// The link format this build writes and reads.
pub const LINK_VERSION: u64 = 1;

/// Characters escaped in a link's keys and values: the separators, and what an address bar would not keep.
const ESCAPED: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b'<')
    .add(b'>')
    .add(b'=')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'\\')
    .add(b'^')
    .add(b'\'');

/// Everything a link carries: what is on screen and how far it has run.
#[derive(Debug, Clone, PartialEq)]
pub struct AppState {
    /// The bundled scenario the panels were started from (the base of the link's differences).
    pub preset: String,
    /// One scenario per panel (1, 2 or 4), all with the same target and seed.
    pub panels: Vec<Scenario>,
    /// Each panel's overlays.
    pub overlays: Vec<Toggles>,
    pub scale: ColorScale,
    /// Draw q's density instead of p's.
    pub model_density: bool,
    pub look: Look,
    /// The step the panels have reached (a link runs to it on opening).
    pub step: usize,
    /// Where Run stops.
    pub until: usize,
}

impl AppState {
    /// `preset` in one panel, at step 0, with the default view.
    pub fn of_preset(preset: &str, scenario: Scenario) -> Self {
        Self {
            preset: preset.to_owned(),
            until: scenario.steps,
            panels: vec![scenario],
            overlays: vec![Toggles::default()],
            scale: ColorScale::Linear,
            model_density: false,
            look: Look::default(),
            step: 0,
        }
    }
}

/// How the page embeds the app: not state, kept as given in the address.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Embed {
    /// `ui=min`: every control but Play/Step/Reset is hidden (except those in `shown`).
    pub minimal: bool,
    /// `hide=…`: controls hidden by name.
    pub hidden: Vec<String>,
    /// `show=…`: with `ui=min`, controls that stay.
    pub shown: Vec<String>,
    /// `autoplay=1`: runs on opening (to `until`).
    pub autoplay: bool,
    /// `tour=<id>.<step>`: the guided tour on screen and its step (0-based here, 1-based in the link).
    pub tour: Option<(String, usize)>,
    /// The embedding pairs as they were given (rewritten unchanged after the state).
    pub pairs: Vec<(String, String)>,
}

/// Controls a link can hide (`hide=`) or keep (`ui=min&show=`), besides any parameter of the editor named
/// by its field (`lr`, `sigma`) or its part (`objective`, `optimizer`, `flow`, `kernel`, `model`).
pub const CONTROLS_BY_NAME: [(&str, &str); 20] = [
    (
        "claims",
        "the Claims menu of presets that show a paper's claim",
    ),
    ("tours", "the Tours menu of guided tours"),
    ("scenarios", "the list of bundled scenarios"),
    ("target", "the target picker"),
    ("edit", "editing the target on the canvas"),
    ("layout", "the 1 / 2 / 4 panels switch"),
    ("until", "run until step"),
    ("seed", "the seed and new seed"),
    ("speed", "steps per frame"),
    ("view", "target samples, q or p, colour scale"),
    ("parameters", "the whole parameter editor"),
    ("plots", "the Plots window"),
    ("learn", "the Learn more panel"),
    ("look", "colormap, theme and text size"),
    ("status", "the status bar"),
    ("link", "Copy link and Reset everything"),
    ("divergence", "each panel's divergence picker"),
    ("panel", "each panel's Reset and Duplicate"),
    ("overlays", "each panel's overlays menu"),
    ("file", "saving, loading and exporting files"),
];

/// Parameter parts the editor groups under one name (`hide=optimizer` hides its picker and its numbers).
pub const PARAMETER_PARTS: [&str; 5] = ["objective", "optimizer", "flow", "kernel", "model"];

impl Embed {
    /// Whether the control `name` is on screen.
    pub fn shows(&self, name: &str) -> bool {
        if self.minimal {
            self.shown.iter().any(|s| s == name)
        } else {
            !self.hidden.iter().any(|s| s == name)
        }
    }

    /// Whether the editor shows the parameter at dotted `path` (`method.optimizer.lr`): hidden by its last
    /// field, by any part above it, or with the whole editor.
    pub fn shows_parameter(&self, path: &str) -> bool {
        let segments: Vec<&str> = path.split('.').collect();
        let named = |list: &[String]| {
            list.iter()
                .any(|n| n == path || segments.iter().any(|s| s == n))
        };
        if self.minimal {
            named(&self.shown)
        } else {
            self.shows("parameters") && !named(&self.hidden)
        }
    }

    /// Whether any parameter of the editor could be on screen.
    pub fn shows_any_parameter(&self) -> bool {
        if self.minimal {
            !self.shown.is_empty()
        } else {
            self.shows("parameters")
        }
    }
}

/// The link of `state` (without the leading `#`), with the embedding pairs after it. `presets` are the
/// bundled scenarios the link may start from.
pub fn to_link(
    state: &AppState,
    embed: &Embed,
    presets: &[(String, Result<Scenario, String>)],
) -> String {
    let base = presets
        .iter()
        .find(|(name, s)| *name == state.preset && s.is_ok())
        .and_then(|(_, s)| s.as_ref().ok());
    let form = form_of(state);
    let mut pairs: Vec<(String, String)> = vec![
        ("v".into(), LINK_VERSION.to_string()),
        ("preset".into(), state.preset.clone()),
    ];
    match base {
        Some(base) => {
            let base_form = form_of(&AppState {
                panels: vec![base.clone(); state.panels.len()],
                overlays: vec![Toggles::default(); state.panels.len()],
                ..AppState::of_preset(&state.preset, base.clone())
            });
            if state.panels.len() != 1 {
                pairs.push(("layout".into(), state.panels.len().to_string()));
            }
            let mut changed = Vec::new();
            diff(&base_form, &form, "", &mut changed);
            pairs.extend(changed.into_iter().map(|(k, v)| (k, value_text(&v))));
        }
        // Not a bundled preset: every field is in the link.
        None => {
            if let Value::Object(m) = &form {
                pairs.extend(
                    m.iter()
                        .filter(|(k, _)| !matches!(k.as_str(), "v" | "preset"))
                        .map(|(k, v)| (k.clone(), value_text(v))),
                );
            }
        }
    }
    pairs.extend(embed.pairs.iter().cloned());
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, ESCAPED),
                utf8_percent_encode(v, ESCAPED)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Reads a link (with or without its leading `#` or `?`). The error says which key, which value and what
/// is valid; nothing of the link is taken then.
pub fn from_link(
    link: &str,
    presets: &[(String, Result<Scenario, String>)],
) -> Result<(AppState, Embed), String> {
    let pairs = split_pairs(link)?;
    let mut embed = Embed::default();
    let mut state_pairs = Vec::new();
    for (k, v) in pairs {
        match k.as_str() {
            "ui" | "hide" | "show" | "autoplay" | "tour" => {
                read_embed(&mut embed, &k, &v)?;
                embed.pairs.push((k, v));
            }
            _ => state_pairs.push((k, v)),
        }
    }
    let get = |key: &str| {
        state_pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    match get("v") {
        None => return Err("the link has no version: it should start with v=1".into()),
        Some(v) => match v.parse::<u64>() {
            Ok(LINK_VERSION) => {}
            Ok(n) if n > LINK_VERSION => {
                return Err(format!(
                    "v = {n}: the link was written by a newer divlab (link version {n}); this one reads \
                     version {LINK_VERSION}"
                ));
            }
            _ => {
                return Err(format!(
                    "v = `{v}`: the only link version is {LINK_VERSION}"
                ));
            }
        },
    }
    let preset = get("preset").unwrap_or(super::DEFAULT_SCENARIO).to_owned();
    let base = presets
        .iter()
        .find(|(name, s)| *name == preset && s.is_ok())
        .and_then(|(_, s)| s.as_ref().ok())
        .ok_or_else(|| {
            let names: Vec<&str> = presets.iter().map(|(n, _)| n.as_str()).collect();
            format!(
                "preset = `{preset}` is not a bundled scenario{}: valid are {}",
                nearest_hint(&preset, &names),
                names.join(", ")
            )
        })?;
    let layout = match get("layout") {
        None => 1,
        Some("1") => 1,
        Some("2") => 2,
        Some("4") => 4,
        Some(v) => return Err(format!("layout = `{v}`: valid values are 1, 2 and 4")),
    };
    let mut form = form_of(&AppState {
        panels: vec![base.clone(); layout],
        overlays: vec![Toggles::default(); layout],
        ..AppState::of_preset(&preset, base.clone())
    });
    for (k, v) in &state_pairs {
        if matches!(k.as_str(), "v" | "preset" | "layout") {
            continue;
        }
        set_path(&mut form, k, v)?;
    }
    state_of_form(&form, &preset, layout).map(|state| (state, embed))
}

/// The link's pairs, percent-decoded. A pair without `=`, or a key given twice, is refused.
fn split_pairs(link: &str) -> Result<Vec<(String, String)>, String> {
    let link = link.trim().trim_start_matches(['#', '?']);
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (n, pair) in link.split('&').filter(|p| !p.is_empty()).enumerate() {
        let (k, v) = pair.split_once('=').ok_or_else(|| {
            format!(
                "pair {} (`{}`) has no `=`: a link is key=value pairs joined by &",
                n + 1,
                shorten(pair)
            )
        })?;
        let decode = |s: &str| {
            percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| format!("pair {} (`{}`) is not UTF-8 text", n + 1, shorten(pair)))
        };
        let (k, v) = (decode(k)?, decode(v)?);
        if pairs.iter().any(|(seen, _)| *seen == k) {
            return Err(format!("`{k}` is given twice"));
        }
        pairs.push((k, v));
    }
    Ok(pairs)
}

fn read_embed(embed: &mut Embed, key: &str, value: &str) -> Result<(), String> {
    let names = || -> Vec<String> {
        value
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    match key {
        "ui" => match value {
            "min" => embed.minimal = true,
            "full" => embed.minimal = false,
            _ => return Err(format!("ui = `{value}`: valid values are min and full")),
        },
        "autoplay" => match value {
            "1" | "true" => embed.autoplay = true,
            "0" | "false" => embed.autoplay = false,
            _ => return Err(format!("autoplay = `{value}`: valid values are 1 and 0")),
        },
        "tour" => embed.tour = Some(read_tour(value)?),
        _ => {
            let list = names();
            if let Some(bad) = list.iter().find(|n| !is_control_name(n)) {
                let known: Vec<&str> = CONTROLS_BY_NAME
                    .iter()
                    .map(|(n, _)| *n)
                    .chain(PARAMETER_PARTS)
                    .collect();
                return Err(format!(
                    "{key} = `{value}`: `{bad}` is not a control{}; controls are {} or a parameter's \
                     field name (lr, sigma, …)",
                    nearest_hint(bad, &known),
                    known.join(", ")
                ));
            }
            if key == "hide" {
                embed.hidden = list;
            } else {
                embed.shown = list;
            }
        }
    }
    Ok(())
}

/// `<id>.<step>` of a bundled tour, the step from 1.
fn read_tour(value: &str) -> Result<(String, usize), String> {
    let tours: Vec<crate::tour::Tour> = crate::tour::bundled_tours()
        .into_iter()
        .filter_map(Result::ok)
        .collect();
    let ids: Vec<&str> = tours.iter().map(|t| t.id).collect();
    let (id, step) = value.rsplit_once('.').unwrap_or((value, "1"));
    let Some(tour) = tours.iter().find(|t| t.id == id) else {
        return Err(format!(
            "tour = `{value}`: `{id}` is not a tour{}; tours are {}",
            nearest_hint(id, &ids),
            ids.join(", ")
        ));
    };
    let n = tour.file.steps.len();
    match step.parse::<usize>() {
        Ok(k) if (1..=n).contains(&k) => Ok((id.to_owned(), k - 1)),
        _ => Err(format!(
            "tour = `{value}`: step `{step}` is not one of 1 to {n} (the steps of `{id}`)"
        )),
    }
}

/// A control's name, a parameter part, or a parameter's field name (its declaration's last segment, or a
/// switch such as `adaptive_step`), alone or as a dotted path of those.
fn is_control_name(name: &str) -> bool {
    let field = |n: &str| {
        crate::core::params::all()
            .iter()
            .any(|d| d.id.rsplit('.').next() == Some(n))
            || SWITCHES.contains(&n)
    };
    CONTROLS_BY_NAME.iter().any(|(n, _)| *n == name)
        || PARAMETER_PARTS.contains(&name)
        || field(name)
        || (name.contains('.')
            && name
                .split('.')
                .all(|s| field(s) || PARAMETER_PARTS.contains(&s) || s == "method"))
}

/// The scenario format's switches (on/off fields), which have no numeric declaration.
const SWITCHES: [&str; 6] = [
    "adaptive_step",
    "amsgrad",
    "cautious",
    "debiased",
    "decoupled",
    "invert",
];

/// The state as one JSON object whose dotted paths are the link's keys.
fn form_of(state: &AppState) -> Value {
    let mut form = Map::new();
    form.insert("v".into(), Value::from(LINK_VERSION));
    form.insert("preset".into(), Value::from(state.preset.clone()));
    form.insert("layout".into(), Value::from(state.panels.len()));
    form.insert("step".into(), Value::from(state.step));
    form.insert("until".into(), Value::from(state.until));
    if let Some(first) = state.panels.first() {
        form.insert("seed".into(), Value::from(first.seed));
        form.insert(
            "target".into(),
            serde_json::to_value(&first.target).unwrap_or(Value::Null),
        );
    }
    let mut view = Map::new();
    view.insert(
        "scale".into(),
        Value::from(match state.scale {
            ColorScale::Linear => "linear",
            ColorScale::Log => "log",
        }),
    );
    view.insert(
        "density".into(),
        Value::from(if state.model_density { "q" } else { "p" }),
    );
    view.insert(
        "colormap".into(),
        serde_json::to_value(state.look.colormap).unwrap_or(Value::Null),
    );
    view.insert("theme".into(), Value::from(state.look.theme.label()));
    view.insert("text".into(), Value::from(f64::from(state.look.text_scale)));
    form.insert("view".into(), Value::Object(view));
    for (i, s) in state.panels.iter().enumerate() {
        let mut panel = match serde_json::to_value(s) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        panel.remove("seed");
        panel.remove("target");
        let overlays = state.overlays.get(i).copied().unwrap_or_default();
        panel.insert("overlays".into(), Value::from(overlay_list(overlays)));
        form.insert(panel_letter(i).to_string(), Value::Object(panel));
    }
    Value::Object(form)
}

/// The overlays switched on, by id, comma-separated (`plan,witness`).
fn overlay_list(t: Toggles) -> String {
    Overlay::ALL
        .iter()
        .filter(|o| t.get(**o))
        .map(|o| o.id())
        .collect::<Vec<_>>()
        .join(",")
}

/// The dotted paths where `new` differs from `base`, each with its new value. A part whose set of fields
/// changed (a new kind with other parameters) is given whole; lists are given whole.
fn diff(base: &Value, new: &Value, path: &str, out: &mut Vec<(String, Value)>) {
    match (base, new) {
        (Value::Object(b), Value::Object(n))
            if b.len() == n.len() && n.keys().all(|k| b.contains_key(k)) =>
        {
            for (k, v) in n {
                let child = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                diff(&b[k], v, &child, out);
            }
        }
        _ if base == new => {}
        _ => out.push((path.to_owned(), new.clone())),
    }
}

/// A value as the link writes it: text as it is, everything else as compact JSON.
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Sets the dotted `path` of `form` to `raw`: text where the field is text, JSON elsewhere. An unknown key
/// is refused with the valid keys at that level.
fn set_path(form: &mut Value, path: &str, raw: &str) -> Result<(), String> {
    let mut at = form;
    let mut walked = String::new();
    for segment in path.split('.') {
        let Value::Object(map) = at else {
            return Err(format!(
                "`{path}`: `{walked}` is a value, not a part with fields"
            ));
        };
        if !map.contains_key(segment) {
            let keys: Vec<&str> = map.keys().map(String::as_str).collect();
            let place = if walked.is_empty() {
                "a link key".to_owned()
            } else {
                format!("a field of `{walked}`")
            };
            return Err(format!(
                "`{path}`: `{segment}` is not {place}{}; valid here: {}",
                nearest_hint(segment, &keys),
                keys.join(", ")
            ));
        }
        if !walked.is_empty() {
            walked.push('.');
        }
        walked.push_str(segment);
        at = map
            .get_mut(segment)
            .ok_or_else(|| format!("`{path}`: no `{segment}`"))?;
    }
    *at = match at {
        Value::String(_) => Value::String(raw.to_owned()),
        _ => serde_json::from_str(raw).map_err(|e| {
            format!(
                "{path} = `{}`: not a value this field can take ({e})",
                shorten(raw)
            )
        })?,
    };
    Ok(())
}

/// The state a form describes, every panel through the scenario parser and its parameter declarations.
fn state_of_form(form: &Value, preset: &str, layout: usize) -> Result<AppState, String> {
    let field = |path: &str| -> &Value { path.split('.').fold(form, |v, k| &v[k]) };
    let count = |key: &str, lo: usize| -> Result<usize, String> {
        let v = field(key);
        v.as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| (lo..=MAX_STEPS).contains(n))
            .ok_or_else(|| {
                format!("{key} = {v}: valid values are whole numbers from {lo} to {MAX_STEPS}")
            })
    };
    let step = count("step", 0)?;
    let until = count("until", 1)?;
    let text = |key: &str, valid: &[&str]| -> Result<String, String> {
        let v = field(key);
        v.as_str()
            .filter(|s| valid.contains(s))
            .map(str::to_owned)
            .ok_or_else(|| {
                format!(
                    "{key} = {v}: valid values are {}{}",
                    valid.join(", "),
                    v.as_str()
                        .map_or_else(String::new, |s| nearest_hint(s, valid))
                )
            })
    };
    let scale = match text("view.scale", &["linear", "log"])?.as_str() {
        "log" => ColorScale::Log,
        _ => ColorScale::Linear,
    };
    let model_density = text("view.density", &["p", "q"])? == "q";
    let colormap_ids: Vec<String> = Colormap::ALL
        .iter()
        .filter_map(|c| serde_json::to_value(c).ok())
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    let ids: Vec<&str> = colormap_ids.iter().map(String::as_str).collect();
    let colormap: Colormap = serde_json::from_value(Value::from(text("view.colormap", &ids)?))
        .map_err(|e| format!("view.colormap: {e}"))?;
    let theme = match text("view.theme", &["dark", "light"])?.as_str() {
        "light" => ThemeChoice::Light,
        _ => ThemeChoice::Dark,
    };
    let scales = super::looks::TEXT_SCALES;
    let text_scale = field("view.text")
        .as_f64()
        .map(|x| x as f32)
        .filter(|x| scales.contains(x))
        .ok_or_else(|| {
            format!(
                "view.text = {}: valid values are {}",
                field("view.text"),
                scales
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
    let mut panels = Vec::with_capacity(layout);
    let mut overlays = Vec::with_capacity(layout);
    for i in 0..layout {
        let letter = panel_letter(i);
        let Value::Object(mut panel) = field(&letter.to_string()).clone() else {
            return Err(format!("{letter}: a panel's fields are missing"));
        };
        let toggles = match panel.remove("overlays") {
            Some(Value::String(list)) => {
                read_overlays(&list).map_err(|e| format!("{letter}.{e}"))?
            }
            other => {
                return Err(format!(
                    "{letter}.overlays = {}: a list of overlays such as plan,witness",
                    other.unwrap_or(Value::Null)
                ));
            }
        };
        panel.insert("seed".into(), field("seed").clone());
        panel.insert("target".into(), field("target").clone());
        let json = Value::Object(panel).to_string();
        let scenario = Scenario::parse(&json).map_err(|e| {
            let at = e
                .field
                .as_deref()
                .map(|f| {
                    if f.starts_with("target") || f == "seed" {
                        format!(" {f}:")
                    } else {
                        format!(" {letter}.{f}:")
                    }
                })
                .unwrap_or_default();
            format!("panel {letter}:{at} {}", e.message)
        })?;
        panels.push(scenario);
        overlays.push(toggles);
    }
    Ok(AppState {
        preset: preset.to_owned(),
        panels,
        overlays,
        scale,
        model_density,
        look: Look {
            colormap,
            theme,
            text_scale,
        },
        step,
        until,
    })
}

fn read_overlays(list: &str) -> Result<Toggles, String> {
    let mut t = Toggles::default();
    for id in list.split(',').filter(|s| !s.is_empty()) {
        let o = Overlay::ALL.iter().find(|o| o.id() == id).ok_or_else(|| {
            let ids: Vec<&str> = Overlay::ALL.iter().map(|o| o.id()).collect();
            format!(
                "overlays: `{id}` is not an overlay{}; valid are {}",
                nearest_hint(id, &ids),
                ids.join(", ")
            )
        })?;
        t.set(*o, true);
    }
    Ok(t)
}

/// " (did you mean `x`?)" for the valid name nearest to `wrong`, when one is near.
fn nearest_hint(wrong: &str, valid: &[&str]) -> String {
    valid
        .iter()
        .map(|v| (strsim::jaro_winkler(wrong, v), v))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map_or_else(String::new, |(_, v)| format!(" (did you mean `{v}`?)"))
}

/// At most 60 characters of `s`, for messages about long values.
fn shorten(s: &str) -> String {
    if s.chars().count() <= 60 {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(60).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn presets() -> Vec<(String, Result<Scenario, String>)> {
        crate::assets::bundled_scenarios()
    }

    fn preset(name: &str) -> Scenario {
        presets()
            .into_iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, s)| s.ok())
            .unwrap()
    }

    fn round_trip(state: &AppState) -> AppState {
        let link = to_link(state, &Embed::default(), &presets());
        match from_link(&link, &presets()) {
            Ok((back, embed)) => {
                assert_eq!(embed, Embed::default());
                back
            }
            Err(e) => panic!("{link}: {e}"),
        }
    }

    #[test]
    fn a_preset_as_it_is_is_a_three_key_link() {
        let s = AppState::of_preset("mixture_mmd_flow", preset("mixture_mmd_flow"));
        assert_eq!(
            to_link(&s, &Embed::default(), &presets()),
            "v=1&preset=mixture_mmd_flow"
        );
        assert_eq!(round_trip(&s), s);
    }

    #[test]
    fn every_bundled_preset_round_trips_in_every_layout() {
        for (name, parsed) in presets() {
            let scenario = parsed.unwrap();
            for n in [1, 2, 4] {
                let mut s = AppState::of_preset(&name, scenario.clone());
                s.panels = vec![scenario.clone(); n];
                s.overlays = vec![Toggles::default(); n];
                assert_eq!(round_trip(&s), s, "{name} in {n} panels");
            }
        }
    }

    #[test]
    fn a_changed_divergence_is_one_readable_key() {
        let base = preset("two_modes_reverse_kl");
        let mut s = AppState::of_preset("two_modes_reverse_kl", base.clone());
        let forward = super::super::with_divergence(&base, crate::core::fdiv::FDivKind::ForwardKl);
        s.panels = vec![base, forward];
        s.overlays = vec![Toggles::default(); 2];
        s.step = 40;
        let link = to_link(&s, &Embed::default(), &presets());
        assert!(
            link.starts_with("v=1&preset=two_modes_reverse_kl&"),
            "{link}"
        );
        assert!(
            link.contains("B.method.objective.divergence.kind=forward_kl"),
            "{link}"
        );
        assert!(link.contains("layout=2"), "{link}");
        assert!(link.contains("step=40"), "{link}");
        assert!(!link.contains("A.method"), "{link}");
        assert!(link.len() < 200, "{} chars: {link}", link.len());
        assert_eq!(round_trip(&s), s);
    }

    #[test]
    fn view_and_overlays_round_trip() {
        let mut s = AppState::of_preset("mixture_mmd_flow", preset("mixture_mmd_flow"));
        s.scale = ColorScale::Log;
        s.model_density = true;
        s.look = Look {
            colormap: Colormap::Cividis,
            theme: ThemeChoice::Light,
            text_scale: super::super::looks::TEXT_SCALES[2],
        };
        s.overlays[0].set(Overlay::Witness, true);
        s.overlays[0].set(Overlay::Velocity, true);
        s.until = 777;
        let link = to_link(&s, &Embed::default(), &presets());
        assert!(link.contains("A.overlays=witness,velocity"), "{link}");
        assert!(link.contains("view.scale=log"), "{link}");
        assert_eq!(round_trip(&s), s);
    }

    #[test]
    fn embedding_keys_are_read_and_kept() {
        let (_, embed) = from_link(
            "#v=1&ui=min&show=lr,seed&autoplay=1&preset=mixture_mmd_flow",
            &presets(),
        )
        .unwrap();
        assert!(embed.minimal && embed.autoplay);
        assert!(embed.shows("seed") && !embed.shows("layout"));
        assert!(embed.shows_parameter("method.optimizer.lr"));
        assert!(!embed.shows_parameter("method.optimizer.beta1"));
        let s = AppState::of_preset("mixture_mmd_flow", preset("mixture_mmd_flow"));
        let link = to_link(&s, &embed, &presets());
        assert!(link.ends_with("ui=min&show=lr,seed&autoplay=1"), "{link}");
        let (_, hidden) = from_link("v=1&hide=optimizer,seed", &presets()).unwrap();
        assert!(!hidden.shows("seed") && hidden.shows("layout"));
        assert!(!hidden.shows_parameter("method.optimizer.lr"));
        assert!(hidden.shows_parameter("method.objective.resolution"));
    }

    #[test]
    fn bad_links_name_the_key_the_value_and_what_is_valid() {
        let cases = [
            ("v=2&preset=mixture_mmd_flow", "newer divlab"),
            ("preset=mixture_mmd_flow", "no version"),
            (
                "v=1&preset=mixture_mmd_flwo",
                "did you mean `mixture_mmd_flow`",
            ),
            ("v=1&layout=3", "layout = `3`: valid values are 1, 2 and 4"),
            (
                "v=1&A.method.flow.step_sise=0.1",
                "did you mean `step_size`",
            ),
            ("v=1&A.model.count=0", "count"),
            ("v=1&A.model.count=abc", "A.model.count = `abc`"),
            ("v=1&step=-4", "step = -4"),
            ("v=1&view.scale=logg", "did you mean `log`"),
            ("v=1&A.overlays=plna", "did you mean `plan`"),
            ("v=1&hide=sede", "did you mean `seed`"),
            ("v=1&ui=tiny", "ui = `tiny`"),
            ("v=1&view", "has no `=`"),
            ("v=1&step=3&step=4", "given twice"),
            ("v=1&B.model.count=10", "not a link key"),
            ("v=1&%FF=1", "not UTF-8"),
        ];
        for (link, expected) in cases {
            match from_link(link, &presets()) {
                Ok(_) => panic!("{link} was taken"),
                Err(e) => assert!(e.contains(expected), "{link}: {e}"),
            }
        }
    }

    #[test]
    fn a_value_out_of_its_declared_range_is_refused_with_the_range() {
        let e = from_link("v=1&A.method.flow.step_size=1e9", &presets()).unwrap_err();
        assert!(e.starts_with("panel A: A.method.flow.step_size:"), "{e}");
        assert!(e.contains("valid"), "{e}");
    }

    #[test]
    fn a_thousand_garbage_links_are_refused_or_read_never_a_panic() {
        use rand::RngCore as _;
        let mut rng = crate::core::rng::seeded(7);
        let alphabet: Vec<char> = "v=1&preset._ABtargetmodel%#?,[]{}\"0123456789-eE\u{e9}"
            .chars()
            .collect();
        let good = to_link(
            &AppState::of_preset("mixture_mmd_flow", preset("mixture_mmd_flow")),
            &Embed::default(),
            &presets(),
        );
        let mut refused = 0;
        for i in 0..1000 {
            let link: String = if i % 2 == 0 {
                let len = (rng.next_u64() % 80) as usize;
                (0..len)
                    .map(|_| alphabet[(rng.next_u64() as usize) % alphabet.len()])
                    .collect()
            } else {
                // A valid link, truncated or with one character changed.
                let mut chars: Vec<char> = format!("{good}&A.model.count=300").chars().collect();
                let at = (rng.next_u64() as usize) % chars.len();
                if i % 4 == 1 {
                    chars.truncate(at);
                } else {
                    chars[at] = alphabet[(rng.next_u64() as usize) % alphabet.len()];
                }
                chars.into_iter().collect()
            };
            if let Err(e) = from_link(&link, &presets()) {
                assert!(!e.is_empty());
                refused += 1;
            }
        }
        assert!(refused > 500, "only {refused} of 1000 refused");
    }

    /// A bundled preset with every declared number scaled by a factor in [0.5, 2] (kept where the scenario
    /// still validates), in 1, 2 or 4 panels with random overlays and view.
    fn random_state(pick: usize, factors: Vec<f64>, bits: u64) -> AppState {
        let all = presets();
        let (name, parsed) = &all[pick % all.len()];
        let base = parsed.clone().unwrap();
        let n = [1, 2, 4][(bits % 3) as usize];
        let mut panels = Vec::new();
        for p in 0..n {
            let mut s = base.clone();
            let json = serde_json::to_value(&s).unwrap();
            for (j, leaf) in super::super::params_ui::leaves(&json)
                .into_iter()
                .enumerate()
            {
                if let super::super::params_ui::Leaf::Number(path, x) = leaf {
                    let f = factors[(j + 3 * p) % factors.len()];
                    let is_int = x.fract() == 0.0 && x.abs() > 1.0;
                    let v = if is_int {
                        Value::from((x * f).round().max(1.0) as u64)
                    } else {
                        serde_json::Number::from_f64(x * f).map_or(Value::Null, Value::Number)
                    };
                    if path.starts_with("target") || path == "seed" {
                        continue;
                    }
                    if let Ok(edited) = super::super::params_ui::with_value(&s, &path, v) {
                        s = edited;
                    }
                }
            }
            panels.push(s);
        }
        let mut overlays = vec![Toggles::default(); n];
        for (p, t) in overlays.iter_mut().enumerate() {
            for (k, o) in Overlay::ALL.iter().enumerate() {
                t.set(*o, (bits >> (p * 8 + k)) & 1 == 1);
            }
        }
        AppState {
            preset: name.clone(),
            panels,
            overlays,
            scale: if bits & (1 << 40) != 0 {
                ColorScale::Log
            } else {
                ColorScale::Linear
            },
            model_density: bits & (1 << 41) != 0,
            look: Look {
                colormap: Colormap::ALL[((bits >> 42) % 5) as usize],
                theme: if bits & (1 << 45) != 0 {
                    ThemeChoice::Light
                } else {
                    ThemeChoice::Dark
                },
                text_scale: super::super::looks::TEXT_SCALES
                    [((bits >> 46) as usize) % super::super::looks::TEXT_SCALES.len()],
            },
            step: ((bits >> 50) % 5000) as usize,
            until: 1 + ((bits >> 20) % 9000) as usize,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn random_states_round_trip_exactly(
            pick in 0usize..64,
            factors in proptest::collection::vec(0.5f64..2.0, 1..8),
            bits in any::<u64>(),
        ) {
            let s = random_state(pick, factors, bits);
            prop_assert_eq!(round_trip(&s), s);
        }
    }
}
