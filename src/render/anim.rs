//! Animations of a fit: frames drawn by [`super::figure`] every `every` steps, encoded one at a time as an
//! animated GIF (`gif`, each frame quantized to its own 256-colour palette by NeuQuant) or an APNG (`png`,
//! lossless). Both encoders write into memory frame by frame, so a long animation never holds more than one
//! raw frame, and a caller can spread the work over many UI frames ([`Animation::next_frame`]).
//!
//! Pure like the rest of the render layer: no file I/O; the bytes go to whoever writes them.

use std::sync::{Arc, Mutex};

use super::overlays::Toggles;
use super::{Figure, Options, figure_with, png::rasterize};
use crate::run::{Progress, Run};

/// Most frames in one animation.
pub const MAX_FRAMES: usize = 1000;

/// The frame rates accepted, frames per second (GIF delays are whole centiseconds and browsers slow down
/// delays under 2 cs, hence at most 50).
pub const FPS_RANGE: std::ops::RangeInclusive<u32> = 1..=50;

/// An animation's file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnimFormat {
    /// Animated GIF: 256 colours per frame, plays everywhere.
    Gif,
    /// Animated PNG: lossless, plays in every current browser.
    Apng,
}

impl AnimFormat {
    /// The format named by a file's extension (`.gif`, or `.png`/`.apng` for APNG), or why none is.
    pub fn from_path(path: &str) -> Result<Self, String> {
        match super::extension_of(path).as_deref() {
            Some("gif") => Ok(Self::Gif),
            Some("png" | "apng") => Ok(Self::Apng),
            Some(other) => Err(format!(
                "{path}: unknown animation format .{other} (expected .gif, or .png for an APNG)"
            )),
            None => Err(format!(
                "{path}: no file extension to name the animation format (expected .gif or .png)"
            )),
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Gif => "gif",
            Self::Apng => "png",
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            Self::Gif => "image/gif",
            Self::Apng => "image/apng",
        }
    }
}

/// Checks an animation's frame count and rate before anything is computed.
pub fn check_frames(frames: usize, fps: u32) -> Result<(), String> {
    if !(1..=MAX_FRAMES).contains(&frames) {
        return Err(format!(
            "{frames} frames: expected 1 to {MAX_FRAMES} frames"
        ));
    }
    if !FPS_RANGE.contains(&fps) {
        return Err(format!(
            "{fps} frames per second: expected {} to {}",
            FPS_RANGE.start(),
            FPS_RANGE.end()
        ));
    }
    Ok(())
}

/// A `Write` into memory that the APNG writer owns while its creator keeps a handle to the bytes.
#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut v = self
            .0
            .lock()
            .map_err(|_| std::io::Error::other("the animation buffer's lock was poisoned"))?;
        v.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

enum Encoder {
    Gif(gif::Encoder<Vec<u8>>),
    Apng {
        writer: png::Writer<SharedBuf>,
        bytes: SharedBuf,
    },
}

/// Encodes frames of one size, in order, into an animation of a known frame count.
pub struct AnimWriter {
    encoder: Encoder,
    width: u32,
    height: u32,
    fps: u32,
    expected: usize,
    written: usize,
}

impl AnimWriter {
    /// A writer for `frames` frames of `width` × `height` pixels, played at `fps` and looped forever.
    pub fn new(
        format: AnimFormat,
        width: u32,
        height: u32,
        frames: usize,
        fps: u32,
    ) -> Result<Self, String> {
        check_frames(frames, fps)?;
        let encoder = match format {
            AnimFormat::Gif => {
                let (w, h) = (u16::try_from(width), u16::try_from(height));
                let (Ok(w), Ok(h)) = (w, h) else {
                    return Err(format!(
                        "{width}×{height} pixels: a GIF is at most 65535 a side"
                    ));
                };
                let mut e = gif::Encoder::new(Vec::new(), w, h, &[]).map_err(gif_error)?;
                e.set_repeat(gif::Repeat::Infinite).map_err(gif_error)?;
                Encoder::Gif(e)
            }
            AnimFormat::Apng => {
                let bytes = SharedBuf::default();
                let mut e = png::Encoder::new(bytes.clone(), width, height);
                e.set_color(png::ColorType::Rgba);
                e.set_depth(png::BitDepth::Eight);
                let n = u32::try_from(frames).map_err(|_| format!("{frames} frames: too many"))?;
                e.set_animated(n, 0).map_err(png_error)?;
                e.set_frame_delay(1, fps as u16).map_err(png_error)?;
                let writer = e.write_header().map_err(png_error)?;
                Encoder::Apng { writer, bytes }
            }
        };
        Ok(Self {
            encoder,
            width,
            height,
            fps,
            expected: frames,
            written: 0,
        })
    }

    /// Adds the next frame: straight RGBA, top row first, `width × height × 4` bytes.
    pub fn push(&mut self, rgba: &mut [u8]) -> Result<(), String> {
        let len = self.width as usize * self.height as usize * 4;
        if rgba.len() != len {
            return Err(format!(
                "a frame of {} bytes where {}×{} RGBA needs {len}",
                rgba.len(),
                self.width,
                self.height
            ));
        }
        if self.written == self.expected {
            return Err(format!(
                "the animation already has its {} frames",
                self.expected
            ));
        }
        match &mut self.encoder {
            Encoder::Gif(e) => {
                // Speed 10 is NeuQuant's default balance of quality and time.
                let mut frame =
                    gif::Frame::from_rgba_speed(self.width as u16, self.height as u16, rgba, 10);
                frame.delay = (100 / self.fps).max(1) as u16;
                e.write_frame(&frame).map_err(gif_error)?;
            }
            Encoder::Apng { writer, .. } => writer.write_image_data(rgba).map_err(png_error)?,
        }
        self.written += 1;
        Ok(())
    }

    /// The file's bytes, once every frame was pushed.
    pub fn finish(self) -> Result<Vec<u8>, String> {
        if self.written != self.expected {
            return Err(format!(
                "the animation has {} of its {} frames",
                self.written, self.expected
            ));
        }
        match self.encoder {
            Encoder::Gif(e) => e.into_inner().map_err(gif_error),
            Encoder::Apng { writer, bytes } => {
                writer.finish().map_err(png_error)?;
                let out = bytes
                    .0
                    .lock()
                    .map_err(|_| "the animation buffer's lock was poisoned".to_string())?;
                Ok(out.clone())
            }
        }
    }
}

fn gif_error(e: gif::EncodingError) -> String {
    format!("cannot encode the GIF: {e}")
}

fn png_error(e: png::EncodingError) -> String {
    format!("cannot encode the APNG: {e}")
}

/// A figure's pixels at `scale` as straight RGBA.
pub fn frame_rgba(fig: &Figure, scale: f32) -> Result<Vec<u8>, String> {
    Ok(rasterize(fig, scale)?.take_demultiplied())
}

/// What [`Animation::next_frame`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameDone {
    /// Frames encoded so far.
    pub done: usize,
    pub total: usize,
    /// The step the frame shows (of the first panel).
    pub step: usize,
}

/// An animation being made: runs stepped `every` steps between frames, each frame drawn and encoded as it
/// comes. The first frame shows the runs as given; a run that stops keeps its last state in the frames
/// that follow (its title says where it stopped).
pub struct Animation {
    runs: Vec<Run>,
    /// Each panel's overlays (none for a panel without an entry).
    overlays: Vec<Toggles>,
    opts: Options,
    scale: f32,
    every: usize,
    writer: AnimWriter,
    done: usize,
    /// Why each run that stopped did, in the order they stopped.
    stops: Vec<String>,
    /// Each run's step for the next frame.
    goals: Vec<usize>,
    stopped: Vec<bool>,
}

impl Animation {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        runs: Vec<Run>,
        overlays: Vec<Toggles>,
        opts: Options,
        scale: f32,
        format: AnimFormat,
        frames: usize,
        every: usize,
        fps: u32,
    ) -> Result<Self, String> {
        if every == 0 {
            return Err("every 0 steps: expected at least 1 step between frames".into());
        }
        let (w, h) = super::check_size(opts.width, opts.height, scale)?;
        let writer = AnimWriter::new(format, w, h, frames, fps)?;
        let goals = runs.iter().map(Run::steps_taken).collect();
        let stopped = vec![false; runs.len()];
        let animation = Self {
            goals,
            stopped,
            runs,
            overlays,
            opts,
            scale,
            every,
            writer,
            done: 0,
            stops: Vec::new(),
        };
        // Fail on an impossible layout before any step is taken.
        animation.figure()?;
        Ok(animation)
    }

    /// The runs as they are now, drawn.
    fn figure(&self) -> Result<Figure, String> {
        let panels: Vec<(&Run, Toggles)> = self
            .runs
            .iter()
            .enumerate()
            .map(|(i, r)| (r, self.overlays.get(i).copied().unwrap_or_default()))
            .collect();
        figure_with(&panels, &self.opts)
    }

    pub fn total(&self) -> usize {
        self.writer.expected
    }

    pub fn done(&self) -> usize {
        self.done
    }

    /// Why runs stopped during the animation (empty if none did).
    pub fn stops(&self) -> &[String] {
        &self.stops
    }

    /// Works towards the next frame for at most about `budget_s` seconds of steps: steps the runs (none
    /// before the first frame, `every` after each), then draws and encodes the frame. `None` while steps
    /// remain (or a GPU step is pending); never blocks.
    pub fn advance(&mut self, budget_s: f64) -> Result<Option<FrameDone>, String> {
        if self.done == self.total() {
            return Err("the animation is complete".into());
        }
        let started = web_time::Instant::now();
        for (i, run) in self.runs.iter_mut().enumerate() {
            let goal = self.goals[i];
            loop {
                match run.try_step(goal) {
                    Progress::Stepped => {
                        if started.elapsed().as_secs_f64() > budget_s {
                            return Ok(None);
                        }
                    }
                    Progress::Pending => return Ok(None),
                    Progress::AtGoal => break,
                    Progress::Stopped => {
                        if !self.stopped[i] {
                            self.stopped[i] = true;
                            let why = run
                                .stopped()
                                .map_or_else(|| "stopped".to_owned(), |s| format!("the run {s}"));
                            self.stops.push(format!("{}: {why}", run.scenario().name));
                        }
                        break;
                    }
                }
            }
        }
        let fig = self.figure()?;
        let mut rgba = frame_rgba(&fig, self.scale)?;
        self.writer.push(&mut rgba)?;
        self.done += 1;
        for g in &mut self.goals {
            *g = g.saturating_add(self.every);
        }
        Ok(Some(FrameDone {
            done: self.done,
            total: self.total(),
            step: self.runs.first().map_or(0, Run::steps_taken),
        }))
    }

    /// Steps to the next frame, waiting for GPU steps, then draws and encodes it (headless callers).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn next_frame(&mut self) -> Result<FrameDone, String> {
        loop {
            if let Some(f) = self.advance(f64::INFINITY)? {
                return Ok(f);
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
    }

    /// The file's bytes, once every frame is done.
    pub fn finish(self) -> Result<Vec<u8>, String> {
        self.writer.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_counts_are_checked() {
        assert_eq!(AnimFormat::from_path("a.GIF"), Ok(AnimFormat::Gif));
        assert_eq!(AnimFormat::from_path("a.png"), Ok(AnimFormat::Apng));
        assert_eq!(AnimFormat::from_path("a.apng"), Ok(AnimFormat::Apng));
        assert!(AnimFormat::from_path("a.mp4").is_err());
        assert!(AnimFormat::from_path("a").is_err());
        assert!(check_frames(0, 10).is_err());
        assert!(check_frames(MAX_FRAMES + 1, 10).is_err());
        assert!(check_frames(10, 0).is_err());
        assert!(check_frames(10, 51).is_err());
        assert!(check_frames(1, 50).is_ok());
    }

    #[test]
    fn a_writer_wants_exactly_its_frames_of_its_size() {
        for format in [AnimFormat::Gif, AnimFormat::Apng] {
            let mut w = AnimWriter::new(format, 4, 3, 2, 10).unwrap();
            assert!(w.push(&mut [0; 4 * 3 * 3]).is_err(), "a short frame");
            w.push(&mut [255; 4 * 3 * 4]).unwrap();
            let mut partial = AnimWriter::new(format, 4, 3, 2, 10).unwrap();
            partial.push(&mut [255; 4 * 3 * 4]).unwrap();
            assert!(partial.finish().is_err(), "one of two frames");
            w.push(&mut [0; 4 * 3 * 4]).unwrap();
            assert!(w.push(&mut [0; 4 * 3 * 4]).is_err(), "a third frame");
            let bytes = w.finish().unwrap();
            match format {
                AnimFormat::Gif => assert_eq!(&bytes[..6], b"GIF89a"),
                AnimFormat::Apng => assert_eq!(&bytes[1..4], b"PNG"),
            }
        }
    }
}
