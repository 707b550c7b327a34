//! The source tree keeps the shape docs/DESIGN.md draws: each module is one stage of the
//! data flow and imports only stages before it, and no function in the read path grows past
//! what a reader can hold. These tests read the crate's own sources.

use std::path::{Path, PathBuf};

/// The stages in data-flow order. A module may import modules of its own stage or earlier.
const STAGES: &[&[&str]] = &[
    &["model"],
    &["error"],
    &["ingest", "catalog", "vfs"],
    &["wal", "warm"],
    &["cold"],
    &["read"],
    &["query"],
    &["tsm"],
    &["engine"],
    &["export"],
    &["server"],
];

/// Modules that stand outside the flow: the crate root wires everything together.
const ROOT: &str = "lib";

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("list src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`None` for the binaries).
fn module_of(path: &Path) -> Option<String> {
    let rel = path.strip_prefix(src()).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    if first == "bin" {
        return None;
    }
    Some(first.trim_end_matches(".rs").to_string())
}

fn stage_of(module: &str) -> Option<usize> {
    STAGES.iter().position(|s| s.contains(&module))
}

/// The top-level modules named after each `crate::` in `text` (comments removed), reading
/// brace groups: `use crate::{a::X, b};` names `a` and `b`.
fn crate_imports(text: &str) -> Vec<String> {
    let code: String = text
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.push(first_ident(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            out.push(first_ident(&item));
        } else {
            out.push(first_ident(rest));
        }
    }
    out.retain(|m| !m.is_empty());
    out
}

fn first_ident(text: &str) -> String {
    text.trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

#[test]
fn import_parser_reads_paths_and_groups() {
    let text = "use crate::a::B;\nuse crate::{c::D, e, f::{G, h}};\n// crate::zz in a comment\nlet x = crate::i::j();";
    assert_eq!(crate_imports(text), vec!["a", "c", "e", "f", "i"]);
}

#[test]
fn every_module_is_a_known_stage() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut unknown: Vec<String> = files
        .iter()
        .filter_map(|f| module_of(f))
        .filter(|m| m != ROOT && stage_of(m).is_none())
        .collect();
    unknown.sort();
    unknown.dedup();
    assert!(unknown.is_empty(), "modules outside the stage list: {unknown:?}");
}

#[test]
fn no_module_imports_a_later_stage() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut violations = Vec::new();
    for file in &files {
        let Some(module) = module_of(file) else { continue };
        let Some(stage) = stage_of(&module) else { continue };
        let text = std::fs::read_to_string(file).expect("read source");
        for import in crate_imports(&text) {
            // Items re-exported at the crate root are named by their own module instead.
            if let Some(target) = stage_of(&import)
                && target > stage
            {
                violations.push(format!("{} ({module}) imports {import}", file.display()));
            }
            if import.chars().next().is_some_and(char::is_uppercase) {
                violations.push(format!(
                    "{} ({module}) imports `crate::{import}` through the crate root: name its module",
                    file.display()
                ));
            }
        }
    }
    violations.sort();
    violations.dedup();
    assert!(
        violations.is_empty(),
        "imports against the data flow:\n{}",
        violations.join("\n")
    );
}

/// Lines of each `fn` in `text`: from its signature to the closing brace at its indentation.
fn function_lengths(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let after_vis = ["pub(crate) ", "pub(super) ", "pub "]
            .iter()
            .find_map(|v| trimmed.strip_prefix(v))
            .unwrap_or(trimmed);
        let after_const = after_vis.strip_prefix("const ").unwrap_or(after_vis);
        let Some(sig) = after_const.strip_prefix("fn ") else {
            continue;
        };
        let name = first_ident(sig);
        let close = format!("{indent}}}");
        let end = (i..lines.len()).find(|&j| {
            lines[j] == close
                || (j == i && line.trim_end().ends_with('}'))
                || (lines[j].trim_end().ends_with(';') && !lines[i..=j].concat().contains('{'))
        });
        if let Some(end) = end {
            out.push((name, end - i + 1));
        }
    }
    out
}

#[test]
fn function_length_reader_counts_signature_to_closing_brace() {
    let text = "fn a() {\n    x();\n}\n\nimpl T {\n    pub(crate) fn b(\n        y: u8,\n    ) -> u8 {\n        y\n    }\n    fn c();\n}\n";
    assert_eq!(
        function_lengths(text),
        vec![("a".to_string(), 3), ("b".to_string(), 5), ("c".to_string(), 1)]
    );
}

#[test]
fn no_function_in_the_read_path_passes_120_lines() {
    let mut files = Vec::new();
    for dir in ["cold", "read", "query"] {
        rust_files(&src().join(dir), &mut files);
    }
    let mut long = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read source");
        for (name, lines) in function_lengths(&text) {
            if lines > 120 {
                long.push(format!("{}: fn {name} is {lines} lines", file.display()));
            }
        }
    }
    assert!(long.is_empty(), "split these functions:\n{}", long.join("\n"));
}
