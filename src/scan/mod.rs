//! The scanning pipeline: sources → (decompress) → line-aligned chunks →
//! format parser → normalized event → classification → partial aggregate.
//!
//! Parallelism is rayon fold/reduce: over files, over byte ranges of large
//! plain files, and over blocks of a stream decompressed on its own thread.
//! Partials merge commutatively and skip examples carry (chunk, line)
//! positions, so the result is identical for any thread count. The retry
//! stage alone needs a file's chunks in order: [`ordered`] settles each
//! chunk as soon as those before it are done, with no barrier.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::sync::mpsc;

use indicatif::ProgressBar;
use rayon::prelude::*;
use serde::Serialize;

use crate::aggregate::{Aggregate, ByAgg, ByField, Cube, HotKey};
use crate::classify::{Classifier, TokenState};
use crate::event::{FIELDS, FieldMap};
use crate::format::not_access::{self, NotAccessLog};
use crate::format::{self, Custom, FormatKind, LineParser, SkipReason};
use crate::input::chunk::{self, Blocks};
use crate::input::{Compression, Source};
use crate::retry::RetryConfig;
use crate::time::Micros;

pub mod inspect;
mod merge;
mod ordered;
mod seek;

use merge::Merger;

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// How to scan. Built and validated by the caller (the CLI).
#[derive(Clone)]
pub struct ScanOptions {
    /// Force a format instead of detecting it per file.
    pub format: Option<FormatKind>,
    /// The formats defined in the config.
    pub custom: Custom,
    pub fields: FieldMap,
    pub classifier: Classifier,
    pub bucket_us: i64,
    pub since: Option<Micros>,
    pub until: Option<Micros>,
    pub by: Vec<ByField>,
    /// Lines longer than this (bytes) are skipped as `too_long`.
    pub max_line: usize,
    pub chunk_size: usize,
    pub progress: bool,
    /// Retry chains, resends and loops.
    pub retry: RetryConfig,
    /// Keep every request as a [`Row`] for a [`RowSink`] (`authstorm export`).
    pub rows: bool,
    /// Read large files through memory maps (see [`chunk::map_range`]).
    pub mmap: bool,
    pub privacy: crate::privacy::Privacy,
    /// Parts of files to read instead of the whole (an incremental run
    /// reads what was appended since the last one), by path.
    pub windows: std::collections::HashMap<std::path::PathBuf, Window>,
}

/// The part of one input to read: its decompressed bytes from `start` (a
/// line boundary) to `end` (after a line's end; `None`: to the end of the
/// input). A stateful format (W3C) still sees the directives before
/// `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: u64,
    pub end: Option<u64>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            format: None,
            custom: Custom::default(),
            fields: FieldMap::default(),
            classifier: Classifier::default(),
            bucket_us: 60_000_000,
            since: None,
            until: None,
            by: Vec::new(),
            max_line: DEFAULT_MAX_LINE,
            chunk_size: 8 << 20,
            progress: false,
            retry: RetryConfig::default(),
            rows: false,
            mmap: true,
            privacy: Default::default(),
            windows: Default::default(),
        }
    }
}

/// Lines longer than 64 KiB are not access-log lines worth parsing.
pub const DEFAULT_MAX_LINE: usize = 64 * 1024;
const EXAMPLES_PER_FILE: usize = 5;
const EXAMPLE_CHARS: usize = 160;
const SAMPLE_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SkipExample {
    pub line: u64,
    pub reason: SkipReason,
    pub text: String,
}

/// What happened to one input.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FileReport {
    pub path: String,
    pub format: Option<FormatKind>,
    pub compression: Compression,
    pub lines: u64,
    pub parsed: u64,
    /// Parsed but outside `--since`/`--until`.
    pub filtered: u64,
    /// Bytes outside `--since`/`--until` that were never read: the file is
    /// time-ordered, so the scan seeked past them (their lines are not in
    /// `lines`).
    #[serde(skip_serializing_if = "is_zero")]
    pub unread_bytes: u64,
    pub skipped: u64,
    pub skipped_by_reason: BTreeMap<SkipReason, u64>,
    pub skip_examples: Vec<SkipExample>,
    /// Normalized fields found on at least one line.
    pub fields: Vec<&'static str>,
    /// A problem that stopped reading (unreadable, truncated stream...).
    pub error: Option<String>,
    /// What the file is when it is not an access log (an error log, a
    /// text document, a checksum list): skipped unread, not a problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_access_log: Option<NotAccessLog>,
    /// Decompressed bytes of the input read through, from its start: where
    /// a later incremental run goes on.
    #[serde(skip)]
    pub read_to: u64,
    /// The time of its latest request read.
    #[serde(skip)]
    pub last_ts: Option<Micros>,
}

pub struct ScanResult {
    pub files: Vec<FileReport>,
    pub cube: Cube,
    pub by: Option<ByAgg>,
}

/// One worker's partial over some chunks of one file: what its file report
/// needs, and the batch its requests go to the retry stage in.
struct Partial {
    lines: u64,
    parsed: u64,
    filtered: u64,
    skips: BTreeMap<SkipReason, u64>,
    /// (chunk seq, line within chunk, reason, text), smallest positions kept.
    examples: Vec<(u64, u64, SkipReason, String)>,
    chunk_lines: Vec<(u64, u64)>,
    fields_mask: u32,
    batch: Batch,
}

/// One chunk's requests on their way to the retry stage ([`merge`]), and
/// the aggregate they are counted in (the stage's labels go to the same
/// aggregate, whose ids the events use).
pub(crate) struct Batch {
    agg: Aggregate,
    /// In line order.
    events: Vec<StageEvent>,
    /// With `ScanOptions::rows`: every request, in line order.
    rows: Vec<Row>,
    max_ts: Option<Micros>,
}

impl Batch {
    fn new(o: &ScanOptions) -> Self {
        Batch {
            agg: Aggregate::with_privacy(o.bucket_us, &o.by, o.privacy),
            events: Vec::new(),
            rows: Vec::new(),
            max_ts: None,
        }
    }

    /// Notes the latest time of the chunk.
    fn seal(&mut self) {
        self.max_ts = self.events.iter().map(|e| e.ts).max();
    }
}

/// What the retry stage needs of one request, and where to count it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StageEvent {
    ts: Micros,
    client: u64,
    op: u64,
    /// Its cell, with the token state the request itself showed.
    key: HotKey,
    status: Option<u16>,
    bin: Option<i16>,
    attempt: Option<u32>,
    auth_route: bool,
    /// Its cell waits for the stage's token state.
    deferred: bool,
    /// A health check: only here to keep exported rows in order.
    health: bool,
    /// Its row (`u32::MAX` for none).
    row: u32,
}

/// A worker's caches of pure functions of one string or shape (the
/// classification memo, the field-mapping plans, the last timestamp's
/// minute). No result depends on them. They are handed from chunk to chunk
/// within one scan through its [`Spares`]: built anew for every chunk,
/// each chunk re-derived the route of every distinct path and the plan of
/// every key sequence, and grew its memo's tables from empty.
#[derive(Default)]
struct Caches {
    memo: crate::classify::Memo,
    ts: crate::time::TsCache,
    plans: crate::event::Plans,
}

/// Values a scan's workers hand on from one chunk to the next (on any
/// worker: the one that settles a chunk is often not the one that parses
/// the next). No result depends on them.
pub(crate) struct Pool<T>(std::sync::Mutex<Vec<T>>);

impl<T: Default> Pool<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<T>> {
        // A poisoned lock means a worker panicked; the scope re-raises it.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A value handed on, or a new one.
    fn take(&self) -> T {
        self.lock().pop().unwrap_or_default()
    }

    /// Hands `v` on, keeping at most a window's worth.
    fn give(&self, v: T) {
        let mut held = self.lock();
        if held.len() < window() {
            held.push(v);
        }
    }
}

impl<T> Default for Pool<T> {
    fn default() -> Self {
        Pool(Default::default())
    }
}

/// What one file's chunks hand on (one scan: its options, which the memo
/// and the plans derive from, are the same for every chunk).
struct Spares<'m> {
    caches: Pool<Caches>,
    /// Emptied event buffers, which the merger hands back: grown from
    /// empty, a chunk's buffer was reallocated about ten times, each time
    /// on fresh pages.
    events: &'m Pool<Vec<StageEvent>>,
}

impl<'m> Spares<'m> {
    fn new(events: &'m Pool<Vec<StageEvent>>) -> Self {
        Spares {
            caches: Pool::default(),
            events,
        }
    }
}

impl Partial {
    fn new(o: &ScanOptions) -> Self {
        Partial {
            lines: 0,
            parsed: 0,
            filtered: 0,
            skips: BTreeMap::new(),
            examples: Vec::new(),
            chunk_lines: Vec::new(),
            fields_mask: 0,
            batch: Batch::new(o),
        }
    }

    /// Adds `o`'s file statistics to this one's (batches go to the merger).
    fn merge_stats(&mut self, o: &mut Partial) {
        self.lines += o.lines;
        self.parsed += o.parsed;
        self.filtered += o.filtered;
        for (k, v) in std::mem::take(&mut o.skips) {
            *self.skips.entry(k).or_default() += v;
        }
        self.examples.append(&mut o.examples);
        self.examples.sort_by_key(|e| (e.0, e.1));
        self.examples.truncate(EXAMPLES_PER_FILE);
        self.chunk_lines.append(&mut o.chunk_lines);
        self.fields_mask |= o.fields_mask;
    }

    fn skip(
        &mut self,
        seq: u64,
        line: u64,
        reason: SkipReason,
        raw: &[u8],
        privacy: &crate::privacy::Privacy,
    ) {
        *self.skips.entry(reason).or_default() += 1;
        if self.examples.len() < EXAMPLES_PER_FILE {
            let text = example_text(raw);
            self.examples
                .push((seq, line, reason, privacy.text(&text).into_owned()));
        }
    }
}

/// A short, printable excerpt of a bad line.
fn example_text(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(&raw[..raw.len().min(EXAMPLE_CHARS * 4)]);
    let mut out: String = s
        .chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .take(EXAMPLE_CHARS)
        .collect();
    if s.chars().count() > EXAMPLE_CHARS {
        out.push('…');
    }
    out
}

/// Parses, classifies and aggregates every line of one chunk.
fn process(
    data: &[u8],
    seq: u64,
    reader: &mut Reader,
    o: &ScanOptions,
    p: &mut Partial,
    spares: &Spares,
) {
    if p.batch.events.capacity() == 0 {
        p.batch.events = spares.events.take();
    }
    let mut caches = spares.caches.take();
    let mut n = 0u64;
    let body = data.strip_suffix(b"\n").unwrap_or(data);
    // The search for a line's end also checks it: plain ASCII with no NUL
    // is valid UTF-8, and a combined line's marks (built in that search,
    // for its tokenizer) say so too. A line is checked on its own only
    // when it is not plain.
    let Reader { parser, fields } = reader;
    let marked = crate::event::wants_marks(parser);
    let mut marks = format::marks::Marks::empty();
    // Lines as `body.split(b'\n')` gives them (none when `data` is empty).
    let mut at = if data.is_empty() { body.len() + 1 } else { 0 };
    while at <= body.len() {
        let (end, plain) = if marked {
            marks.line(body, at)
        } else {
            format::marks::plain_line(body, at)
        };
        let raw = &body[at..end];
        at = end + 1;
        n += 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let marks = (marked && plain).then_some(&marks);
        if raw.is_empty() {
            p.skip(seq, n, SkipReason::Empty, raw, &o.privacy);
            continue;
        }
        if raw.len() > o.max_line {
            p.skip(seq, n, SkipReason::TooLong, raw, &o.privacy);
            continue;
        }
        if !plain && memchr::memchr(0, raw).is_some() {
            p.skip(seq, n, SkipReason::NulBytes, raw, &o.privacy);
            continue;
        }
        // Invalid UTF-8 is replaced, not dropped: the rest of the line is data.
        let (text, ascii) = if plain {
            debug_assert!(raw.is_ascii());
            // SAFETY (both): a plain line is ASCII: `marks::plain_line` and
            // `Marks::line` say so only after seeing every byte of it below
            // 0x80 (their SIMD and byte-wise versions are tested equal,
            // `format::marks` tests).
            let s = unsafe { std::str::from_utf8_unchecked(raw) };
            (
                std::borrow::Cow::Borrowed(s),
                Some(unsafe { crate::text::Ascii::new_unchecked(s) }),
            )
        } else {
            let text = match simdutf8::basic::from_utf8(raw) {
                Ok(t) => std::borrow::Cow::Borrowed(t),
                Err(_) => String::from_utf8_lossy(raw),
            };
            (text, None)
        };
        if crate::text::trim(&text).is_empty() {
            p.skip(seq, n, SkipReason::Empty, raw, &o.privacy);
            continue;
        }
        let decoded = crate::event::decode(
            parser,
            &text,
            ascii,
            marks,
            fields,
            &mut caches.plans,
            &mut caches.ts,
            |ev, mask| {
                p.parsed += 1;
                p.fields_mask |= mask;
                if o.since.is_some_and(|s| ev.ts < s) || o.until.is_some_and(|u| ev.ts >= u) {
                    p.filtered += 1;
                } else {
                    add(ev, n, o, &mut caches.memo, &mut p.batch);
                }
            },
        );
        if let Err(reason) = decoded {
            p.skip(seq, n, reason, raw, &o.privacy);
        }
    }
    p.lines += n;
    p.chunk_lines.push((seq, n));
    p.batch.seal();
    spares.caches.give(caches);
}

/// Classifies an event and adds it to the chunk's batch: its cell, its
/// row when rows are exported, and its place in the retry stage's queue.
#[inline(always)]
fn add(
    ev: &crate::event::Event<'_>,
    n: u64,
    o: &ScanOptions,
    memo: &mut crate::classify::Memo,
    b: &mut Batch,
) {
    let c = o.classifier.classify(ev, memo);
    // A request that names no token state is counted once the retry
    // stage has said which state it carries.
    let placed = b.agg.add(ev, &c, c.token_state == TokenState::Unknown);
    let row = if o.rows {
        b.rows.push(Row {
            ts: c.ts,
            client: c.client,
            app: c.app.to_string(),
            version: c.version.to_string(),
            token_state: c.token_state,
            named_token_state: c.token_state,
            method: c.method.to_string(),
            route: c.route.to_string(),
            status: c.status,
            latency_ms: c.latency_ms,
            retry: false,
            resend: false,
            looping: false,
            health: c.health,
            line: n,
        });
        (b.rows.len() - 1) as u32
    } else {
        u32::MAX
    };
    match placed {
        Some(pl) => {
            let op = b.agg.op_of(pl.key.4);
            b.events.push(StageEvent {
                ts: c.ts,
                client: c.client,
                op,
                key: pl.key,
                status: c.status,
                bin: pl.bin,
                attempt: c.attempt,
                auth_route: c.auth_route,
                deferred: pl.deferred,
                health: false,
                row,
            });
        }
        // Health checks need no label, only their place among the rows.
        None if o.rows => b.events.push(StageEvent {
            ts: c.ts,
            client: c.client,
            op: 0,
            key: (0, 0, 0, TokenState::Unknown, 0),
            status: c.status,
            bin: None,
            attempt: None,
            auth_route: false,
            deferred: false,
            health: true,
            row,
        }),
        None => {}
    }
}

/// One request as `authstorm export` writes it.
#[derive(Debug, Clone)]
pub struct Row {
    pub ts: Micros,
    pub client: u64,
    pub app: String,
    pub version: String,
    /// The state it is counted under (see [`crate::retry`]).
    pub token_state: TokenState,
    /// The state the request itself showed.
    pub named_token_state: TokenState,
    pub method: String,
    pub route: String,
    pub status: Option<u16>,
    pub latency_ms: Option<f64>,
    pub retry: bool,
    pub resend: bool,
    pub looping: bool,
    pub health: bool,
    /// Line number in its file (chunk-relative until handed to the merger).
    pub line: u64,
}

impl Default for Row {
    fn default() -> Self {
        Row {
            ts: 0,
            client: 0,
            app: String::new(),
            version: String::new(),
            token_state: TokenState::Unknown,
            named_token_state: TokenState::Unknown,
            method: String::new(),
            route: String::new(),
            status: None,
            latency_ms: None,
            retry: false,
            resend: false,
            looping: false,
            health: false,
            line: 0,
        }
    }
}

/// Where exported rows go: in time order across files (among requests of
/// one time, in file order), each labelled by the retry stage.
pub trait RowSink: Send {
    fn write(&mut self, file: &str, rows: &[Row]) -> io::Result<()>;
}

/// Settles one file's chunk partials in file order: their statistics
/// here, their batches to the merger.
struct Ordered<'m, 's> {
    merger: &'m Merger<'s>,
    lane: usize,
    acc: Partial,
    lines_before: u64,
    /// The latest request time of the chunks settled.
    last_ts: Option<Micros>,
}

impl<'m, 's> Ordered<'m, 's> {
    fn new(o: &ScanOptions, merger: &'m Merger<'s>, lane: usize) -> Self {
        Ordered {
            merger,
            lane,
            acc: Partial::new(o),
            lines_before: 0,
            last_ts: None,
        }
    }

    /// Settles `p`, the next chunk in file order.
    fn push(&mut self, mut p: Partial) -> io::Result<()> {
        self.last_ts = self.last_ts.max(p.batch.max_ts);
        for r in &mut p.batch.rows {
            r.line += self.lines_before;
        }
        self.lines_before += p.lines;
        self.acc.merge_stats(&mut p);
        self.merger.push(self.lane, p.batch)
    }

    fn push_all(&mut self, parts: Vec<Partial>) -> io::Result<()> {
        parts.into_iter().try_for_each(|p| self.push(p))
    }

    fn finish(self) -> Partial {
        self.acc
    }
}

/// How many chunks of one file may be parsed or waiting ahead of the
/// retry stage, which settles them in order: bounds memory while keeping
/// workers busy.
fn window() -> usize {
    rayon::current_num_threads() * 2
}

/// Scans all sources on `pool`; with a `sink`, every request also goes
/// there as a [`Row`]. Unusable sources are reported in their
/// `FileReport`; the error is the sink's.
pub fn scan(
    sources: &[Source],
    o: &ScanOptions,
    bar: &ProgressBar,
    pool: &rayon::ThreadPool,
    sink: Option<&mut dyn RowSink>,
) -> io::Result<ScanResult> {
    let with_rows;
    let o = if sink.is_some() && !o.rows {
        with_rows = ScanOptions {
            rows: true,
            ..o.clone()
        };
        &with_rows
    } else {
        o
    };
    // Every input opened, its format found and its first time read; then
    // in order of that time, so that the retry stage meets each client's
    // requests in time order across files.
    let mut opened: Vec<Opened> =
        pool.install(|| sources.par_iter().map(|s| open(s, o, bar)).collect());
    opened.sort_by_key(|f| f.t0);
    let lanes = opened
        .iter()
        .map(|f| (f.report.path.clone(), f.t0))
        .collect();
    let merger = Merger::new(
        lanes,
        o.retry,
        Aggregate::with_privacy(o.bucket_us, &o.by, o.privacy),
        sink,
    );
    let n = opened.len();
    let reports: std::sync::Mutex<Vec<Option<FileReport>>> = std::sync::Mutex::new(vec![None; n]);
    let run = |i: usize, f: Opened| {
        let r = run_lane(i, f, o, bar, &merger);
        reports
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)[i] = Some(r);
    };
    if n == 1 {
        let f = opened.pop().expect("one input");
        merger.start(0);
        pool.install(|| run(0, f));
    } else {
        // Later files start once the ones being read have reached their
        // first time: the main thread waits, the pool parses.
        pool.in_place_scope(|s| {
            for (i, f) in opened.into_iter().enumerate() {
                if i > 0 {
                    merger.wait_until_due(i);
                }
                merger.start(i);
                let run = &run;
                s.spawn(move |_| run(i, f));
            }
        });
    }
    let (mut agg, _peak) = merger.finish()?;
    let files = reports
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .into_iter()
        .flatten()
        .collect();
    let by = agg.by.take();
    Ok(ScanResult {
        files,
        cube: agg.into_cube(),
        by,
    })
}

/// An input, opened: its report so far, its first timestamp, and what is
/// needed to read the rest.
struct Opened {
    report: FileReport,
    t0: Option<Micros>,
    input: io::Result<Input>,
}

struct Input {
    /// The file, when the input is one (not stdin).
    file: Option<File>,
    /// The decompressed stream, past `head`.
    stream: Box<dyn Read + Send>,
    head: Vec<u8>,
    /// `head` is the whole input.
    complete: bool,
    /// `None`: an empty input.
    reader: Option<Reader>,
}

/// How one input's lines are read: its format's parser, and the field
/// mapping for that format.
#[derive(Clone)]
pub(crate) struct Reader {
    pub parser: LineParser,
    pub fields: std::sync::Arc<FieldMap>,
}

impl Reader {
    pub fn new(kind: FormatKind, o: &ScanOptions) -> Result<Reader, crate::error::SettingError> {
        let parser = kind.parser(&o.custom)?;
        let fields = std::sync::Arc::new(
            o.fields
                .with_sources_renamed(&parser.sources(kind), parser.renames()),
        );
        Ok(Reader { parser, fields })
    }
}

fn new_report(src: &Source) -> FileReport {
    FileReport {
        path: src.display(),
        format: None,
        compression: Compression::None,
        lines: 0,
        parsed: 0,
        filtered: 0,
        unread_bytes: 0,
        skipped: 0,
        skipped_by_reason: BTreeMap::new(),
        skip_examples: Vec::new(),
        fields: Vec::new(),
        error: None,
        not_access_log: None,
        read_to: 0,
        last_ts: None,
    }
}

fn open(src: &Source, o: &ScanOptions, bar: &ProgressBar) -> Opened {
    let mut report = new_report(src);
    let input = open_input(src, o, bar, &mut report);
    let t0 = input.as_ref().ok().and_then(|i| first_time(i, o));
    Opened { report, t0, input }
}

/// Opens `src` and reads its first bytes, decompressed.
fn open_head(src: &Source, bar: &ProgressBar, rep: &mut FileReport) -> io::Result<Head> {
    // One handle per file, shared by every reader of it: a file deleted or
    // rotated away mid-run is still read whole.
    let file = match src {
        Source::File(p) => Some(File::open(p)?),
        Source::Stdin => None,
    };
    let raw: Box<dyn Read + Send> = match &file {
        None => Box::new(io::stdin()),
        Some(f) => Box::new(Counting {
            inner: f.try_clone()?,
            bar: bar.clone(),
        }),
    };
    let mut raw = io::BufReader::with_capacity(1 << 16, raw);
    let magic = {
        use io::BufRead;
        raw.fill_buf()?.to_vec()
    };
    rep.compression = Compression::sniff(&magic);
    let mut stream = rep.compression.decoder(Box::new(raw))?;
    let (head, complete) = read_head(&mut stream, SAMPLE_BYTES)?;
    Ok(Head {
        file,
        stream,
        head,
        complete,
    })
}

/// An input opened and decompressed, its first bytes read.
struct Head {
    file: Option<File>,
    stream: Box<dyn Read + Send>,
    head: Vec<u8>,
    /// `head` is the whole input.
    complete: bool,
}

fn file_name(src: &Source) -> Option<String> {
    match src {
        Source::File(p) => p.file_name().map(|n| n.to_string_lossy().into_owned()),
        Source::Stdin => None,
    }
}

fn open_input(
    src: &Source,
    o: &ScanOptions,
    bar: &ProgressBar,
    rep: &mut FileReport,
) -> io::Result<Input> {
    let Head {
        file,
        stream,
        head,
        complete,
    } = open_head(src, bar, rep)?;
    let name = file_name(src);
    let reader = match choose_format(&head, complete, name.as_deref(), o)? {
        Choice::Format(kind) => {
            rep.format = Some(kind);
            Some(Reader::new(kind, o).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?)
        }
        Choice::Blank => None,
        Choice::NotAccessLog(what) => {
            rep.not_access_log = Some(what);
            None
        }
    };
    Ok(Input {
        file,
        stream,
        head,
        complete,
        reader,
    })
}

/// The time of the first request (the merger orders inputs by it, and
/// holds the requests after it until the input is read).
fn first_time(input: &Input, o: &ScanOptions) -> Option<Micros> {
    let mut reader = input.reader.clone()?;
    let end = if input.complete {
        input.head.len()
    } else {
        memchr::memrchr(b'\n', &input.head).map_or(0, |i| i + 1)
    };
    let mut p = Partial::new(o);
    let pool = Pool::default();
    let spares = Spares::new(&pool);
    process(&input.head[..end], 0, &mut reader, o, &mut p, &spares);
    p.batch.events.first().map(|e| e.ts)
}

/// Reads one opened input to its end, handing its chunks to `merger`.
fn run_lane(
    lane: usize,
    f: Opened,
    o: &ScanOptions,
    bar: &ProgressBar,
    merger: &Merger<'_>,
) -> FileReport {
    let mut report = f.report;
    let mut ord = Ordered::new(o, merger, lane);
    let read = f
        .input
        .and_then(|input| read_input(input, o, bar, &mut report, &mut ord));
    if let Err(e) = read {
        report.error = Some(crate::error::chain(&e));
    }
    report.last_ts = ord.last_ts;
    let p = ord.finish();
    // A failed sink is the scan's error, returned by the merger.
    let _ = merger.finish_lane(lane);
    finish(&mut report, p)
}

fn finish(report: &mut FileReport, mut p: Partial) -> FileReport {
    p.chunk_lines.sort_unstable();
    let mut offset = BTreeMap::new();
    let mut acc = 0;
    for (seq, n) in &p.chunk_lines {
        offset.insert(*seq, acc);
        acc += n;
    }
    report.lines = p.lines;
    report.parsed = p.parsed;
    report.filtered = p.filtered;
    report.skipped = p.skips.values().sum();
    report.skipped_by_reason = std::mem::take(&mut p.skips);
    report.skip_examples = p
        .examples
        .drain(..)
        .map(|(seq, line, reason, text)| SkipExample {
            line: offset.get(&seq).copied().unwrap_or(0) + line,
            reason,
            text,
        })
        .collect();
    report.fields = FIELDS
        .iter()
        .enumerate()
        .filter(|(i, _)| p.fields_mask & (1 << i) != 0)
        .map(|(_, f)| f.name())
        .collect();
    report.clone()
}

/// Counts raw bytes read, for the progress bar.
struct Counting<R> {
    inner: R,
    bar: ProgressBar,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

fn sample_lines(head: &[u8], complete: bool) -> Vec<String> {
    let end = if complete {
        head.len()
    } else {
        memchr::memrchr(b'\n', head).unwrap_or(0)
    };
    head[..end]
        .split(|b| *b == b'\n')
        .take(200)
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect()
}

/// What an input is to be read as.
enum Choice {
    Format(FormatKind),
    /// No line but blank ones.
    Blank,
    /// Not an access log: skipped unread.
    NotAccessLog(NotAccessLog),
}

/// The input's format (given or detected), unless its first lines show it
/// is no access log (`name`, its file name, is a hint to that).
fn choose_format(
    head: &[u8],
    complete: bool,
    name: Option<&str>,
    o: &ScanOptions,
) -> io::Result<Choice> {
    let lines = sample_lines(head, complete);
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let kind = match o.format {
        Some(f) => Some(f),
        None => format::detect(&refs, &o.custom),
    };
    // A file whose format reads most of its first lines is an access log,
    // however damaged the rest (W3C detection saw its headers); only the
    // others may be something else.
    let access = match kind {
        // Its headers were seen.
        Some(k) if k.is_stateful() && o.format.is_none() => true,
        Some(k) => mostly_parses(k, &refs, o),
        None => false,
    };
    if !access && let Some(what) = not_access::recognise(name, &refs) {
        return Ok(Choice::NotAccessLog(what));
    }
    match kind {
        Some(k) => Ok(Choice::Format(k)),
        // An empty file is not an error; it simply has no lines.
        None if complete && refs.iter().all(|l| l.trim().is_empty()) => Ok(Choice::Blank),
        None if refs.iter().all(|l| l.trim().is_empty()) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "no line to detect the format from in the first 64 KiB",
        )),
        None => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "format not recognised from the first lines; use --format",
        )),
    }
}

/// Whether `kind` parses at least half of the non-blank `lines`.
fn mostly_parses(kind: FormatKind, lines: &[&str], o: &ScanOptions) -> bool {
    // A format that cannot be built fails later, with its own error.
    let Ok(mut parser) = kind.parser(&o.custom) else {
        return true;
    };
    let (mut n, mut parsed) = (0usize, 0usize);
    for l in lines {
        let l = l.trim_end_matches('\r');
        if l.trim().is_empty() {
            continue;
        }
        n += 1;
        parsed += usize::from(parser.parse(l).is_ok());
    }
    parsed * 2 >= n
}

fn read_head<R: Read>(r: &mut R, max: usize) -> io::Result<(Vec<u8>, bool)> {
    let mut head = Vec::with_capacity(max);
    r.by_ref().take(max as u64).read_to_end(&mut head)?;
    let complete = head.len() < max;
    Ok((head, complete))
}

fn read_input(
    input: Input,
    o: &ScanOptions,
    bar: &ProgressBar,
    rep: &mut FileReport,
    ord: &mut Ordered<'_, '_>,
) -> io::Result<()> {
    let Input {
        file,
        stream,
        head,
        complete,
        reader,
    } = input;
    if rep.not_access_log.is_some() {
        return ord.push(Partial::new(o));
    }
    let Some(reader) = reader else {
        // Blank lines only: counted and reported as skipped.
        let mut p = Partial::new(o);
        if !head.is_empty() {
            let mut reader = Reader {
                parser: LineParser::Clf,
                fields: std::sync::Arc::new(o.fields.clone()),
            };
            let pool = Pool::default();
            process(&head, 0, &mut reader, o, &mut p, &Spares::new(&pool));
        }
        return ord.push(p);
    };
    let kind = rep.format.expect("a parser has a format");
    let window = o.windows.get(std::path::Path::new(&rep.path)).copied();
    // Large plain files are split into ranges read in parallel.
    // (Pipes and process substitutions, `<(zcat a.gz)`, are streamed.)
    let meta = file.as_ref().map(File::metadata).transpose()?;
    if let (Some(file), Some(meta), Compression::None, false) =
        (&file, &meta, rep.compression, kind.is_stateful())
        && meta.is_file()
    {
        drop(stream);
        let len = meta.len();
        if let Some(w) = window {
            let start = w.start.min(len);
            let end = w.end.map_or(len, |e| e.min(len)).max(start);
            rep.read_to = end;
            bar.inc(len - (end - start));
            return scan_ranges(file, len, (start, end), reader, o, bar, ord);
        }
        rep.read_to = len;
        if len as usize > o.chunk_size {
            let (start, end) = seek::window(file, len, &reader, o)?.unwrap_or((0, len));
            rep.unread_bytes = len - (end - start);
            bar.inc(len - (end - start));
            return scan_ranges(file, len, (start, end), reader, o, bar, ord);
        }
        let mut p = Partial::new(o);
        let data = chunk::read_range(file, 0, len, o.max_line)?;
        let mut reader = reader;
        process(
            &data,
            0,
            &mut reader,
            o,
            &mut p,
            &Spares::new(ord.merger.spare_events()),
        );
        return ord.push(p);
    }
    let _ = complete;
    let start = window.map_or(0, |w| w.start);
    // A stateful format's lines mean what the directives before them say.
    let directives: Vec<u8> = if start > 0 && kind.is_stateful() {
        let before = &head[..(start as usize).min(head.len())];
        before
            .split_inclusive(|b| *b == b'\n')
            .filter(|l| l.starts_with(b"#") && l.ends_with(b"\n"))
            .flatten()
            .copied()
            .collect()
    } else {
        Vec::new()
    };
    let mut stream = io::Cursor::new(head).chain(stream);
    let skipped = io::copy(&mut (&mut stream).take(start), &mut io::sink())?;
    if skipped < start {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("shorter ({skipped} bytes) than where the last run stopped ({start})"),
        ));
    }
    let read = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counted = CountingTo {
        inner: stream,
        n: read.clone(),
    };
    let stream = io::Cursor::new(directives).chain(counted);
    let r = scan_stream(stream, reader, kind.is_stateful(), o, rep, ord);
    rep.read_to = start + read.load(std::sync::atomic::Ordering::Relaxed);
    r
}

/// Counts the bytes read through it into a shared total.
struct CountingTo<R> {
    inner: R,
    n: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for CountingTo<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

thread_local! {
    /// A worker's chunk buffer, kept across chunks: allocating, zeroing and
    /// faulting in 8 MiB per chunk cost more than parsing a tenth of it.
    static CHUNK_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Scans the lines of `file` (`len` bytes long) that start in `window`.
fn scan_ranges(
    file: &File,
    len: u64,
    (start, end): (u64, u64),
    reader: Reader,
    o: &ScanOptions,
    bar: &ProgressBar,
    ord: &mut Ordered<'_, '_>,
) -> io::Result<()> {
    let threads = rayon::current_num_threads() as u64;
    let ranges = chunk::ranges(start, end, o.chunk_size as u64, threads);
    let spares = Spares::new(ord.merger.spare_events());
    let parse = |seq: usize| -> io::Result<Partial> {
        let (s, e) = ranges[seq];
        let mut p = Partial::new(o);
        let mut reader = reader.clone();
        let seq = seq as u64;
        match o.mmap.then(|| chunk::map_range(file, s, e, len)).flatten() {
            Some(lines) => process(&lines, seq, &mut reader, o, &mut p, &spares),
            None => CHUNK_BUF.with_borrow_mut(|buf| -> io::Result<()> {
                let span = chunk::read_range_into(file, s, e, o.max_line, buf)?;
                process(&buf[span], seq, &mut reader, o, &mut p, &spares);
                Ok(())
            })?,
        }
        bar.inc(e - s);
        Ok(p)
    };
    ordered::ordered(ranges.len(), window(), parse, |p| ord.push(p))
}

fn scan_stream<R: Read + Send>(
    stream: R,
    reader: Reader,
    stateful: bool,
    o: &ScanOptions,
    rep: &mut FileReport,
    ord: &mut Ordered<'_, '_>,
) -> io::Result<()> {
    let mut blocks = Blocks::new(stream, o.chunk_size.min(4 << 20), o.max_line);
    let spares = Spares::new(ord.merger.spare_events());
    let mut lines = 0;
    if stateful {
        let mut reader = reader;
        let mut seq = 0;
        loop {
            match blocks.next_block() {
                Ok(Some(b)) => {
                    let mut p = Partial::new(o);
                    process(&b, seq, &mut reader, o, &mut p, &spares);
                    lines += p.lines;
                    ord.push(p)?;
                }
                Ok(None) => break,
                Err(e) => {
                    rep.error = Some(format!("read error after {lines} lines: {e}"));
                    break;
                }
            }
            seq += 1;
        }
        return Ok(());
    }
    // Decompression runs on its own thread; a window of blocks is parsed in
    // parallel, then settled in order by the retry stage.
    let (tx, rx) = mpsc::sync_channel::<io::Result<Vec<u8>>>(window());
    std::thread::scope(|scope| -> io::Result<()> {
        scope.spawn(move || {
            loop {
                match blocks.next_block() {
                    Ok(Some(b)) => {
                        if tx.send(Ok(b)).is_err() {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        break;
                    }
                }
            }
        });
        let mut seq = 0u64;
        let mut rx = rx.into_iter();
        let mut pending: Vec<Partial> = Vec::new();
        loop {
            let mut group = Vec::with_capacity(window());
            let mut failed = None;
            for item in rx.by_ref() {
                match item {
                    Ok(b) => group.push((seq, b)),
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
                seq += 1;
                if group.len() == window() {
                    break;
                }
            }
            if group.is_empty() && failed.is_none() {
                break;
            }
            let parse = || -> Vec<Partial> {
                group
                    .par_iter()
                    .map(|(seq, block)| {
                        let mut p = Partial::new(o);
                        let mut reader = reader.clone();
                        process(block, *seq, &mut reader, o, &mut p, &spares);
                        p
                    })
                    .collect()
            };
            // Settle the previous window while this one is parsed.
            let (parts, settled) =
                rayon::join(parse, || ord.push_all(std::mem::take(&mut pending)));
            settled?;
            lines += parts.iter().map(|p| p.lines).sum::<u64>();
            pending = parts;
            if let Some(e) = failed {
                rep.error = Some(format!(
                    "stream ended early after {lines} lines ({e}); the lines before were analyzed"
                ));
                break;
            }
        }
        ord.push_all(pending)
    })
}
