//! Progress on stderr for long work: bytes of blobs read, layers started, rate and ETA. Off
//! unless the CLI turns it on (stderr is a terminal, or `--progress`); the counters are plain
//! atomics bumped once per buffer, so keeping them costs nothing measurable.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

static BYTES: AtomicU64 = AtomicU64::new(0);
static TOTAL: AtomicU64 = AtomicU64::new(0);
static LAYERS: AtomicU64 = AtomicU64::new(0);
static VERBOSE: AtomicBool = AtomicBool::new(false);
static QUIET: AtomicBool = AtomicBool::new(false);
static WARNED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Declares how many blob bytes the command expects to read (for the ETA).
pub fn add_total(n: u64) {
    TOTAL.fetch_add(n, Ordering::Relaxed);
}

/// Counts a layer started.
pub fn layer_started() {
    LAYERS.fetch_add(1, Ordering::Relaxed);
}

pub fn set_verbose(v: bool) {
    VERBOSE.store(v, Ordering::Relaxed);
}

pub fn set_quiet(q: bool) {
    QUIET.store(q, Ordering::Relaxed);
}

/// A warning from deep in the work (a layer read leniently), printed on stderr once however
/// often the same layer is read, unless `-q`.
pub fn warn_once(msg: String) {
    let mut seen = WARNED.lock().unwrap_or_else(|e| e.into_inner());
    if seen.contains(&msg) {
        return;
    }
    if !QUIET.load(Ordering::Relaxed) {
        eprintln!("regraft: warning: {}", crate::text::sanitize(&msg));
    }
    seen.push(msg);
}

/// Prints a line on stderr when `-v` is on.
pub fn verbose(msg: impl FnOnce() -> String) {
    if VERBOSE.load(Ordering::Relaxed) {
        eprintln!("regraft: {}", crate::text::sanitize(&msg()));
    }
}

/// The process's reads and writes as the kernel counted them (`/proc/self/io`: `rchar`,
/// every byte any `read`/`pread` returned, cached or not; `wchar`), with the reads as a ratio
/// of the input layer blobs the command declared with `add_total` (those it needs): how many
/// times the input was read. None where `/proc` has no such file.
pub fn io_line() -> Option<String> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    let field = |k: &str| {
        io.lines()
            .find_map(|l| l.strip_prefix(k)?.trim().parse::<u64>().ok())
    };
    let (r, w) = (field("rchar:")?, field("wchar:")?);
    let total = TOTAL.load(Ordering::Relaxed);
    let mut s = format!(
        "I/O: read {} in all, wrote {}",
        human(r as f64),
        human(w as f64)
    );
    if total > 0 {
        s.push_str(&format!(
            "; the input layer blobs it needs are {}: read {:.2}x",
            human(total as f64),
            r as f64 / total as f64
        ));
    }
    Some(s)
}

/// Counts bytes read through it.
pub struct Counting<R> {
    pub inner: R,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        BYTES.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

fn human(n: f64) -> String {
    const U: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n;
    let mut i = 0;
    while v >= 1000.0 && i < U.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    format!("{v:.1} {}", U[i])
}

/// One line of progress.
pub fn line(bytes: u64, total: u64, layers: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(0.001);
    let rate = bytes as f64 / secs;
    let mut s = format!("layers {layers}  {}", human(bytes as f64));
    if total > 0 {
        s.push_str(&format!(" / {}", human(total as f64)));
    }
    // The rate always in MB/s, so that the unit does not jump about.
    s.push_str(&format!("  {:.1} MB/s", rate / 1e6));
    if total > bytes && rate > 0.0 {
        s.push_str(&format!(
            "  ETA {}s",
            ((total - bytes) as f64 / rate).ceil() as u64
        ));
    }
    s
}

static ACTIVE: Mutex<Option<Reporter>> = Mutex::new(None);

/// Starts the reporter (once).
pub fn start() {
    if let Ok(mut a) = ACTIVE.lock()
        && a.is_none()
    {
        *a = Some(Reporter::start());
    }
}

/// Stops the reporter and clears its line, before the command prints anything of its own.
pub fn stop() {
    let r = ACTIVE.lock().ok().and_then(|mut a| a.take());
    drop(r);
}

/// The reporter thread; stops (and clears its line) when dropped.
pub struct Reporter {
    stop: Arc<Mutex<bool>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Reporter {
    pub fn start() -> Reporter {
        let stop = Arc::new(Mutex::new(false));
        let s = stop.clone();
        let start = Instant::now();
        let handle = std::thread::Builder::new()
            .name("regraft-progress".into())
            .spawn(move || {
                // A line at once, then every 200 ms: even a short run shows one.
                loop {
                    let l = line(
                        BYTES.load(Ordering::Relaxed),
                        TOTAL.load(Ordering::Relaxed),
                        LAYERS.load(Ordering::Relaxed),
                        start.elapsed(),
                    );
                    let _ = write!(io::stderr().lock(), "\r\x1b[K{l}");
                    for _ in 0..10 {
                        if s.lock().map(|g| *g).unwrap_or(true) {
                            // Leave the terminal as it was: the command's own output follows.
                            let _ = write!(io::stderr().lock(), "\r\x1b[K");
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            })
            .ok();
        Reporter { stop, handle }
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        if let Ok(mut g) = self.stop.lock() {
            *g = true;
        }
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn progress_line() {
        let l = super::line(
            50_000_000,
            100_000_000,
            2,
            std::time::Duration::from_secs(1),
        );
        assert_eq!(l, "layers 2  50.0 MB / 100.0 MB  50.0 MB/s  ETA 1s");
    }
}
