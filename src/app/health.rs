//! Frames per second and simulation steps per second per panel, measured over the last half second of
//! wall-clock time, for the status bar.

use web_time::Instant;

/// Measures rates over windows of [`Rates::WINDOW_S`].
pub struct Rates {
    window_start: Instant,
    frames: u32,
    steps_at_start: Vec<usize>,
    /// Frames per second over the last full window (None before the first one ends).
    pub fps: Option<f64>,
    /// Steps per second of each panel over the last full window.
    pub steps_per_s: Vec<f64>,
}

impl Default for Rates {
    fn default() -> Self {
        Self {
            window_start: Instant::now(),
            frames: 0,
            steps_at_start: Vec::new(),
            fps: None,
            steps_per_s: Vec::new(),
        }
    }
}

impl Rates {
    pub const WINDOW_S: f64 = 0.5;
    pub const IDLE_S: f64 = 5.0;

    /// Counts a frame whose panels stand at `steps`; closes the window when it is long enough. A window
    /// longer than [`Self::IDLE_S`] (the app sat idle, repainting only on input) is dropped, not averaged.
    pub fn frame(&mut self, steps: &[usize]) {
        self.frames += 1;
        if self.window_start.elapsed().as_secs_f64() > Self::IDLE_S {
            self.steps_at_start.clear();
        }
        if self.steps_at_start.len() != steps.len() {
            // The layout changed: start a new window.
            self.steps_at_start = steps.to_vec();
            self.window_start = Instant::now();
            self.frames = 0;
            self.steps_per_s.clear();
            return;
        }
        let dt = self.window_start.elapsed().as_secs_f64();
        if dt < Self::WINDOW_S {
            return;
        }
        self.fps = Some(f64::from(self.frames) / dt);
        self.steps_per_s = steps
            .iter()
            .zip(&self.steps_at_start)
            .map(|(now, then)| now.saturating_sub(*then) as f64 / dt)
            .collect();
        self.steps_at_start = steps.to_vec();
        self.window_start = Instant::now();
        self.frames = 0;
    }

    /// "31 fps · 120 steps/s" or "31 fps · A 120, B 118 steps/s".
    pub fn describe(&self, letter: impl Fn(usize) -> char) -> String {
        let Some(fps) = self.fps else {
            return "measuring fps…".to_owned();
        };
        let steps = match self.steps_per_s.as_slice() {
            [] => String::new(),
            [one] => format!(" · {one:.0} steps/s"),
            many => {
                let each: Vec<String> = many
                    .iter()
                    .enumerate()
                    .map(|(i, r)| format!("{} {r:.0}", letter(i)))
                    .collect();
                format!(" · {} steps/s", each.join(", "))
            }
        };
        format!("{fps:.0} fps{steps}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_count_frames_and_steps_over_the_window() {
        let mut r = Rates::default();
        r.frame(&[0, 0]);
        assert_eq!(r.describe(|i| char::from(b'A' + i as u8)), "measuring fps…");
        let Some(earlier) = Instant::now().checked_sub(std::time::Duration::from_secs(2)) else {
            return; // a clock too close to its origin to go back 2 s: nothing to check
        };
        for _ in 0..9 {
            r.frame(&[0, 0]);
        }
        assert!(r.fps.is_none(), "the window is still open");
        r.window_start = earlier;
        r.frame(&[100, 60]);
        let fps = r.fps.expect("a window closed");
        assert!((4.0..=5.0).contains(&fps), "10 frames in ~2 s: {fps}");
        assert!((r.steps_per_s[0] - 50.0).abs() < 2.0 && (r.steps_per_s[1] - 30.0).abs() < 2.0);
        let text = r.describe(|i| char::from(b'A' + i as u8));
        assert!(
            text.starts_with(&format!("{fps:.0} fps · A 50, B 30")),
            "{text}"
        );
    }
}
