//! The state directory: `manifest.json` (the commit point), `days/` (one
//! zstd-compressed cube file per UTC day and generation) and `lock` (one
//! run at a time).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::aggregate::Cube;
use crate::error::{Error, Result};
use crate::time::Micros;

pub const STATE_SCHEMA: &str = "authstorm/state/v1";

/// What the state holds: the files read and the days stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub schema: String,
    /// Bumped by every run that changed something; day files carry it.
    pub generation: u64,
    /// A hash of the settings that change results (config, bucket width,
    /// format): a state is only ever extended with the same ones.
    pub settings: String,
    pub bucket_seconds: u64,
    /// By identity ([`super::Fingerprint::id`] when first seen).
    pub files: BTreeMap<String, FileEntry>,
    /// By UTC date, `YYYY-MM-DD`.
    pub days: BTreeMap<String, DayEntry>,
}

/// One file, known by the fingerprint of its first bytes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    /// The hash of its first KiB.
    pub head: String,
    /// How many of its first bytes `prefix` hashes (up to 64 KiB), and
    /// that hash: another file with the same first KiB is this one only
    /// if it starts with these bytes too.
    pub prefix_len: u64,
    pub prefix: String,
    /// Decompressed bytes read through (a line boundary).
    pub offset: u64,
    /// Lines read from it, over all runs.
    pub lines: u64,
    /// The paths, sizes and modification times it was seen as (a rotated,
    /// compressed copy is another), so an unchanged file costs no read.
    pub seen_as: Vec<SeenAs>,
    /// When a run last read from it (seconds since the epoch).
    pub last_read: i64,
    /// The time of the latest request read from it.
    #[serde(default)]
    pub last_request: Option<Micros>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenAs {
    pub path: String,
    pub size: u64,
    pub mtime: i64,
}

/// One stored day.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DayEntry {
    /// The day's cube, relative to the state directory.
    pub cube: String,
    /// The same cells as a flat table for other engines (the columns of
    /// `cube.parquet`), relative to the state directory.
    #[serde(default)]
    pub parquet: String,
    pub requests: u64,
    /// Lines read into this day's cube, over all runs (a run that read
    /// several days shares its lines out by the requests it added to each).
    pub lines: u64,
    /// Storms, surges and outages found on this day, by kind, when it was
    /// last analysed.
    pub incidents: BTreeMap<String, u64>,
    /// The earlier days detection compared this day with.
    pub baseline_days: Vec<String>,
    pub first: Option<Micros>,
    pub last: Option<Micros>,
}

/// The state directory, locked for this process.
pub struct LockedStore {
    dir: PathBuf,
    /// Held for the life of the store: the kernel releases it when the
    /// process ends, however it ends.
    _lock: File,
    pub manifest: Manifest,
}

fn io_at(p: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |e| Error::io(p, e)
}

impl LockedStore {
    /// Opens (creating) the state at `dir` and takes its lock; fails when
    /// another run holds it.
    pub fn open(dir: &Path) -> Result<LockedStore> {
        fs::create_dir_all(dir.join("days")).map_err(io_at(dir))?;
        let lock_path = dir.join("lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_at(&lock_path))?;
        lock.try_lock().map_err(|e| match e {
            fs::TryLockError::WouldBlock => Error::State {
                path: dir.into(),
                reason: "another run holds its lock".into(),
            },
            fs::TryLockError::Error(e) => Error::io(&lock_path, e),
        })?;
        let path = dir.join("manifest.json");
        let manifest = match fs::read(&path) {
            Ok(bytes) => parse_manifest(&path, &bytes)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Manifest {
                schema: STATE_SCHEMA.into(),
                ..Manifest::default()
            },
            Err(e) => return Err(Error::io(&path, e)),
        };
        Ok(LockedStore {
            dir: dir.into(),
            _lock: lock,
            manifest,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The stored cube of `date`, if any.
    pub fn day_cube(&self, date: &str) -> Result<Option<Cube>> {
        let Some(d) = self.manifest.days.get(date) else {
            return Ok(None);
        };
        read_cube(&self.dir.join(&d.cube)).map(Some)
    }

    /// Writes `cube` as `date`'s cube of the next generation (not yet named
    /// by the manifest), and its cells as Parquet; returns their names
    /// relative to the state directory.
    pub fn write_day(&self, date: &str, cube: &Cube) -> Result<(String, String)> {
        let stem = format!("days/{date}.g{}", self.manifest.generation + 1);
        let name = format!("{stem}.cube.json.zst");
        let path = self.dir.join(&name);
        let json = serde_json::to_vec(cube).map_err(|e| Error::write(&path, e))?;
        let packed = zstd::bulk::compress(&json, 3).map_err(io_at(&path))?;
        write_durably(&path, &packed)?;
        let table = format!("{stem}.cells.parquet");
        let tmp = self
            .dir
            .join(format!("{stem}.cells.tmp{}", std::process::id()));
        crate::output::export::cube_parquet(cube, &tmp)?;
        File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(io_at(&tmp))?;
        fs::rename(&tmp, self.dir.join(&table)).map_err(io_at(&tmp))?;
        Ok((name, table))
    }

    /// Makes `manifest` the state (one atomic rename), then removes the day
    /// files it no longer names.
    pub fn commit(&mut self, mut manifest: Manifest) -> Result<()> {
        manifest.generation = self.manifest.generation + 1;
        let path = self.dir.join("manifest.json");
        let mut json = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::write(&path, e))?;
        json.push(b'\n');
        write_durably(&path, &json)?;
        self.manifest = manifest;
        self.sweep()
    }

    /// Removes day files (and leftovers of killed runs) the manifest does
    /// not name.
    pub fn sweep(&self) -> Result<()> {
        if let Ok(entries) = fs::read_dir(&self.dir) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with("manifest.tmp") {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        let days = self.dir.join("days");
        let named: std::collections::BTreeSet<&str> = self
            .manifest
            .days
            .values()
            .flat_map(|d| [d.cube.as_str(), d.parquet.as_str()])
            .filter_map(|f| f.strip_prefix("days/"))
            .collect();
        for entry in fs::read_dir(&days).map_err(io_at(&days))? {
            let entry = entry.map_err(io_at(&days))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if !named.contains(name.as_ref()) {
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(())
    }
}

/// The committed manifest of the state at `dir`, read without the lock (it
/// is only ever replaced whole).
pub fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join("manifest.json");
    let bytes = fs::read(&path).map_err(io_at(&path))?;
    parse_manifest(&path, &bytes)
}

fn parse_manifest(path: &Path, bytes: &[u8]) -> Result<Manifest> {
    let m: Manifest = serde_json::from_slice(bytes).map_err(|e| Error::State {
        path: path.into(),
        reason: format!("not a state manifest: {e}"),
    })?;
    if m.schema != STATE_SCHEMA {
        return Err(Error::State {
            path: path.into(),
            reason: format!("schema {:?}, expected {STATE_SCHEMA:?}", m.schema),
        });
    }
    Ok(m)
}

/// Reads a day cube file.
pub fn read_cube(path: &Path) -> Result<Cube> {
    let packed = fs::read(path).map_err(io_at(path))?;
    let json = zstd::stream::decode_all(&packed[..]).map_err(io_at(path))?;
    serde_json::from_slice(&json).map_err(|e| Error::NotACube {
        path: path.into(),
        reason: e.to_string(),
    })
}

/// Writes `bytes` to `path` through a temporary file, synced, then renamed
/// over it, and syncs the directory: `path` is the old or the new content,
/// whenever the process or the machine stops.
fn write_durably(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut f = File::create(&tmp).map_err(io_at(&tmp))?;
    f.write_all(bytes).map_err(io_at(&tmp))?;
    f.sync_all().map_err(io_at(&tmp))?;
    drop(f);
    fs::rename(&tmp, path).map_err(io_at(path))?;
    if let Some(dir) = path.parent()
        && let Ok(d) = File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}
