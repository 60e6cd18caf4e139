//! The fuzz loop: run the seeds, then mutate corpus entries for a time budget, catching every
//! panic (`catch_unwind`), timing every input, and keeping inputs that show new behaviour.
//!
//! There is no coverage instrumentation on stable Rust, so "new behaviour" is what the target
//! reports as [`Features`]: how far an input got, the class of the error it met (its message
//! with names and numbers blanked), the shape of what it produced (numbers of targets, ops,
//! steps, packages, bucketed). An input with a feature never seen before joins the corpus, in
//! memory and, with a state directory, on disk for the next run.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::bundle::Bundle;
use crate::mutate::{Dictionary, Mutator};

/// One fuzz target: an entry point of the frontend, its seeds and how to mutate its inputs.
pub trait Target: Sync {
    fn name(&self) -> &'static str;
    /// What it runs, for `--list`.
    fn about(&self) -> &'static str;
    /// The member a plain (non-bundle) corpus file is.
    fn primary(&self) -> &'static str;
    /// Built-in seeds (examples, test specs, generated inputs).
    fn seeds(&self, rng: &mut fastrand::Rng) -> Vec<Bundle>;
    /// Words the token mutations insert, beyond those found in the seeds.
    fn words(&self) -> &'static [&'static str] {
        &[]
    }
    /// Largest input (all members together) the mutators produce.
    fn max_len(&self) -> usize {
        64 << 10
    }
    /// One structure-aware mutation of `input`.
    fn mutate(&self, input: &mut Bundle, m: &mut Mutator);
    /// Runs the input through the entry points; panics are the findings.
    fn run(&self, input: &Bundle, features: &mut Features);
}

/// What an input did, as hashes; new ones make an input interesting.
#[derive(Debug, Default)]
pub struct Features {
    hashes: Vec<u64>,
    /// What each hash was, with `CACHET_FUZZ_SHOW_FEATURES` set (to tune the features).
    shown: Vec<String>,
}

fn show_features() -> bool {
    static SHOW: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SHOW.get_or_init(|| std::env::var_os("CACHET_FUZZ_SHOW_FEATURES").is_some())
}

impl Features {
    pub fn add(&mut self, what: impl Hash + std::fmt::Debug) {
        let mut h = DefaultHasher::new();
        what.hash(&mut h);
        self.hashes.push(h.finish());
        if show_features() {
            self.shown.push(format!("{what:?}"));
        }
    }

    /// An error, by class (see [`error_class`]), so `unknown field \`x\`` and
    /// `unknown field \`y\`` are one feature.
    pub fn error(&mut self, stage: &str, message: &str) {
        self.add((stage, error_class(message)));
    }
}

/// What kind of error a message reports, without what the input put into it: the text before
/// the first quote and after the last (where format strings keep their fixed words), with
/// parenthesised lists, numbers, and words naming targets or paths blanked.
pub fn error_class(message: &str) -> String {
    let is_quote = |c: char| matches!(c, '`' | '"' | '\'');
    let (head, tail) = match (message.find(is_quote), message.rfind(is_quote)) {
        (Some(first), Some(last)) => (&message[..first], &message[last + 1..]),
        _ => (message, ""),
    };
    let clean = |part: &str| -> String {
        let mut flat = String::new();
        let mut depth = 0usize;
        for c in part.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                _ if depth > 0 => {}
                _ => flat.push(c),
            }
        }
        let words: Vec<String> = flat
            .split_whitespace()
            .filter(|w| !w.contains(['+', '/', '→']))
            .map(|w| {
                let mut out = String::new();
                for c in w.chars() {
                    if !c.is_ascii_digit() {
                        out.push(c);
                    } else if !out.ends_with('0') {
                        out.push('0');
                    }
                }
                out
            })
            .collect();
        words.join(" ").chars().take(48).collect()
    };
    format!("{}…{}", clean(head), clean(tail))
}

/// `n` in powers of two: 0, 1, 2, 3-4, 5-8, …
pub fn bucket(n: usize) -> u32 {
    usize::BITS - n.leading_zeros()
}

/// A panic caught while running one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanicRecord {
    pub message: String,
    /// `file:line:column` of the panic: panics are told apart by it.
    pub location: String,
    /// Captured for the first panic at each location of a run.
    pub backtrace: Option<String>,
}

thread_local! {
    static CATCHING: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<PanicRecord>> = const { RefCell::new(None) };
    static BACKTRACED: RefCell<HashSet<String>> = RefCell::new(HashSet::new());
}

/// Installs (once) a panic hook that, on a thread running an input, records the panic instead
/// of printing it; other threads keep the previous hook.
fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !CATCHING.with(Cell::get) {
                return previous(info);
            }
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "<non-string panic payload>".to_string());
            let location = info
                .location()
                .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                .unwrap_or_default();
            let backtrace = BACKTRACED
                .with(|seen| seen.borrow_mut().insert(location.clone()))
                .then(|| std::backtrace::Backtrace::force_capture().to_string());
            LAST_PANIC.with(|last| {
                *last.borrow_mut() = Some(PanicRecord {
                    message,
                    location,
                    backtrace,
                })
            });
        }));
    });
}

/// Runs `f`, turning a panic into its record.
pub fn catch(f: impl FnOnce()) -> Result<(), PanicRecord> {
    install_hook();
    CATCHING.with(|c| c.set(true));
    LAST_PANIC.with(|l| l.borrow_mut().take());
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(false));
    result.map_err(|_| {
        LAST_PANIC
            .with(|l| l.borrow_mut().take())
            .unwrap_or(PanicRecord {
                message: "<panic not seen by the hook>".into(),
                location: String::new(),
                backtrace: None,
            })
    })
}

/// How one target is fuzzed.
#[derive(Debug, Clone)]
pub struct Config {
    pub budget: Duration,
    /// Stop after this many executions (tests).
    pub max_execs: Option<u64>,
    /// Where the corpus, reproducers and slow inputs are kept (`<state>/<target>/…`); `None`
    /// keeps everything in memory.
    pub state_dir: Option<PathBuf>,
    pub seed: u64,
    /// An input taking longer than this (twice) is recorded as slow.
    pub slow: Duration,
    /// An input taking longer than this is a hang: it is saved and the process exits.
    pub hang: Duration,
    pub max_corpus: usize,
    /// Most files kept in the on-disk corpus of a target.
    pub max_stored: usize,
    /// Print a progress line every this often.
    pub progress: Option<Duration>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            budget: Duration::from_secs(10),
            max_execs: None,
            state_dir: None,
            seed: 0,
            slow: Duration::from_millis(100),
            hang: Duration::from_secs(10),
            max_corpus: 4096,
            max_stored: 8192,
            progress: None,
        }
    }
}

/// All inputs that panicked at one location.
#[derive(Debug, Clone)]
pub struct PanicSite {
    pub record: PanicRecord,
    pub count: u64,
    /// The first input that panicked there (smallest found by minimising, when done).
    pub input: Vec<u8>,
    /// Where it was saved.
    pub saved: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct SlowInput {
    pub millis: f64,
    pub input: Vec<u8>,
    pub saved: Option<PathBuf>,
}

/// The outcome of fuzzing one target.
#[derive(Debug, Clone)]
pub struct Report {
    pub target: &'static str,
    pub execs: u64,
    pub elapsed: Duration,
    pub panics: u64,
    pub sites: Vec<PanicSite>,
    pub slow: Vec<SlowInput>,
    pub seeds: usize,
    pub corpus: usize,
    pub new_entries: usize,
    pub features: usize,
}

impl Report {
    pub fn execs_per_sec(&self) -> f64 {
        self.execs as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The input being run right now and since when, for the hang watchdog.
struct Current {
    input: Mutex<Option<Arc<Bundle>>>,
    /// Nanoseconds since `epoch` when the current input started; 0 when idle.
    started: AtomicU64,
    epoch: Instant,
    done: AtomicBool,
}

fn short_hash(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..8])
}

fn save(dir: &Path, name: &str, bytes: &[u8]) -> Option<PathBuf> {
    std::fs::create_dir_all(dir).ok()?;
    let path = dir.join(name);
    std::fs::write(&path, bytes).ok()?;
    Some(path)
}

struct Entry {
    input: Arc<Bundle>,
}

/// Fuzzes `target` as `config` says and reports what happened.
pub fn fuzz(target: &dyn Target, config: &Config) -> Report {
    install_hook();
    BACKTRACED.with(|b| b.borrow_mut().clear());
    let started = Instant::now();
    let mut rng = fastrand::Rng::with_seed(config.seed);
    let primary = target.primary();
    let dir = config.state_dir.as_ref().map(|d| d.join(target.name()));

    let seeds = target.seeds(&mut rng);
    let mut stored: Vec<Bundle> = Vec::new();
    if let Some(corpus) = dir.as_ref().map(|d| d.join("corpus")) {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&corpus)
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        paths.sort();
        rng.shuffle(&mut paths);
        for path in paths.into_iter().take(config.max_corpus) {
            if let Ok(bytes) = std::fs::read(&path) {
                stored.push(Bundle::parse(&bytes, primary));
            }
        }
    }
    let dict = Dictionary::build(
        seeds
            .iter()
            .flat_map(|b| b.members.values().map(Vec::as_slice)),
        target.words(),
    );

    let current = Arc::new(Current {
        input: Mutex::new(None),
        started: AtomicU64::new(0),
        epoch: Instant::now(),
        done: AtomicBool::new(false),
    });
    let watchdog = {
        let current = Arc::clone(&current);
        let hang = config.hang;
        let hang_dir = dir.as_ref().map(|d| d.join("hangs"));
        let name = target.name();
        std::thread::spawn(move || {
            while !current.done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                let since = current.started.load(Ordering::Relaxed);
                if since == 0 {
                    continue;
                }
                let now = current.epoch.elapsed().as_nanos() as u64;
                if now.saturating_sub(since) > hang.as_nanos() as u64 {
                    let input = current.input.lock().ok().and_then(|i| i.clone());
                    let bytes = input.map(|b| b.to_bytes(primary)).unwrap_or_default();
                    let saved = hang_dir
                        .as_ref()
                        .and_then(|d| save(d, &format!("{}.bin", short_hash(&bytes)), &bytes));
                    eprintln!(
                        "[fuzz] HANG: target {name}: an input ran over {:?}; saved to {}",
                        hang,
                        saved
                            .map(|p| p.display().to_string())
                            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned())
                    );
                    std::process::exit(3);
                }
            }
        })
    };

    let mut report = Report {
        target: target.name(),
        execs: 0,
        elapsed: Duration::ZERO,
        panics: 0,
        sites: Vec::new(),
        slow: Vec::new(),
        seeds: seeds.len(),
        corpus: 0,
        new_entries: 0,
        features: 0,
    };
    let mut seen: HashSet<u64> = HashSet::new();
    // Files already in the on-disk corpus: it stops growing at `max_stored`.
    let mut on_disk = dir
        .as_ref()
        .and_then(|d| std::fs::read_dir(d.join("corpus")).ok())
        .map_or(0, |rd| rd.count());
    let mut sites: BTreeMap<String, usize> = BTreeMap::new();
    let mut corpus: Vec<Entry> = Vec::new();
    let mut last_progress = Instant::now();

    // One execution: returns whether the input showed something new.
    let mut exec = |input: Arc<Bundle>, report: &mut Report, seen: &mut HashSet<u64>| -> bool {
        let mut features = Features::default();
        *current.input.lock().unwrap() = Some(Arc::clone(&input));
        current.started.store(
            current.epoch.elapsed().as_nanos() as u64 | 1,
            Ordering::Relaxed,
        );
        let t0 = Instant::now();
        let outcome = catch(|| target.run(&input, &mut features));
        let took = t0.elapsed();
        current.started.store(0, Ordering::Relaxed);
        report.execs += 1;
        if let Err(record) = outcome {
            report.panics += 1;
            let key = record.location.clone();
            match sites.get(&key) {
                Some(&i) => report.sites[i].count += 1,
                None => {
                    let bytes = input.to_bytes(primary);
                    sites.insert(key, report.sites.len());
                    report.sites.push(PanicSite {
                        record,
                        count: 1,
                        input: bytes,
                        saved: None,
                    });
                }
            }
            return false;
        }
        if took > config.slow {
            // Once more, so a scheduling hiccup on a busy machine is not a finding.
            let t1 = Instant::now();
            let _ = catch(|| target.run(&input, &mut Features::default()));
            let again = t1.elapsed();
            if again > config.slow {
                let bytes = input.to_bytes(primary);
                let saved = dir.as_ref().and_then(|d| {
                    save(
                        &d.join("slow"),
                        &format!("{}.bin", short_hash(&bytes)),
                        &bytes,
                    )
                });
                report.slow.push(SlowInput {
                    millis: took.min(again).as_secs_f64() * 1e3,
                    input: bytes,
                    saved,
                });
            }
        }
        let mut new = false;
        for (i, h) in features.hashes.into_iter().enumerate() {
            if seen.insert(h) {
                new = true;
                if let Some(shown) = features.shown.get(i) {
                    eprintln!("[fuzz] new feature: {shown}");
                }
            }
        }
        new
    };

    // The seeds and the stored corpus, once each.
    for (i, input) in seeds.into_iter().chain(stored).enumerate() {
        let is_seed = i < report.seeds;
        if !is_seed && started.elapsed() > config.budget {
            break;
        }
        let input = Arc::new(input);
        let before = report.panics;
        exec(Arc::clone(&input), &mut report, &mut seen);
        if report.panics == before {
            corpus.push(Entry { input });
        }
    }
    if corpus.is_empty() {
        corpus.push(Entry {
            input: Arc::new(Bundle::single(primary, Vec::new())),
        });
    }

    let mut recent: Vec<usize> = Vec::new();
    let mut mutator = Mutator {
        rng: fastrand::Rng::with_seed(config.seed ^ 0x9e37_79b9_7f4a_7c15),
        dict: &dict,
        donors: Vec::new(),
        max_len: target.max_len(),
    };
    loop {
        if started.elapsed() >= config.budget
            || config.max_execs.is_some_and(|max| report.execs >= max)
        {
            break;
        }
        let parent = if !recent.is_empty() && rng.bool() {
            recent[rng.usize(..recent.len())]
        } else {
            rng.usize(..corpus.len())
        };
        let donor = rng.usize(..corpus.len());
        mutator.donors.clear();
        mutator
            .donors
            .extend(corpus[donor].input.members.values().cloned());
        let mut child = (*corpus[parent].input).clone();
        target.mutate(&mut child, &mut mutator);
        while mutator.chance(0.3) {
            target.mutate(&mut child, &mut mutator);
        }
        let child = Arc::new(child);
        if exec(Arc::clone(&child), &mut report, &mut seen) {
            report.new_entries += 1;
            if let Some(d) = dir.as_ref().filter(|_| on_disk < config.max_stored) {
                let bytes = child.to_bytes(primary);
                save(
                    &d.join("corpus"),
                    &format!("{}.bin", short_hash(&bytes)),
                    &bytes,
                );
                on_disk += 1;
            }
            let slot = if corpus.len() < config.max_corpus {
                corpus.push(Entry { input: child });
                corpus.len() - 1
            } else {
                let slot = rng.usize(..corpus.len());
                corpus[slot] = Entry { input: child };
                slot
            };
            recent.push(slot);
            if recent.len() > 64 {
                recent.remove(0);
            }
        }
        if let Some(every) = config.progress {
            if last_progress.elapsed() >= every {
                last_progress = Instant::now();
                eprintln!(
                    "[fuzz] {}: {} execs ({:.0}/s), corpus {}, panics {}, slow {}",
                    target.name(),
                    report.execs,
                    report.execs as f64 / started.elapsed().as_secs_f64(),
                    corpus.len(),
                    report.panics,
                    report.slow.len()
                );
            }
        }
    }
    report.elapsed = started.elapsed();
    current.done.store(true, Ordering::Relaxed);
    let _ = watchdog.join();

    // Smaller reproducers, then saved.
    for site in report.sites.iter_mut().take(8) {
        site.input = minimize(target, &site.input, &site.record.location);
        if let Some(d) = &dir {
            let name = format!("{}.bin", short_hash(site.record.location.as_bytes()));
            site.saved = save(&d.join("panics"), &name, &site.input);
            let mut text = format!("{}\n{}\n", site.record.location, site.record.message);
            if let Some(bt) = &site.record.backtrace {
                text.push_str(bt);
            }
            save(
                &d.join("panics"),
                &name.replace(".bin", ".txt"),
                text.as_bytes(),
            );
        }
    }
    report.slow.sort_by(|a, b| b.millis.total_cmp(&a.millis));
    report.corpus = corpus.len();
    report.features = seen.len();
    report
}

/// A smaller input that panics at the same `location`: members dropped, then ever smaller
/// runs of bytes cut from each member while the panic stays. Bounded to a few thousand runs.
pub fn minimize(target: &dyn Target, input: &[u8], location: &str) -> Vec<u8> {
    let primary = target.primary();
    let mut best = Bundle::parse(input, primary);
    let mut budget = 4000u32;
    let still_panics = |b: &Bundle, budget: &mut u32| -> bool {
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        matches!(catch(|| target.run(b, &mut Features::default())), Err(r) if r.location == location)
    };
    let names: Vec<String> = best.members.keys().cloned().collect();
    for name in &names {
        let mut candidate = best.clone();
        candidate.members.remove(name);
        if still_panics(&candidate, &mut budget) {
            best = candidate;
        }
    }
    let names: Vec<String> = best.members.keys().cloned().collect();
    for name in names {
        let mut chunk = best.members[&name].len().max(1);
        while chunk >= 1 && budget > 0 {
            let mut i = 0;
            while i < best.members[&name].len() && budget > 0 {
                let data = &best.members[&name];
                let end = (i + chunk).min(data.len());
                let mut cut = data.clone();
                cut.drain(i..end);
                let mut candidate = best.clone();
                candidate.set(&name, cut);
                if still_panics(&candidate, &mut budget) {
                    best = candidate;
                } else {
                    i += chunk;
                }
            }
            if chunk == 1 {
                break;
            }
            chunk /= 2;
        }
    }
    best.to_bytes(primary)
}

/// The summary table of a run.
pub fn table(reports: &[Report]) -> String {
    let mut rows = vec![[
        "target".to_string(),
        "executions".to_string(),
        "execs/s".to_string(),
        "panics".to_string(),
        "slow (>100 ms)".to_string(),
        "corpus (+new)".to_string(),
        "seconds".to_string(),
    ]];
    for r in reports {
        rows.push([
            r.target.to_string(),
            r.execs.to_string(),
            format!("{:.0}", r.execs_per_sec()),
            if r.panics == 0 {
                "0".to_string()
            } else {
                format!("{} ({} sites)", r.panics, r.sites.len())
            },
            match r.slow.first() {
                None => "0".to_string(),
                Some(s) => format!("{} (max {:.0} ms)", r.slow.len(), s.millis),
            },
            format!("{} (+{})", r.corpus, r.new_entries),
            format!("{:.1}", r.elapsed.as_secs_f64()),
        ]);
    }
    let widths: Vec<usize> = (0..7)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                if c == 0 {
                    format!("{cell:<w$}", w = widths[c])
                } else {
                    format!("{cell:>w$}", w = widths[c])
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
        if i == 0 {
            out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1)));
            out.push('\n');
        }
    }
    out
}
