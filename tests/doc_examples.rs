//! The whenready command lines of the documentation must parse: README.md, the
//! reference under docs/, CONTRIBUTING.md, bench/README.md and examples/. Every one
//! is run through the real command line and configuration code, so that
//! documentation cannot drift from the binary.

use std::path::{Path, PathBuf};
use whenready::cli::Cli;
use whenready::config::Config;
use whenready::env::Env;

/// One command line found in a file: where, and the arguments after `whenready`.
struct Found {
    place: String,
    args: Vec<String>,
}

fn is_whenready(word: &str) -> bool {
    word == "whenready" || word.ends_with("/whenready")
}

/// Sample values for the shell variables the examples use as whole arguments.
fn substitute(word: String) -> String {
    match word.as_str() {
        "$DATABASE_URL" | "${DATABASE_URL}" => "postgres://app@db/app".into(),
        _ => word,
    }
}

/// `["whenready", "a", "b"]` anywhere on the line (JSON / YAML / Dockerfile exec form);
/// `args: [...]` of the Kubernetes init container that runs the whenready image.
fn from_json_array(line: &str) -> Option<Vec<String>> {
    let start = line.find('[')?;
    let end = line.rfind(']')?;
    let items: Vec<String> = serde_json::from_str(&line[start..=end]).ok()?;
    if let Some(pos) = items.iter().position(|w| is_whenready(w)) {
        return Some(items[pos + 1..].to_vec());
    }
    line.trim_start().starts_with("args:").then_some(items)
}

/// A shell command line that runs whenready: as the first word after variable
/// assignments and `exec`, or after `tini --` / `docker run ... IMAGE`. (Other
/// mentions, such as `docker build -t whenready .`, are names, not commands.)
fn from_shell(line: &str) -> Option<Vec<String>> {
    let words = shell_words::split(line).ok()?;
    let pos = words.iter().position(|w| is_whenready(w))?;
    let runs = words[..pos].iter().all(|w| w.contains('=') || w == "exec")
        || matches!(
            words[..pos].last().map(String::as_str),
            Some("--" | "IMAGE")
        );
    runs.then(|| words[pos + 1..].iter().cloned().map(substitute).collect())
}

fn scan(path: &Path, found: &mut Vec<Found>) {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let markdown = path.extension().is_some_and(|e| e == "md");
    let kubernetes = path.to_string_lossy().contains("kubernetes") && !markdown;
    let mut in_code = false;
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if markdown && trimmed.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        // Comments, prose, and Dockerfile lines that copy the binary rather than run it.
        if (markdown && !in_code)
            || trimmed.starts_with('#')
            || trimmed.starts_with("COPY ")
            || trimmed.starts_with("ADD ")
        {
            continue;
        }
        let args = if line.contains("\"whenready\"")
            || line.contains("\"/whenready\"")
            || (kubernetes && trimmed.starts_with("args:"))
        {
            from_json_array(line)
        } else if line.split_whitespace().any(is_whenready) {
            from_shell(line)
        } else {
            None
        };
        // The synopsis (`whenready [OPTIONS] [TARGET]...`) is grammar, not an example.
        if let Some(args) = args.filter(|a| !a.iter().any(|w| w == "[OPTIONS]")) {
            found.push(Found {
                place: format!("{}:{}", path.display(), n + 1),
                args,
            });
        }
    }
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn every_documented_command_line_parses() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut paths = vec![
        root.join("README.md"),
        root.join("CONTRIBUTING.md"),
        root.join("bench/README.md"),
    ];
    let mut docs = Vec::new();
    files(&root.join("docs"), &mut docs);
    paths.extend(
        docs.into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "md")),
    );
    files(&root.join("examples"), &mut paths);
    let mut found = Vec::new();
    for p in &paths {
        scan(p, &mut found);
    }
    assert!(
        found.len() >= 12,
        "only {} command lines found: is the scanner broken?",
        found.len()
    );
    for f in &found {
        let argv = std::iter::once("whenready".to_string()).chain(f.args.iter().cloned());
        let cli =
            Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{}: {:?}: {e}", f.place, f.args));
        // The variables the examples name for secret HTTP headers (#bearer-env=).
        let env = Env::from_pairs(&[("API_TOKEN", "sample-token")]);
        if let Err(e) = Config::from_cli(cli, &env) {
            panic!("{}: {:?}: {e}", f.place, f.args);
        }
    }
}

#[test]
fn every_kubernetes_manifest_is_yaml_and_runs_whenready() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/kubernetes");
    let mut manifests = Vec::new();
    files(&dir, &mut manifests);
    manifests.retain(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"));
    assert!(manifests.len() >= 3, "{manifests:?}");
    for path in manifests {
        let text = std::fs::read_to_string(&path).unwrap();
        let docs = yaml_rust2::YamlLoader::load_from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not YAML: {e}", path.display()));
        for d in &docs {
            for key in ["apiVersion", "kind"] {
                assert!(
                    d[key].as_str().is_some(),
                    "{}: a document without {key}",
                    path.display()
                );
            }
            assert!(
                d["metadata"]["name"].as_str().is_some(),
                "{}: a {} without a name",
                path.display(),
                d["kind"].as_str().unwrap_or("")
            );
        }
        // Each manifest's init containers run whenready: the scanner finds them
        // (and the test above parses them).
        let mut found = Vec::new();
        scan(&path, &mut found);
        assert!(
            !found.is_empty(),
            "{}: no whenready command line",
            path.display()
        );
    }
}

#[test]
fn the_scanner_finds_each_form() {
    assert_eq!(
        from_json_array(r#"  command: ["whenready", "-t", "2m", "db:1"]"#).unwrap(),
        ["-t", "2m", "db:1"]
    );
    assert_eq!(
        from_json_array(r#"test: ["CMD", "/whenready", "--once", "db:1"]"#).unwrap(),
        ["--once", "db:1"]
    );
    assert_eq!(
        from_json_array(r#"args: ["db:1", "--timeout", "5m"]"#).unwrap(),
        ["db:1", "--timeout", "5m"]
    );
    assert_eq!(
        from_shell(r#"PW=x whenready -q "$DATABASE_URL" -- echo 'a b'"#).unwrap(),
        ["-q", "postgres://app@db/app", "--", "echo", "a b"]
    );
    assert!(from_shell("echo nothing here").is_none());
    assert!(from_shell("docker build -t whenready .").is_none());
    assert_eq!(
        from_shell("docker run --init IMAGE whenready db:1").unwrap(),
        ["db:1"]
    );
}
