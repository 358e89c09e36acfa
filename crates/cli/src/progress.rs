//! Layer download progress: bars on a terminal, one summary line otherwise.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use sightline_image::{NoProgress, Progress};

/// Bars per layer on stderr when it is a terminal.
pub struct LayerBars {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
    style: ProgressStyle,
}

impl Progress for LayerBars {
    fn layer_started(&self, digest: &str, size: u64) {
        let bar = self.multi.add(ProgressBar::new(size));
        bar.set_style(self.style.clone());
        bar.set_prefix(short(digest));
        self.bars.lock().unwrap().insert(digest.to_string(), bar);
    }
    fn layer_bytes(&self, digest: &str, n: u64) {
        if let Some(b) = self.bars.lock().unwrap().get(digest) {
            b.inc(n);
        }
    }
    fn layer_finished(&self, digest: &str) {
        if let Some(b) = self.bars.lock().unwrap().remove(digest) {
            b.finish_and_clear();
        }
    }
}

/// Counts bytes for the summary line when there is no terminal.
#[derive(Default)]
pub struct ByteCounter {
    bytes: AtomicU64,
    layers: AtomicU64,
}

impl Progress for ByteCounter {
    fn layer_bytes(&self, _digest: &str, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
    }
    fn layer_finished(&self, _digest: &str) {
        self.layers.fetch_add(1, Ordering::Relaxed);
    }
}

/// The progress sink for this run, plus what is needed to print a summary.
pub struct LayerProgress {
    sink: Arc<dyn Progress>,
    counter: Option<Arc<ByteCounter>>,
    started: Instant,
}

impl LayerProgress {
    /// Bars when stderr is a terminal and not `quiet`; a byte counter otherwise.
    pub fn new(quiet: bool) -> Self {
        let started = Instant::now();
        if quiet {
            return LayerProgress {
                sink: Arc::new(NoProgress),
                counter: None,
                started,
            };
        }
        if std::io::stderr().is_terminal() {
            let style = ProgressStyle::with_template(
                "{prefix:>14} [{bar:30}] {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12} {eta}",
            )
            .expect("valid template")
            .progress_chars("=> ");
            let bars = LayerBars {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                bars: Mutex::new(HashMap::new()),
                style,
            };
            return LayerProgress {
                sink: Arc::new(bars),
                counter: None,
                started,
            };
        }
        let c = Arc::new(ByteCounter::default());
        LayerProgress {
            sink: c.clone(),
            counter: Some(c),
            started,
        }
    }

    /// The sink to hand to the image fetcher.
    pub fn sink(&self) -> Arc<dyn Progress> {
        self.sink.clone()
    }

    /// Logs one summary line (non-terminal runs only).
    pub fn summarize(&self) {
        if let Some(c) = &self.counter {
            let bytes = c.bytes.load(Ordering::Relaxed);
            tracing::info!(
                "read {} layer(s), {:.1} MiB, in {:.1}s",
                c.layers.load(Ordering::Relaxed),
                bytes as f64 / (1024.0 * 1024.0),
                self.started.elapsed().as_secs_f64()
            );
        }
    }
}

fn short(digest: &str) -> String {
    let hex = digest.split_once(':').map(|(_, h)| h).unwrap_or(digest);
    hex.chars().take(12).collect()
}
