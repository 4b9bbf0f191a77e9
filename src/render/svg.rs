//! The SVG writer: every primitive of a [`Figure`] as an SVG element (one `<circle>` per particle, one
//! `<ellipse>` per component and σ, `<polyline>`, `<rect>`, `<text>`), so a paper's figure stays sharp at
//! any zoom; rasters (the heatmap, the colour bar) are embedded as base64 PNG `<image>`s. Each mark's
//! `class` names what it is ([`super::Role::class`]).

use std::fmt::Write as _;

use super::text::SVG_FONT_FAMILY;
use super::{Anchor, Figure, Prim, Raster, Rgba};

/// The figure as an SVG document; `scale` multiplies its `width` and `height` (the `viewBox` stays in
/// figure units).
pub fn write(fig: &Figure, scale: f32) -> String {
    let mut s = String::new();
    let _ = writeln!(s, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" version="1.1" width="{}" height="{}" viewBox="0 0 {} {}">"#,
        num(fig.width as f32 * scale),
        num(fig.height as f32 * scale),
        fig.width,
        fig.height
    );
    let _ = writeln!(
        s,
        r#"<rect class="background" x="0" y="0" width="{}" height="{}" fill="{}"/>"#,
        fig.width,
        fig.height,
        fig.background.hex()
    );
    let mut clips = 0;
    for p in &fig.items {
        element(&mut s, p, &mut clips);
    }
    s.push_str("</svg>\n");
    s
}

/// A coordinate with at most two decimals and no trailing zeros (short and deterministic).
fn num(v: f32) -> String {
    let t = format!("{:.2}", v);
    let t = t.trim_end_matches('0').trim_end_matches('.');
    if t == "-0" { "0".into() } else { t.to_owned() }
}

fn paint_attr(name: &str, c: Rgba) -> String {
    if c.0[3] == 255 {
        format!(r#"{name}="{}""#, c.hex())
    } else {
        format!(r#"{name}="{}" {name}-opacity="{:.3}""#, c.hex(), c.alpha())
    }
}

/// Text with `&`, `<`, `>` and quotes escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn element(s: &mut String, prim: &Prim, clips: &mut usize) {
    match prim {
        Prim::Rect {
            rect,
            fill,
            stroke,
            role,
        } => {
            let fill = fill.map_or_else(|| r#"fill="none""#.to_owned(), |c| paint_attr("fill", c));
            let stroke = stroke.map_or_else(String::new, |(c, w)| {
                format!(r#" {} stroke-width="{}""#, paint_attr("stroke", c), num(w))
            });
            let _ = writeln!(
                s,
                r#"<rect class="{}" x="{}" y="{}" width="{}" height="{}" {fill}{stroke}/>"#,
                role.class(),
                num(rect.x),
                num(rect.y),
                num(rect.w),
                num(rect.h)
            );
        }
        Prim::Image {
            rect,
            raster,
            smooth,
            label,
        } => {
            let rendering = if *smooth {
                "optimizeQuality"
            } else {
                "pixelated"
            };
            let _ = writeln!(
                s,
                r#"<image x="{}" y="{}" width="{}" height="{}" preserveAspectRatio="none" image-rendering="{rendering}" xlink:href="data:image/png;base64,{}"><title>{}</title></image>"#,
                num(rect.x),
                num(rect.y),
                num(rect.w),
                num(rect.h),
                base64(&raster_png(raster)),
                escape(label)
            );
        }
        Prim::Circles {
            centers,
            radius,
            fill,
            role,
        } => {
            let _ = writeln!(
                s,
                r#"<g class="{}" {}>"#,
                role.class(),
                paint_attr("fill", *fill)
            );
            let r = num(*radius);
            for [x, y] in centers {
                let _ = writeln!(s, r#"<circle cx="{}" cy="{}" r="{r}"/>"#, num(*x), num(*y));
            }
            s.push_str("</g>\n");
        }
        Prim::Polyline {
            points,
            color,
            width,
            role,
        } => {
            let pts: Vec<String> = points
                .iter()
                .map(|[x, y]| format!("{},{}", num(*x), num(*y)))
                .collect();
            let _ = writeln!(
                s,
                r#"<polyline class="{}" points="{}" fill="none" {} stroke-width="{}" stroke-linecap="round" stroke-linejoin="round"/>"#,
                role.class(),
                pts.join(" "),
                paint_attr("stroke", *color),
                num(*width)
            );
        }
        Prim::Ellipse {
            center,
            radii,
            angle,
            color,
            width,
            role,
        } => {
            let (cx, cy) = (num(center[0]), num(center[1]));
            let _ = writeln!(
                s,
                r#"<ellipse class="{}" cx="{cx}" cy="{cy}" rx="{}" ry="{}" transform="rotate({} {cx} {cy})" fill="none" {} stroke-width="{}"/>"#,
                role.class(),
                num(radii[0]),
                num(radii[1]),
                num(angle.to_degrees()),
                paint_attr("stroke", *color),
                num(*width)
            );
        }
        Prim::Text {
            pos,
            text,
            size,
            color,
            anchor,
            vertical,
        } => {
            let anchor = match anchor {
                Anchor::Start => "start",
                Anchor::Middle => "middle",
                Anchor::End => "end",
            };
            let (x, y) = (num(pos[0]), num(pos[1]));
            let rotate = if *vertical {
                format!(r#" transform="rotate(-90 {x} {y})""#)
            } else {
                String::new()
            };
            let _ = writeln!(
                s,
                r#"<text x="{x}" y="{y}" font-family="{SVG_FONT_FAMILY}" font-size="{}" {} text-anchor="{anchor}"{rotate}>{}</text>"#,
                num(*size),
                paint_attr("fill", *color),
                escape(text)
            );
        }
        Prim::Clip { rect, items } => {
            *clips += 1;
            let id = format!("clip{clips}");
            let _ = writeln!(
                s,
                r#"<defs><clipPath id="{id}"><rect x="{}" y="{}" width="{}" height="{}"/></clipPath></defs>"#,
                num(rect.x),
                num(rect.y),
                num(rect.w),
                num(rect.h)
            );
            let _ = writeln!(s, r#"<g clip-path="url(#{id})">"#);
            for p in items {
                element(s, p, clips);
            }
            s.push_str("</g>\n");
        }
    }
}

/// A raster as PNG bytes (empty if it cannot be encoded: the `<image>` then shows nothing).
fn raster_png(raster: &Raster) -> Vec<u8> {
    let mut out = Vec::new();
    let ok = image::ImageEncoder::write_image(
        image::codecs::png::PngEncoder::new(&mut out),
        &raster.rgba,
        raster.width,
        raster.height,
        image::ExtendedColorType::Rgba8,
    );
    if ok.is_err() {
        out.clear();
    }
    out
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_examples() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), coded);
        }
    }

    #[test]
    fn text_is_escaped_and_numbers_are_short() {
        assert_eq!(
            escape(r#"KL(q‖p) < 1 & "x""#),
            "KL(q‖p) &lt; 1 &amp; &quot;x&quot;"
        );
        assert_eq!(num(1.0), "1");
        assert_eq!(num(1.256), "1.26");
        assert_eq!(num(-0.001), "0");
    }
}
