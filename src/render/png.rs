//! The PNG writer: a [`Figure`] rasterized on the CPU with `tiny-skia` (anti-aliased paths, bilinear
//! images, glyph outlines from [`super::text`]) and encoded with the `image` crate as 8-bit RGB. No GPU and
//! no window: the same figure and scale give the same bytes.

use tiny_skia::{
    FillRule, FilterQuality, LineCap, LineJoin, Mask, Paint, PathBuilder, Pattern, Pixmap,
    SpreadMode, Stroke, Transform,
};

use super::text::Fonts;
use super::{Anchor, Figure, Prim, Raster, Rect, Rgba};

/// The figure's pixels at `scale` (straight RGBA, top row first): width × height × 4 bytes.
pub fn rasterize(fig: &Figure, scale: f32) -> Result<Pixmap, String> {
    let (w, h) = super::check_size(fig.width, fig.height, scale)?;
    let mut pixmap =
        Pixmap::new(w, h).ok_or_else(|| format!("cannot allocate a {w}×{h} picture"))?;
    let [r, g, b, a] = fig.background.0;
    pixmap.fill(tiny_skia::Color::from_rgba8(r, g, b, a));
    let fonts = Fonts::new()?;
    let base = Transform::from_scale(scale, scale);
    for p in &fig.items {
        draw(&mut pixmap, p, base, None, &fonts);
    }
    Ok(pixmap)
}

/// The figure as PNG bytes at `scale`.
pub fn encode(fig: &Figure, scale: f32) -> Result<Vec<u8>, String> {
    let pixmap = rasterize(fig, scale)?;
    let (w, h) = (pixmap.width(), pixmap.height());
    let rgba = pixmap.take_demultiplied();
    let rgb: Vec<u8> = rgba
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    let mut out = Vec::new();
    image::ImageEncoder::write_image(
        image::codecs::png::PngEncoder::new(&mut out),
        &rgb,
        w,
        h,
        image::ExtendedColorType::Rgb8,
    )
    .map_err(|e| format!("PNG encoding: {e}"))?;
    Ok(out)
}

fn paint(c: Rgba) -> Paint<'static> {
    let mut p = Paint::default();
    let [r, g, b, a] = c.0;
    p.set_color_rgba8(r, g, b, a);
    p.anti_alias = true;
    p
}

fn stroke(width: f32) -> Stroke {
    Stroke {
        width,
        line_cap: LineCap::Round,
        line_join: LineJoin::Round,
        ..Stroke::default()
    }
}

fn skia_rect(r: &Rect) -> Option<tiny_skia::Rect> {
    tiny_skia::Rect::from_xywh(r.x, r.y, r.w, r.h)
}

fn raster_pixmap(raster: &Raster) -> Option<Pixmap> {
    let mut pm = Pixmap::new(raster.width, raster.height)?;
    for (dst, src) in pm.pixels_mut().iter_mut().zip(raster.rgba.chunks_exact(4)) {
        *dst = tiny_skia::ColorU8::from_rgba(src[0], src[1], src[2], src[3]).premultiply();
    }
    Some(pm)
}

fn draw(pm: &mut Pixmap, prim: &Prim, ts: Transform, mask: Option<&Mask>, fonts: &Fonts) {
    match prim {
        Prim::Rect {
            rect,
            fill,
            stroke: st,
            ..
        } => {
            let Some(r) = skia_rect(rect) else { return };
            let path = PathBuilder::from_rect(r);
            if let Some(c) = fill {
                pm.fill_path(&path, &paint(*c), FillRule::Winding, ts, mask);
            }
            if let Some((c, w)) = st {
                pm.stroke_path(&path, &paint(*c), &stroke(*w), ts, mask);
            }
        }
        Prim::Image {
            rect,
            raster,
            smooth,
            ..
        } => {
            let (Some(r), Some(img)) = (skia_rect(rect), raster_pixmap(raster)) else {
                return;
            };
            let quality = if *smooth {
                FilterQuality::Bilinear
            } else {
                FilterQuality::Nearest
            };
            let local = Transform::from_row(
                rect.w / raster.width as f32,
                0.0,
                0.0,
                rect.h / raster.height as f32,
                rect.x,
                rect.y,
            );
            let p = Paint {
                shader: Pattern::new(img.as_ref(), SpreadMode::Pad, quality, 1.0, local),
                anti_alias: true,
                ..Paint::default()
            };
            pm.fill_rect(r, &p, ts, mask);
        }
        Prim::Circles {
            centers,
            radius,
            fill,
            ..
        } => {
            let mut pb = PathBuilder::new();
            for [x, y] in centers {
                pb.push_circle(*x, *y, *radius);
            }
            if let Some(path) = pb.finish() {
                pm.fill_path(&path, &paint(*fill), FillRule::Winding, ts, mask);
            }
        }
        Prim::Polyline {
            points,
            color,
            width,
            ..
        } => {
            let mut pb = PathBuilder::new();
            for (i, [x, y]) in points.iter().enumerate() {
                if i == 0 {
                    pb.move_to(*x, *y);
                } else {
                    pb.line_to(*x, *y);
                }
            }
            if let Some(path) = pb.finish() {
                pm.stroke_path(&path, &paint(*color), &stroke(*width), ts, mask);
            }
        }
        Prim::Ellipse {
            center,
            radii,
            angle,
            color,
            width,
            ..
        } => {
            let Some(oval) =
                tiny_skia::Rect::from_xywh(-radii[0], -radii[1], 2.0 * radii[0], 2.0 * radii[1])
            else {
                return;
            };
            let Some(path) = PathBuilder::from_oval(oval) else {
                return;
            };
            let at = ts
                .pre_translate(center[0], center[1])
                .pre_rotate(angle.to_degrees());
            pm.stroke_path(&path, &paint(*color), &stroke(*width), at, mask);
        }
        Prim::Text {
            pos,
            text,
            size,
            color,
            anchor,
            vertical,
        } => {
            let w = fonts.width(text, *size);
            let dx = match anchor {
                Anchor::Start => 0.0,
                Anchor::Middle => -0.5 * w,
                Anchor::End => -w,
            };
            let mut pb = PathBuilder::new();
            fonts.outline(text, *size, dx, 0.0, &mut pb);
            let Some(path) = pb.finish() else { return };
            let mut at = ts.pre_translate(pos[0], pos[1]);
            if *vertical {
                at = at.pre_rotate(-90.0);
            }
            pm.fill_path(&path, &paint(*color), FillRule::Winding, at, mask);
        }
        Prim::Clip { rect, items } => {
            let Some(r) = skia_rect(rect) else { return };
            let Some(mut clip) = Mask::new(pm.width(), pm.height()) else {
                return;
            };
            clip.fill_path(&PathBuilder::from_rect(r), FillRule::Winding, true, ts);
            // Nested clips keep only the innermost (the scenes have one level).
            for p in items {
                draw(pm, p, ts, Some(&clip), fonts);
            }
        }
    }
}
