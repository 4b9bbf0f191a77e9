//! Work off the frame thread: a [`Worker`] runs a closure on its own thread (natively) and hands back what
//! it emits, one item at a time, to whoever polls it on a later frame. The closure owns its inputs (a
//! snapshot of the run's data), so the run goes on stepping meanwhile.
//!
//! WebAssembly in the browser has no threads here ([`THREADED`] is false): the closure then runs at once,
//! inside [`Worker::spawn`], and its items are ready on the first poll. Callers that care about the frame
//! time make the work itself smaller there (and say so).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, TryRecvError, channel};

/// Whether [`Worker::spawn`] runs its work on another thread (false on wasm32, where it runs inline).
pub const THREADED: bool = cfg!(not(target_arch = "wasm32"));

/// Called on the worker's thread after each emitted item (e.g. to ask the UI for a repaint).
pub type Notify = Arc<dyn Fn() + Send + Sync>;

/// Items of a background computation, in the order emitted.
pub struct Worker<T> {
    /// Items not yet handed out.
    ready: VecDeque<T>,
    /// The thread's channel while it may still send.
    rx: Option<Receiver<T>>,
}

impl<T> std::fmt::Debug for Worker<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("ready", &self.ready.len())
            .field("running", &self.rx.is_some())
            .finish()
    }
}

impl<T: Send + 'static> Worker<T> {
    /// Starts `work`, which emits its items through the function it is given; `notify` is called after
    /// each item. On another thread where [`THREADED`] (inline, should the thread fail to start), else inline.
    pub fn spawn<F>(name: &str, work: F, notify: Option<Notify>) -> Self
    where
        F: FnOnce(&mut dyn FnMut(T)) + Send + 'static,
    {
        // The work sits in a slot so that it can still run inline if the thread cannot be started.
        let slot = Arc::new(std::sync::Mutex::new(Some(work)));
        if THREADED {
            let (tx, rx) = channel();
            let theirs = Arc::clone(&slot);
            let notify_theirs = notify.clone();
            let started = std::thread::Builder::new()
                .name(format!("divlab-{name}"))
                .spawn(move || {
                    let work = theirs.lock().ok().and_then(|mut w| w.take());
                    if let Some(work) = work {
                        work(&mut |item| {
                            // A dropped receiver means nobody waits: the rest is thrown away.
                            let _ = tx.send(item);
                            if let Some(n) = &notify_theirs {
                                n();
                            }
                        });
                    }
                });
            if started.is_ok() {
                return Self {
                    ready: VecDeque::new(),
                    rx: Some(rx),
                };
            }
        }
        let mut ready = VecDeque::new();
        if let Some(work) = slot.lock().ok().and_then(|mut w| w.take()) {
            work(&mut |item| ready.push_back(item));
        }
        Self { ready, rx: None }
    }

    /// A worker with one result: `work`'s return value.
    pub fn once<F>(name: &str, work: F, notify: Option<Notify>) -> Self
    where
        F: FnOnce() -> T + Send + 'static,
    {
        Self::spawn(name, move |emit| emit(work()), notify)
    }
}

impl<T> Worker<T> {
    /// The next item if one is ready; never blocks.
    pub fn try_next(&mut self) -> Option<T> {
        if let Some(item) = self.ready.pop_front() {
            return Some(item);
        }
        let rx = self.rx.as_ref()?;
        match rx.try_recv() {
            Ok(item) => Some(item),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => {
                self.rx = None;
                None
            }
        }
    }

    /// The next item, waiting for it; `None` once the work has finished and every item was handed out.
    pub fn wait_next(&mut self) -> Option<T> {
        if let Some(item) = self.ready.pop_front() {
            return Some(item);
        }
        let rx = self.rx.as_ref()?;
        match rx.recv() {
            Ok(item) => Some(item),
            Err(_) => {
                self.rx = None;
                None
            }
        }
    }

    /// Whether the work may still emit (its thread has not finished, or items wait to be handed out).
    pub fn is_running(&self) -> bool {
        !self.ready.is_empty() || self.rx.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn items_come_back_in_order_and_the_worker_ends() {
        let notified = Arc::new(AtomicUsize::new(0));
        let n = Arc::clone(&notified);
        let mut w = Worker::spawn(
            "test",
            |emit| {
                for i in 0..5 {
                    emit(i);
                }
            },
            Some(Arc::new(move || {
                n.fetch_add(1, Ordering::SeqCst);
            })),
        );
        let mut got = Vec::new();
        while let Some(i) = w.wait_next() {
            got.push(i);
        }
        assert_eq!(got, [0, 1, 2, 3, 4]);
        assert!(!w.is_running());
        assert_eq!(w.try_next(), None);
        assert_eq!(notified.load(Ordering::SeqCst), 5);
    }

    #[test]
    fn a_slow_job_does_not_block_the_caller() {
        let (go_tx, go_rx) = channel::<()>();
        let mut w = Worker::once(
            "test",
            move || {
                let _ = go_rx.recv();
                42
            },
            None,
        );
        // The work waits for us: nothing is ready yet, and spawning returned.
        assert_eq!(w.try_next(), None);
        assert!(w.is_running());
        go_tx.send(()).unwrap();
        assert_eq!(w.wait_next(), Some(42));
        assert_eq!(w.wait_next(), None);
    }
}
