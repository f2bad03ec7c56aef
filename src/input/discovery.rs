//! Turns command-line paths into a sorted, deduplicated list of sources:
//! files, directories (recursively, hidden entries skipped), glob patterns
//! and `-` for stdin. Problems are collected, not fatal.

use std::collections::BTreeSet;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    Stdin,
    File(PathBuf),
}

impl Source {
    pub fn display(&self) -> String {
        match self {
            Source::Stdin => "-".into(),
            Source::File(p) => p.display().to_string(),
        }
    }
}

#[derive(Debug, Default)]
pub struct Discovered {
    pub sources: Vec<Source>,
    /// `(path, problem)` for inputs that could not be used.
    pub errors: Vec<(String, String)>,
}

fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

pub fn discover(args: &[String]) -> Discovered {
    let mut out = Discovered::default();
    let mut seen = BTreeSet::new();
    let mut push = |out: &mut Discovered, p: PathBuf| {
        if seen.insert(p.clone()) {
            out.sources.push(Source::File(p));
        }
    };
    for a in args {
        if a == "-" {
            out.sources.push(Source::Stdin);
            continue;
        }
        let p = PathBuf::from(a);
        if p.is_dir() {
            let mut files = Vec::new();
            let walker = walkdir::WalkDir::new(&p)
                .follow_links(true)
                .sort_by_file_name()
                .into_iter()
                .filter_entry(|e| {
                    e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.')
                });
            for entry in walker {
                match entry {
                    Ok(e) if e.file_type().is_file() => files.push(e.into_path()),
                    Ok(_) => {}
                    Err(e) => {
                        let path = e
                            .path()
                            .map(|p| p.display().to_string())
                            .unwrap_or_else(|| a.clone());
                        let msg = if e.loop_ancestor().is_some() {
                            "symlink loop, skipped".to_string()
                        } else {
                            e.io_error()
                                .map(|io| io.to_string())
                                .unwrap_or_else(|| e.to_string())
                        };
                        out.errors.push((path, msg));
                    }
                }
            }
            if files.is_empty() {
                out.errors
                    .push((a.clone(), "directory holds no files".into()));
            }
            for f in files {
                push(&mut out, f);
            }
        } else if p.exists() {
            push(&mut out, p);
        } else if is_glob(a) {
            match glob::glob(a) {
                Ok(paths) => {
                    let mut n = 0;
                    for g in paths {
                        match g {
                            Ok(f) if f.is_file() => {
                                n += 1;
                                push(&mut out, f)
                            }
                            Ok(_) => {}
                            Err(e) => out
                                .errors
                                .push((e.path().display().to_string(), e.error().to_string())),
                        }
                    }
                    if n == 0 {
                        out.errors
                            .push((a.clone(), "pattern matched no files".into()));
                    }
                }
                Err(e) => out
                    .errors
                    .push((a.clone(), format!("invalid pattern: {e}"))),
            }
        } else {
            out.errors
                .push((a.clone(), "no such file or directory".into()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_dirs_globs() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        for f in ["a.log", "b.log.gz", "sub/c.log", ".hidden"] {
            std::fs::write(d.path().join(f), "x\n").unwrap();
        }
        let root = d.path().display().to_string();
        let got = discover(&[
            root.clone(),
            format!("{root}/*.log"),
            format!("{root}/missing"),
            "-".into(),
        ]);
        let names: Vec<String> = got
            .sources
            .iter()
            .map(|s| s.display().replace(&root, ""))
            .collect();
        assert_eq!(names, vec!["/a.log", "/b.log.gz", "/sub/c.log", "-"]);
        assert_eq!(got.errors.len(), 1);
        assert!(got.errors[0].0.ends_with("missing"));
    }
}
