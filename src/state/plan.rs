//! What a run does with each file of the archive, given the manifest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::store::{Manifest, SeenAs};
use crate::scan::Window;

/// What happens to one file in this run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum FileAction {
    /// Never seen: read whole.
    New,
    /// Seen, and longer now: read from where the last run stopped.
    Appended { from: u64 },
    /// Read through already (maybe under another name or compressed).
    Unchanged,
    /// Shorter than where the last run stopped: read again from its start.
    Truncated { was: u64 },
    /// Another file with the same content is read instead (a rotated copy
    /// and its original, both present).
    Duplicate { of: String },
    /// Too short to know which file it is: left for the next run.
    Waiting,
    /// Could not be opened or read.
    Unreadable { reason: String },
}

/// One file of the archive and what this run does with it.
#[derive(Debug, Clone, Serialize)]
pub struct FilePlan {
    pub path: PathBuf,
    /// The file's identity in the state (`head-prefix` of its first bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Its start, to record as its prefix once read.
    #[serde(skip)]
    pub start: Option<super::Fingerprint>,
    pub size: u64,
    #[serde(skip)]
    pub mtime: i64,
    #[serde(flatten)]
    pub action: FileAction,
    /// The part to read, for the actions that read.
    #[serde(skip)]
    pub window: Option<Window>,
}

impl FilePlan {
    pub fn reads(&self) -> bool {
        self.window.is_some()
    }

    pub fn seen_as(&self) -> SeenAs {
        SeenAs {
            path: self.path.display().to_string(),
            size: self.size,
            mtime: self.mtime,
        }
    }
}

fn mtime_of(m: &std::fs::Metadata) -> i64 {
    m.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64)
}

/// Decides, for each file, what this run reads of it.
pub fn plan_files(paths: &[PathBuf], manifest: &Manifest) -> Vec<FilePlan> {
    // (path, size, mtime) → fingerprint: an unchanged file is not opened.
    let known: BTreeMap<(&str, u64, i64), &str> = manifest
        .files
        .iter()
        .flat_map(|(fp, e)| {
            e.seen_as
                .iter()
                .map(move |s| ((s.path.as_str(), s.size, s.mtime), fp.as_str()))
        })
        .collect();
    let mut plans: Vec<FilePlan> = paths
        .iter()
        .map(|p| plan_one(p, manifest, &known))
        .collect();
    // Two files of one content in one run (a rotated copy beside its
    // original): the longer one is read, the other is its duplicate.
    let mut best: BTreeMap<String, usize> = BTreeMap::new();
    for (i, p) in plans.iter().enumerate() {
        if let (Some(fp), true) = (&p.fingerprint, p.reads()) {
            let len = |j: usize| plans[j].window.and_then(|w| w.end).unwrap_or(u64::MAX);
            match best.get(fp) {
                Some(&j) if len(j) >= len(i) => {}
                _ => {
                    best.insert(fp.clone(), i);
                }
            }
        }
    }
    for i in 0..plans.len() {
        if let (Some(fp), true) = (plans[i].fingerprint.clone(), plans[i].reads())
            && best.get(&fp) != Some(&i)
        {
            let of = plans[best[&fp]].path.display().to_string();
            plans[i].action = FileAction::Duplicate { of };
            plans[i].window = None;
        }
    }
    plans
}

fn plan_one(
    path: &Path,
    manifest: &Manifest,
    known: &BTreeMap<(&str, u64, i64), &str>,
) -> FilePlan {
    let mut plan = FilePlan {
        path: path.into(),
        fingerprint: None,
        start: None,
        size: 0,
        mtime: 0,
        action: FileAction::Unchanged,
        window: None,
    };
    let unreadable = |mut plan: FilePlan, e: std::io::Error| {
        plan.action = FileAction::Unreadable {
            reason: e.to_string(),
        };
        plan
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => return unreadable(plan, e),
    };
    plan.size = meta.len();
    plan.mtime = mtime_of(&meta);
    let key = (path.to_str().unwrap_or(""), plan.size, plan.mtime);
    if let Some(fp) = known.get(&key) {
        plan.fingerprint = Some(fp.to_string());
        return plan;
    }
    let fp = match super::fingerprint(path) {
        Ok(Some(fp)) => fp,
        Ok(None) => {
            plan.action = FileAction::Waiting;
            return plan;
        }
        Err(e) => return unreadable(plan, e),
    };
    // The entry this file is: the same first KiB, and it starts with all
    // the bytes the entry's prefix covers (the longest such prefix wins).
    let matched = manifest
        .files
        .iter()
        .filter(|(_, e)| e.head == fp.head)
        .filter(|(_, e)| {
            fp.prefix_hash(e.prefix_len as usize).as_deref() == Some(e.prefix.as_str())
        })
        .max_by_key(|(_, e)| e.prefix_len)
        .map(|(id, e)| (id.clone(), e));
    // A file at a path where a file of the same first KiB was read, no
    // longer starting with what was read: the same file, truncated.
    let was = manifest
        .files
        .values()
        .filter(|e| e.head == fp.head)
        .find(|e| e.seen_as.iter().any(|s| Path::new(&s.path) == path))
        .map(|e| e.offset);
    plan.fingerprint = Some(
        matched
            .as_ref()
            .map_or_else(|| fp.id(), |(id, _)| id.clone()),
    );
    let compressed = fp.compressed;
    plan.start = Some(fp);
    // The end of what to read: a plain file's last complete line (one being
    // written waits), a compressed file's end.
    let end = |from: u64| -> std::io::Result<Option<u64>> {
        if compressed {
            Ok(None)
        } else {
            super::last_line_end(path, from, plan.size).map(Some)
        }
    };
    let Some((_, entry)) = matched else {
        let action = match was {
            Some(was) => FileAction::Truncated { was },
            None => FileAction::New,
        };
        return match end(0) {
            Ok(e) => FilePlan {
                action,
                window: Some(Window { start: 0, end: e }),
                ..plan
            },
            Err(e) => unreadable(plan, e),
        };
    };
    let len = if compressed {
        match super::decompressed_len(path) {
            Ok(n) => n,
            Err(e) => return unreadable(plan, e),
        }
    } else {
        plan.size
    };
    if len == entry.offset || (compressed && len < entry.offset) {
        // A compressed copy shorter than what was read is an older copy of
        // it: nothing in it is new.
        return plan;
    }
    let (action, from) = if len > entry.offset {
        (FileAction::Appended { from: entry.offset }, entry.offset)
    } else {
        (FileAction::Truncated { was: entry.offset }, 0)
    };
    match end(from) {
        Ok(e) if e == Some(from) => plan,
        Ok(e) => FilePlan {
            action,
            window: Some(Window {
                start: from,
                end: e,
            }),
            ..plan
        },
        Err(e) => unreadable(plan, e),
    }
}
