//! schemathesis against the real binary: generated requests, valid and
//! not, from docs/openapi.yaml, with every check it has. Ignored by a plain
//! `cargo test`: scripts/test.sh installs schemathesis and runs it with
//! `--ignored`, naming the executable in SCHEMATHESIS.

mod support;

use std::process::Command;
use support::Service;

#[test]
#[ignore = "needs schemathesis: run scripts/test.sh"]
fn the_running_service_conforms_to_its_openapi_document() {
    let schemathesis = std::env::var("SCHEMATHESIS")
        .expect("SCHEMATHESIS names the schemathesis executable; run scripts/test.sh");
    let service = Service::start(&[]);
    let output = Command::new(schemathesis)
        .args(["run", "docs/openapi.yaml", "--checks", "all"])
        .args(["--url", &format!("http://{}", service.addr)])
        // Bounded, so that it stays well under a minute.
        .args(["--max-examples", "100"])
        .args(["--report", "junit", "--report-dir", "target/schemathesis"])
        .env("NO_COLOR", "1")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("schemathesis runs");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(report.contains("No issues found"), "{report}");
    // Nothing it sent broke the service: no 5xx in the access log.
    let server_errors: Vec<_> = service
        .logs()
        .into_iter()
        .filter(|l| l["event"] == "request" && l["status"].as_u64().is_some_and(|s| s >= 500))
        .collect();
    assert!(server_errors.is_empty(), "{server_errors:#?}");
}
