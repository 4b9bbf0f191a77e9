//! Frames per second, measured over the last half second of wall-clock time, and simulation steps per
//! second per panel, over the last [`Rates::STEPS_SPAN_S`] seconds (a GPU flow on a software adapter may
//! take seconds a step: over half a second it would read 0 steps/s most of the time), for the status bar.

use std::collections::VecDeque;

use web_time::Instant;

/// Measures rates over windows of [`Rates::WINDOW_S`].
pub struct Rates {
    window_start: Instant,
    frames: u32,
    /// The panels' steps at the start of the layout's first window and at the ends of the windows since,
    /// oldest first, spanning a little over [`Self::STEPS_SPAN_S`] (the last mark is where the open window
    /// started).
    marks: VecDeque<(Instant, Vec<usize>)>,
    /// Frames per second over the last full window (None before the first one ends).
    pub fps: Option<f64>,
    /// Steps per second of each panel since the oldest mark.
    pub steps_per_s: Vec<f64>,
}

impl Default for Rates {
    fn default() -> Self {
        Self {
            window_start: Instant::now(),
            frames: 0,
            marks: VecDeque::new(),
            fps: None,
            steps_per_s: Vec::new(),
        }
    }
}

impl Rates {
    pub const WINDOW_S: f64 = 0.5;
    pub const IDLE_S: f64 = 5.0;
    /// The span the steps per second are averaged over.
    pub const STEPS_SPAN_S: f64 = 5.0;

    /// Counts a frame whose panels stand at `steps`; closes the window when it is long enough. A window
    /// longer than [`Self::IDLE_S`] (the app sat idle, repainting only on input) is dropped, not averaged.
    pub fn frame(&mut self, steps: &[usize]) {
        self.frames += 1;
        let idle = self.window_start.elapsed().as_secs_f64() > Self::IDLE_S;
        let same_layout = self
            .marks
            .back()
            .is_some_and(|(_, at)| at.len() == steps.len());
        if idle || !same_layout {
            // The layout changed or the app sat idle: start anew.
            self.window_start = Instant::now();
            self.frames = 0;
            self.steps_per_s.clear();
            self.marks.clear();
            self.marks.push_back((self.window_start, steps.to_vec()));
            return;
        }
        let dt = self.window_start.elapsed().as_secs_f64();
        if dt < Self::WINDOW_S {
            return;
        }
        let now = Instant::now();
        self.fps = Some(f64::from(self.frames) / dt);
        // Keep the newest mark at least STEPS_SPAN_S old as the oldest.
        while self.marks.len() > 1
            && now.duration_since(self.marks[1].0).as_secs_f64() >= Self::STEPS_SPAN_S
        {
            self.marks.pop_front();
        }
        if let Some((then, at)) = self.marks.front() {
            let span = now.duration_since(*then).as_secs_f64();
            if span > 0.0 {
                self.steps_per_s = steps
                    .iter()
                    .zip(at)
                    .map(|(s, a)| s.saturating_sub(*a) as f64 / span)
                    .collect();
            }
        }
        self.marks.push_back((now, steps.to_vec()));
        self.window_start = now;
        self.frames = 0;
    }

    /// "31 fps · 120 steps/s" or "31 fps · A 120, B 118 steps/s".
    pub fn describe(&self, letter: impl Fn(usize) -> char) -> String {
        let Some(fps) = self.fps else {
            return "measuring fps…".to_owned();
        };
        let steps = match self.steps_per_s.as_slice() {
            [] => String::new(),
            [one] => format!(" · {} steps/s", rate_label(*one)),
            many => {
                let each: Vec<String> = many
                    .iter()
                    .enumerate()
                    .map(|(i, r)| format!("{} {}", letter(i), rate_label(*r)))
                    .collect();
                format!(" · {} steps/s", each.join(", "))
            }
        };
        format!("{fps:.0} fps{steps}")
    }
}

/// A rate with two significant digits below 10 ("0.25", "3.5"), whole above ("120"): a slow run does not
/// read 0.
fn rate_label(r: f64) -> String {
    if r >= 9.95 || r == 0.0 {
        format!("{r:.0}")
    } else if r >= 0.995 {
        format!("{r:.1}")
    } else {
        format!("{r:.2}")
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
        r.marks[0].0 = earlier;
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

    /// A panel that takes a step every 4 s reads 0.25 steps/s (not 0, as a half-second window would say),
    /// and marks older than the span are dropped.
    #[test]
    fn slow_steps_are_averaged_over_seconds() {
        let ago = |s: u64| Instant::now().checked_sub(std::time::Duration::from_secs(s));
        let (Some(t12), Some(t8), Some(t4)) = (ago(12), ago(8), ago(4)) else {
            return; // a clock too close to its origin to go back 12 s: nothing to check
        };
        let mut r = Rates::default();
        r.frame(&[0]);
        r.marks.clear();
        r.marks
            .extend([(t12, vec![0]), (t8, vec![0]), (t4, vec![1])]);
        r.window_start = t4;
        r.frame(&[2]);
        // The 12-s mark is dropped (the 8-s one spans enough), the 8-s one kept (the 4-s one does not):
        // 2 steps in 8 s.
        assert_eq!(r.marks.len(), 3);
        assert!(
            (r.steps_per_s[0] - 0.25).abs() < 0.01,
            "{:?}",
            r.steps_per_s
        );
        let text = r.describe(|_| 'A');
        assert!(text.ends_with(" · 0.25 steps/s"), "{text}");
        assert_eq!(rate_label(0.0), "0");
        assert_eq!(rate_label(3.46), "3.5");
        assert_eq!(rate_label(120.4), "120");
    }
}
