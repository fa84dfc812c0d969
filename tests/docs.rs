//! The documents a newcomer reads: the README stays short and points to
//! the rest, every relative link and anchor leads somewhere, and the
//! deploy guide covers what its readers need, in order.

#[path = "support/markdown.rs"]
mod markdown;

use std::path::{Path, PathBuf};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

const PAGES: [&str; 8] = [
    "deploy.md",
    "api.md",
    "operations.md",
    "security.md",
    "image.md",
    "ci.md",
    "performance.md",
    "architecture.md",
];

/// Every Markdown document of the repository but the vendored library's.
fn documents() -> Vec<PathBuf> {
    let listed = std::process::Command::new("git")
        .args([
            "ls-files",
            "--cached",
            "--others",
            "--exclude-standard",
            "*.md",
        ])
        .current_dir(repo())
        .output()
        .unwrap();
    let docs: Vec<PathBuf> = String::from_utf8(listed.stdout)
        .unwrap()
        .lines()
        .filter(|f| !f.starts_with("vendor/") || f.ends_with("PATCHES.md"))
        .map(|f| repo().join(f))
        .collect();
    assert!(docs.len() > PAGES.len(), "{docs:?}");
    docs
}

/// The targets of Markdown links outside fenced code: `[text](target)`.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let end = after.find(')').unwrap_or(after.len());
            let target = after[..end].split_whitespace().next().unwrap_or_default();
            out.push(target.to_owned());
            rest = &after[end..];
        }
    }
    out
}

#[test]
fn the_readme_is_short() {
    let size = std::fs::metadata(repo().join("README.md")).unwrap().len();
    assert!(
        size <= 6 * 1024,
        "README.md is {size} bytes; move detail to docs/"
    );
}

#[test]
fn the_readme_indexes_every_page() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let linked = links(&readme);
    for page in PAGES {
        assert!(
            repo().join("docs").join(page).is_file(),
            "docs/{page} is missing"
        );
        assert!(
            linked.contains(&format!("docs/{page}")),
            "README.md does not link docs/{page}"
        );
    }
}

#[test]
fn every_link_and_anchor_leads_somewhere() {
    let mut checked = 0;
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        for target in links(&text) {
            if target.starts_with("http://")
                || target.starts_with("https://")
                || target.starts_with("mailto:")
            {
                continue;
            }
            let (path, anchor) = match target.split_once('#') {
                Some((p, a)) => (p, Some(a)),
                None => (target.as_str(), None),
            };
            let file = if path.is_empty() {
                doc.clone()
            } else {
                doc.parent().unwrap().join(path)
            };
            assert!(file.exists(), "{}: {target} leads nowhere", doc.display());
            if let Some(anchor) = anchor {
                let headings = markdown::anchors(&std::fs::read_to_string(&file).unwrap());
                assert!(
                    headings.iter().any(|h| h == anchor),
                    "{}: {target}: no heading #{anchor} in {}",
                    doc.display(),
                    file.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} links");
}

#[test]
fn the_deploy_guide_goes_from_clone_to_url_in_order() {
    let guide = std::fs::read_to_string(repo().join("docs/deploy.md")).unwrap();
    let at = |words: &str| {
        guide
            .find(words)
            .unwrap_or_else(|| panic!("docs/deploy.md lacks {words:?}"))
    };
    // Prerequisites, then the one export, then the steps in order: the
    // release workflow builds and signs before the first deploy, which
    // deploys that signed image, and GitHub learns the deploy role after.
    let order = [
        "## Prerequisites",
        "## Each new shell",
        "export AWS_REGION=",
        "./scripts/bootstrap.sh",
        "./scripts/github-setup.sh",
        "4. **The first release**",
        "./scripts/deploy.sh ecs-express REGISTRY/sre-kata@sha256:",
        "6. **GitHub again**",
        "## Releases and rollbacks",
        "## Teardown",
        "## What it costs",
    ];
    for pair in order.windows(2) {
        assert!(
            at(pair[0]) < at(pair[1]),
            "{:?} must come before {:?}",
            pair[0],
            pair[1]
        );
    }
    // Every step says how long it takes, and the teardown is complete.
    assert!(guide.matches("minute").count() >= 4);
    for command in [
        "./scripts/destroy.sh ecs-express --confirm ecs-express",
        "aws ecr batch-delete-image --repository-name sre-kata --image-ids file://",
        "terraform -chdir=infra/stacks/registry destroy",
        "./scripts/deploy.sh ecs-express last-good",
    ] {
        at(command);
    }
    assert!(!guide.contains("..."), "no unfinished commands");
    // No step deploys an unsigned image, and no shell needs a second export.
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    for (name, text) in [("docs/deploy.md", &guide), ("README.md", &readme)] {
        for line in text
            .lines()
            .filter(|l| l.starts_with("./scripts/deploy.sh"))
        {
            assert!(!line.contains("--allow-unsigned"), "{name}: {line}");
        }
        assert!(!text.contains("export TF_STATE_BUCKET="), "{name}");
    }
}

#[test]
fn no_document_asks_for_settings_in_the_environment() {
    let listed = std::process::Command::new("git")
        .args([
            "ls-files",
            "--cached",
            "--others",
            "--exclude-standard",
            "*.md",
        ])
        .current_dir(repo())
        .output()
        .unwrap();
    let files = String::from_utf8(listed.stdout).unwrap();
    let mut checked = 0;
    for file in files.lines().filter(|f| !f.starts_with("vendor/")) {
        let text = std::fs::read_to_string(repo().join(file)).unwrap();
        checked += 1;
        // Stack settings live in the committed terraform.tfvars, so that an
        // administrator's shell and the release workflow apply the same.
        assert!(
            !text.contains("TF_VAR_"),
            "{file} sets a stack setting in the environment"
        );
    }
    assert!(checked >= 1);
}
