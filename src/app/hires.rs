//! The canvas at 2× or 4× the screen's resolution, for the PNG export.
//!
//! egui cannot lay a frame out at another pixels-per-point without changing the layout in points (the
//! window's size in pixels is fixed), so the capture is not a second layout: a [`ShapeTap`] plugin copies
//! one frame's shapes as they leave egui, and on the next frame they are moved so that the canvas starts
//! at the origin, tessellated at k × pixels-per-point and drawn with eframe's own `egui_wgpu` renderer
//! (which holds every texture: the heatmaps, q's GPU texture, the font atlas) into an offscreen texture of
//! k × the canvas's size in pixels, then read back (asynchronously: on the web the read arrives on a later
//! frame). Everything the app draws as geometry (heatmaps, particles, contours, arrows, plot lines) is
//! drawn again at the higher resolution; text keeps the glyphs rasterized for the screen, magnified (egui
//! has one font atlas, rasterized at the screen's pixels-per-point), so it is sharp in position and size
//! but soft at 4×.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use eframe::egui_wgpu::{self, RenderState};
use eframe::wgpu;

use super::host::Mailbox;

/// Copies the shapes of the frame it is armed for.
pub(crate) struct ShapeTap {
    armed: Arc<AtomicBool>,
    taken: Mailbox<Vec<egui::epaint::ClippedShape>>,
}

impl egui::Plugin for ShapeTap {
    fn debug_name(&self) -> &'static str {
        "divlab canvas capture"
    }

    fn output_hook(&mut self, _ctx: &egui::Context, output: &mut egui::FullOutput) {
        if self.armed.swap(false, Ordering::Relaxed) {
            self.taken.post(output.shapes.clone());
        }
    }
}

/// A capture in progress: waiting for the shapes, then for the read-back.
#[derive(Debug)]
enum Stage {
    Shapes,
    Reading {
        buffer: wgpu::Buffer,
        mapped: Mailbox<Result<(), String>>,
        size: [u32; 2],
        padded_row: u32,
    },
}

/// The 2×/4× capture (module docs).
pub(crate) struct HiresCapture {
    render_state: Option<RenderState>,
    armed: Arc<AtomicBool>,
    taken: Mailbox<Vec<egui::epaint::ClippedShape>>,
    installed: bool,
    /// The canvas (points) and the scale of the capture in progress, and its stage.
    pending: Option<(egui::Rect, f32, Stage)>,
}

impl std::fmt::Debug for HiresCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HiresCapture")
            .field("has_renderer", &self.render_state.is_some())
            .field("pending", &self.pending.as_ref().map(|(r, k, _)| (r, k)))
            .finish()
    }
}

impl HiresCapture {
    pub fn new(render_state: Option<RenderState>) -> Self {
        Self {
            render_state,
            armed: Arc::default(),
            taken: Mailbox::default(),
            installed: false,
            pending: None,
        }
    }

    /// Whether a capture is under way.
    pub fn busy(&self) -> bool {
        self.pending.is_some()
    }

    /// Whether there is a renderer to draw with (eframe's wgpu one).
    pub fn available(&self) -> bool {
        self.render_state.is_some()
    }

    /// Starts a capture of `canvas` (points) at `scale` × the screen's resolution; the shapes of this
    /// frame are copied at its end.
    pub fn start(&mut self, ctx: &egui::Context, canvas: egui::Rect, scale: f32) {
        if !self.installed {
            ctx.add_plugin(ShapeTap {
                armed: Arc::clone(&self.armed),
                taken: self.taken.clone(),
            });
            self.installed = true;
        }
        self.armed.store(true, Ordering::Relaxed);
        self.pending = Some((canvas, scale, Stage::Shapes));
        ctx.request_repaint();
    }

    /// Advances the capture in progress; its scale and the image (RGBA) when it is done, or why it failed.
    pub fn poll(&mut self, ctx: &egui::Context) -> Option<(u32, Result<image::RgbaImage, String>)> {
        let scale = self.pending.as_ref()?.1;
        self.advance(ctx).map(|r| (scale.round() as u32, r))
    }

    fn advance(&mut self, ctx: &egui::Context) -> Option<Result<image::RgbaImage, String>> {
        let (canvas, scale, stage) = self.pending.take()?;
        let Some(rs) = self.render_state.clone() else {
            return Some(Err("the canvas is not drawn with wgpu here".into()));
        };
        match stage {
            Stage::Shapes => {
                let Some(shapes) = self.taken.take_all().pop() else {
                    self.pending = Some((canvas, scale, Stage::Shapes));
                    ctx.request_repaint();
                    return None;
                };
                match draw(ctx, &rs, shapes, canvas, scale) {
                    Ok(stage) => {
                        self.pending = Some((canvas, scale, stage));
                        ctx.request_repaint();
                        // Natively the read-back is done now; on the web it arrives on a later frame.
                        self.advance(ctx)
                    }
                    Err(e) => Some(Err(e)),
                }
            }
            Stage::Reading {
                buffer,
                mapped,
                size,
                padded_row,
            } => {
                // Drives the mapping on wgpu-core backends (WebGL2 in the browser); WebGPU ignores it.
                let _ = rs.device.poll(wgpu::PollType::Poll);
                match mapped.take_all().pop() {
                    None => {
                        self.pending = Some((
                            canvas,
                            scale,
                            Stage::Reading {
                                buffer,
                                mapped,
                                size,
                                padded_row,
                            },
                        ));
                        ctx.request_repaint();
                        None
                    }
                    Some(Err(e)) => Some(Err(e)),
                    Some(Ok(())) => Some(read(&buffer, size, padded_row, rs.target_format)),
                }
            }
        }
    }
}

/// Tells the tessellator that every text was laid out at `pixels_per_point` (its glyphs are magnified;
/// without this egui warns once per text).
fn relabel_text(shape: &mut egui::Shape, pixels_per_point: f32) {
    match shape {
        egui::Shape::Text(text) if text.galley.pixels_per_point != pixels_per_point => {
            let mut galley = (*text.galley).clone();
            galley.pixels_per_point = pixels_per_point;
            text.galley = Arc::new(galley);
        }
        egui::Shape::Vec(shapes) => {
            for s in shapes {
                relabel_text(s, pixels_per_point);
            }
        }
        _ => {}
    }
}

/// Draws `shapes` offscreen with the canvas at the origin, at `scale` × the screen's pixels-per-point, and
/// asks for the read-back.
fn draw(
    ctx: &egui::Context,
    rs: &RenderState,
    mut shapes: Vec<egui::epaint::ClippedShape>,
    canvas: egui::Rect,
    scale: f32,
) -> Result<Stage, String> {
    let ppp = ctx.pixels_per_point() * scale;
    let size_px = canvas.size() * ppp;
    let size = [size_px.x.round() as u32, size_px.y.round() as u32];
    let max = rs.device.limits().max_texture_dimension_2d;
    if size[0] == 0 || size[1] == 0 || size[0] > max || size[1] > max {
        return Err(format!(
            "{} x {} pixels is more than this GPU draws at once ({max} x {max}); try a smaller scale",
            size[0], size[1]
        ));
    }
    let offset = -canvas.min.to_vec2();
    for clipped in &mut shapes {
        clipped.clip_rect = clipped.clip_rect.translate(offset);
        clipped.shape.translate(offset);
        relabel_text(&mut clipped.shape, ppp);
    }
    let primitives = ctx.tessellate(shapes, ppp);
    let screen = egui_wgpu::ScreenDescriptor {
        size_in_pixels: size,
        pixels_per_point: ppp,
    };
    let texture = rs.device.create_texture(&wgpu::TextureDescriptor {
        label: Some("divlab canvas capture"),
        size: wgpu::Extent3d {
            width: size[0],
            height: size[1],
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: rs.target_format,
        usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
        view_formats: &[],
    });
    let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
    let mut encoder = rs
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("divlab canvas capture"),
        });
    let padded_row = (size[0] * 4).div_ceil(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT)
        * wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;
    let buffer = rs.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("divlab canvas capture read-back"),
        size: u64::from(padded_row) * u64::from(size[1]),
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    {
        // The app's own frame is drawn after this with the same renderer: its buffers are written again
        // then, and this submission comes first.
        let mut renderer = rs.renderer.write();
        let user_buffers =
            renderer.update_buffers(&rs.device, &rs.queue, &mut encoder, &primitives, &screen);
        {
            let mut pass = encoder
                .begin_render_pass(&wgpu::RenderPassDescriptor {
                    label: Some("divlab canvas capture"),
                    color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                        view: &view,
                        resolve_target: None,
                        ops: wgpu::Operations {
                            load: wgpu::LoadOp::Clear(wgpu::Color::BLACK),
                            store: wgpu::StoreOp::Store,
                        },
                        depth_slice: None,
                    })],
                    ..Default::default()
                })
                .forget_lifetime();
            renderer.render(&mut pass, &primitives, &screen);
        }
        encoder.copy_texture_to_buffer(
            texture.as_image_copy(),
            wgpu::TexelCopyBufferInfo {
                buffer: &buffer,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(padded_row),
                    rows_per_image: None,
                },
            },
            wgpu::Extent3d {
                width: size[0],
                height: size[1],
                depth_or_array_layers: 1,
            },
        );
        rs.queue.submit(
            user_buffers
                .into_iter()
                .chain(std::iter::once(encoder.finish())),
        );
    }
    let mapped = Mailbox::default();
    let done = mapped.clone();
    buffer.slice(..).map_async(wgpu::MapMode::Read, move |r| {
        done.post(r.map_err(|e| e.to_string()))
    });
    #[cfg(not(target_arch = "wasm32"))]
    rs.device
        .poll(wgpu::PollType::Wait {
            submission_index: None,
            timeout: Some(std::time::Duration::from_secs(10)),
        })
        .map_err(|e| e.to_string())?;
    Ok(Stage::Reading {
        buffer,
        mapped,
        size,
        padded_row,
    })
}

/// The mapped read-back as an RGBA image (BGRA formats swapped, rows unpadded).
fn read(
    buffer: &wgpu::Buffer,
    size: [u32; 2],
    padded_row: u32,
    format: wgpu::TextureFormat,
) -> Result<image::RgbaImage, String> {
    let bgra = matches!(
        format,
        wgpu::TextureFormat::Bgra8Unorm | wgpu::TextureFormat::Bgra8UnormSrgb
    );
    let row = size[0] as usize * 4;
    let data = buffer
        .slice(..)
        .get_mapped_range()
        .map_err(|e| e.to_string())?;
    let mut rgba = Vec::with_capacity(row * size[1] as usize);
    for padded in data.chunks_exact(padded_row as usize) {
        for px in padded[..row].chunks_exact(4) {
            let (r, b) = if bgra { (px[2], px[0]) } else { (px[0], px[2]) };
            // The canvas is opaque; an alpha below 255 would only be a panel's edge blended over nothing.
            rgba.extend_from_slice(&[r, px[1], b, 255]);
        }
    }
    drop(data);
    buffer.unmap();
    image::RgbaImage::from_raw(size[0], size[1], rgba).ok_or_else(|| "wrong size".to_owned())
}
