//! The library's modules in pipeline order, each importing only the ones
//! before it: a change that makes a stage reach back up (the aggregate
//! asking the report, a parser asking the mapping stage) fails here, with
//! the file and the import named. The order is the one `src/lib.rs` lists.

use std::path::Path;

/// Modules by rank: a module may use modules of a lower rank only.
const ORDER: &[(&str, u32)] = &[
    ("text", 0),
    ("status", 0),
    ("error", 0),
    ("privacy", 0),
    ("time", 1),
    ("input", 2),
    ("format", 3),
    ("event", 4),
    ("classify", 5),
    ("retry", 6),
    ("aggregate", 7),
    ("scan", 8),
    ("detect", 9),
    ("report", 10),
    ("output", 11),
    ("config", 12),
    ("analyze", 13),
    ("state", 14),
    ("simulate", 15),
];

fn rank(module: &str) -> Option<u32> {
    ORDER.iter().find(|(m, _)| *m == module).map(|(_, r)| *r)
}

/// The `crate::x` paths a source file names outside comments.
fn uses(src: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in src.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out
}

fn visit(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            visit(&p, files);
        } else if p.extension().is_some_and(|x| x == "rs") {
            files.push(p);
        }
    }
}

#[test]
fn every_module_imports_only_modules_before_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    visit(&src, &mut files);
    files.sort();
    let mut wrong = Vec::new();
    let mut seen = 0;
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = top.trim_end_matches(".rs");
        // The binary (main.rs, cli.rs) sits on top and may use anything.
        let Some(r) = rank(module) else {
            assert!(
                matches!(module, "main" | "cli" | "lib"),
                "{}: a module missing from ORDER",
                rel.display()
            );
            continue;
        };
        seen += 1;
        // Test code may drive the stages above its module (a format's
        // tests check its lines through the field mapping): only library
        // code is held to the order. Tests are `tests.rs` files and an
        // inline `mod tests { ... }` (last in its file).
        if rel.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(f).unwrap();
        let library = text.split("#[cfg(test)]\nmod tests {").next().unwrap_or("");
        for used in uses(library) {
            if used == module {
                continue;
            }
            match rank(&used) {
                Some(u) if u < r => {}
                Some(_) => wrong.push(format!("{} uses crate::{used}", rel.display())),
                None => wrong.push(format!(
                    "{} uses crate::{used}, not in ORDER",
                    rel.display()
                )),
            }
        }
    }
    assert!(seen > 40, "only {seen} source files found");
    assert!(
        wrong.is_empty(),
        "imports up the pipeline:\n  {}",
        wrong.join("\n  ")
    );
}

#[test]
fn lib_lists_modules_in_pipeline_order() {
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    let listed: Vec<u32> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|m| rank(m.trim_end_matches(';')).unwrap_or_else(|| panic!("{m}: not in ORDER")))
        .collect();
    assert_eq!(listed.len(), ORDER.len());
    assert!(
        listed.is_sorted(),
        "src/lib.rs lists modules out of order: {listed:?}"
    );
}
