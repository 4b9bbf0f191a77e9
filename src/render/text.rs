//! Text for the PNG writer: egui's bundled fonts (Ubuntu-Light, with Hack for the characters it lacks),
//! read with `skrifa`, laid out on one line by advance widths (no kerning, no shaping: labels and numbers)
//! and outlined into a `tiny-skia` path. Unhinted, so a glyph is the same shape at every scale.

use skrifa::instance::{LocationRef, Size};
use skrifa::outline::{DrawSettings, OutlinePen};
use skrifa::{FontRef, GlyphId, MetadataProvider};

/// The font family an SVG names for the same text.
pub const SVG_FONT_FAMILY: &str = "Ubuntu, 'DejaVu Sans', Arial, sans-serif";

/// egui's bundled fonts, ready to lay out and outline text.
pub struct Fonts {
    faces: [FontRef<'static>; 2],
}

impl Fonts {
    pub fn new() -> Result<Self, String> {
        let open = |name: &str, bytes: &'static [u8]| {
            FontRef::new(bytes).map_err(|e| format!("bundled font {name}: {e}"))
        };
        Ok(Self {
            faces: [
                open("Ubuntu-Light", epaint_default_fonts::UBUNTU_LIGHT)?,
                open("Hack", epaint_default_fonts::HACK_REGULAR)?,
            ],
        })
    }

    /// The face and glyph for `ch` (the first face that has it; `None` if none does).
    fn glyph(&self, ch: char) -> Option<(&FontRef<'static>, GlyphId)> {
        self.faces
            .iter()
            .find_map(|f| f.charmap().map(ch).map(|g| (f, g)))
    }

    /// Each glyph of `text` at `size` pixels with its pen position from the start, and the total advance.
    fn layout(&self, text: &str, size: f32) -> (Vec<(&FontRef<'static>, GlyphId, f32)>, f32) {
        let mut x = 0.0;
        let mut glyphs = Vec::new();
        for ch in text.chars() {
            let (face, gid) = match self.glyph(ch).or_else(|| self.glyph('?')) {
                Some(v) => v,
                None => continue,
            };
            let advance = face
                .glyph_metrics(Size::new(size), LocationRef::default())
                .advance_width(gid)
                .unwrap_or(size * 0.5);
            glyphs.push((face, gid, x));
            x += advance;
        }
        (glyphs, x)
    }

    /// The width of `text` at `size` pixels.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        self.layout(text, size).1
    }

    /// The outline of `text` with its baseline starting at (`x`, `y`) (y down), into `path`.
    pub fn outline(
        &self,
        text: &str,
        size: f32,
        x: f32,
        y: f32,
        path: &mut tiny_skia::PathBuilder,
    ) {
        let (glyphs, _) = self.layout(text, size);
        for (face, gid, dx) in glyphs {
            let Some(glyph) = face.outline_glyphs().get(gid) else {
                continue;
            };
            let mut pen = Pen { path, x: x + dx, y };
            // A glyph that cannot be drawn is left out rather than failing the picture.
            let _ = glyph.draw(
                DrawSettings::unhinted(Size::new(size), LocationRef::default()),
                &mut pen,
            );
        }
    }
}

/// A rough width of `text` at `size` without the fonts (layout before they are loaded): 0.55 em a char.
pub fn approx_width(text: &str, size: f32) -> f32 {
    text.chars().count() as f32 * size * 0.55
}

/// Glyph outlines (y up, from the pen position) into a path on the page (y down).
struct Pen<'a> {
    path: &'a mut tiny_skia::PathBuilder,
    x: f32,
    y: f32,
}

impl OutlinePen for Pen<'_> {
    fn move_to(&mut self, x: f32, y: f32) {
        self.path.move_to(self.x + x, self.y - y);
    }

    fn line_to(&mut self, x: f32, y: f32) {
        self.path.line_to(self.x + x, self.y - y);
    }

    fn quad_to(&mut self, cx0: f32, cy0: f32, x: f32, y: f32) {
        self.path
            .quad_to(self.x + cx0, self.y - cy0, self.x + x, self.y - y);
    }

    fn curve_to(&mut self, cx0: f32, cy0: f32, cx1: f32, cy1: f32, x: f32, y: f32) {
        self.path.cubic_to(
            self.x + cx0,
            self.y - cy0,
            self.x + cx1,
            self.y - cy1,
            self.x + x,
            self.y - y,
        );
    }

    fn close(&mut self) {
        self.path.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_fonts_have_the_labels_characters() {
        let fonts = Fonts::new().unwrap();
        for ch in "x₁x₂ p(x) σ 0123456789.-e+ ‖ — ·".chars() {
            assert!(fonts.glyph(ch).is_some(), "no glyph for {ch:?}");
        }
        let w = fonts.width("step 100", 12.0);
        assert!(w > 30.0 && w < 80.0, "{w}");
        assert!(fonts.width("mm", 12.0) > fonts.width("m", 12.0));
    }
}
