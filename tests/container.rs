//! The shipped image, run for real. These tests are ignored by a plain
//! `cargo test`: scripts/test.sh builds the image, then runs them with
//! `--ignored`, naming the image in SRE_KATA_TEST_IMAGE and the engine in
//! CONTAINER_ENGINE (podman or docker).

mod support;

use std::process::{Command, Output};
use support::Client;

/// The image under test and the engine that runs it.
struct Engine {
    engine: String,
    image: String,
}

impl Engine {
    fn from_env() -> Engine {
        let image = std::env::var("SRE_KATA_TEST_IMAGE")
            .expect("SRE_KATA_TEST_IMAGE names the image to test; run scripts/test.sh");
        let engine = std::env::var("CONTAINER_ENGINE").unwrap_or_else(|_| "podman".into());
        Engine { engine, image }
    }

    fn run(&self, args: &[&str]) -> Output {
        let output = Command::new(&self.engine).args(args).output().unwrap();
        assert!(
            output.status.success(),
            "{} {args:?}: {}",
            self.engine,
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    fn inspect_image(&self, format: &str) -> String {
        let output = self.run(&["image", "inspect", "--format", format, &self.image]);
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }

    /// Copies the file at `path` in `image` to `dest`, through a container
    /// that is created, never started, and removed.
    fn copy_out(&self, image: &str, path: &str, dest: &std::path::Path) {
        let name = "sre-kata-test-copy-out";
        let _ = Command::new(&self.engine)
            .args(["rm", "--force", name])
            .output();
        self.run(&["create", "--name", name, image]);
        let source = format!("{name}:{path}");
        let copied = Command::new(&self.engine)
            .args(["cp", &source, dest.to_str().unwrap()])
            .output()
            .unwrap();
        self.run(&["rm", "--force", name]);
        assert!(
            copied.status.success(),
            "{}",
            String::from_utf8_lossy(&copied.stderr)
        );
    }

    /// The entries of `image`'s only layer, as `tar -tv` lists them
    /// (mode, owner/group, name; size and time left out): read from the
    /// image's OCI layout, which `podman save --format oci-archive` and
    /// Docker 25's `docker save` both write.
    fn layer_entries(&self, image: &str) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("image.tar");
        let archive = archive.to_str().unwrap();
        if self.engine == "podman" {
            self.run(&[
                "save",
                "--format",
                "oci-archive",
                "--output",
                archive,
                image,
            ]);
        } else {
            self.run(&["save", "--output", archive, image]);
        }
        let status = Command::new("tar")
            .args(["-xf", archive, "-C"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(status.success());
        let blob = |digest: &serde_json::Value| {
            let hex = digest.as_str().unwrap().strip_prefix("sha256:").unwrap();
            dir.path().join("blobs/sha256").join(hex)
        };
        let json = |path: std::path::PathBuf| -> serde_json::Value {
            serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
        };
        let index = json(dir.path().join("index.json"));
        let manifest = json(blob(&index["manifests"][0]["digest"]));
        let layers = manifest["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 1, "{manifest}");
        // tar detects a compressed layer by itself.
        let listing = stdout_of(
            Command::new("tar")
                .arg("-tvf")
                .arg(blob(&layers[0]["digest"])),
        );
        listing
            .lines()
            .map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                format!("{} {} {}", fields[0], fields[1], fields[fields.len() - 1])
            })
            .collect()
    }
}

/// A running container, removed when dropped.
struct Container<'e> {
    engine: &'e Engine,
    name: String,
}

impl<'e> Container<'e> {
    fn start(engine: &'e Engine, name: &str) -> Container<'e> {
        let _ = Command::new(&engine.engine)
            .args(["rm", "--force", name])
            .output();
        engine.run(&[
            "run",
            "--detach",
            "--name",
            name,
            "--publish",
            "127.0.0.1::8080",
            &engine.image,
        ]);
        Container {
            engine,
            name: name.to_owned(),
        }
    }

    fn published_addr(&self) -> std::net::SocketAddr {
        let output = self.engine.run(&["port", &self.name, "8080/tcp"]);
        let text = String::from_utf8(output.stdout).unwrap();
        text.lines().next().unwrap().trim().parse().unwrap()
    }

    fn logs(&self) -> Vec<serde_json::Value> {
        let output = self.engine.run(&["logs", &self.name]);
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }
}

impl Drop for Container<'_> {
    fn drop(&mut self) {
        let _ = Command::new(&self.engine.engine)
            .args(["rm", "--force", &self.name])
            .output();
    }
}

/// Retries a request until the service in the container answers.
fn get_when_up(addr: std::net::SocketAddr, target: &str) -> support::Response {
    let deadline = std::time::Instant::now() + support::PATIENCE;
    loop {
        if let Some(mut conn) = Client::try_open(addr) {
            let request = format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n");
            if let Ok(response) = conn.try_exchange(&request) {
                return response;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the container never answered"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// The instructions of the Containerfile after `FROM`, by keyword, in order.
fn containerfile_instructions() -> Vec<String> {
    let text = std::fs::read_to_string(repo().join("Containerfile")).unwrap();
    let mut continued = false;
    let mut keywords = Vec::new();
    for line in text.lines().map(str::trim) {
        let starts = !continued && !line.is_empty() && !line.starts_with('#');
        continued = line.ends_with('\\');
        if starts {
            keywords.push(line.split_whitespace().next().unwrap().to_owned());
        }
    }
    assert_eq!(keywords.first().map(String::as_str), Some("FROM"));
    keywords.split_off(1)
}

#[test]
#[ignore = "needs the image: run scripts/test.sh"]
fn the_image_is_the_containerfiles_one_small_non_root_layer() {
    let engine = Engine::from_env();
    let size: u64 = engine.inspect_image("{{.Size}}").parse().unwrap();
    assert!(size <= 1024 * 1024, "the image is {size} bytes, over 1 MiB");
    assert_eq!(engine.inspect_image("{{.Config.User}}"), "65532:65532");
    assert_eq!(
        engine.inspect_image("{{json .Config.Entrypoint}}"),
        r#"["/sre-kata"]"#
    );
    assert!(engine
        .inspect_image("{{json .Config.ExposedPorts}}")
        .contains("8080/tcp"));
    assert_eq!(engine.inspect_image("{{len .RootFS.Layers}}"), "1");
    // The binary alone, root's and read-only: the service cannot rewrite it.
    assert_eq!(
        engine.layer_entries(&engine.image),
        ["-r-xr-xr-x 0/0 sre-kata"]
    );
    // No probe in the image (the Containerfile says why): dev.sh gives it
    // to the container instead.
    assert_eq!(engine.inspect_image("{{json .Config.Healthcheck}}"), "null");
    if engine.engine == "podman" {
        // Built from the Containerfile, step by step (buildah's history
        // records each instruction as "/bin/sh -c #(nop) KEYWORD ...").
        let history = engine.run(&[
            "image",
            "history",
            "--no-trunc",
            "--format",
            "{{.CreatedBy}}",
            &engine.image,
        ]);
        let mut steps: Vec<String> = String::from_utf8(history.stdout)
            .unwrap()
            .lines()
            .filter_map(|l| l.split("#(nop) ").nth(1))
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_owned)
            .collect();
        steps.reverse();
        assert_eq!(steps, containerfile_instructions());
        // Nothing that names the builder's version: --identity-label=false.
        assert_eq!(
            engine.inspect_image("{{index .Config.Labels \"io.buildah.version\"}}"),
            ""
        );
    }
    let label = |name: &str| {
        engine.inspect_image(&format!(
            "{{{{index .Config.Labels \"org.opencontainers.image.{name}\"}}}}"
        ))
    };
    let tag = engine.image.rsplit(':').next().unwrap();
    assert_eq!(label("revision"), tag);
    assert_eq!(label("version"), env!("CARGO_PKG_VERSION"));
    assert_eq!(label("licenses"), "MIT");
    assert!(
        humantime::parse_rfc3339(&label("created")).is_ok(),
        "{}",
        label("created")
    );
    // The repository URL, or "unknown" in a checkout without a remote.
    assert!(!label("source").is_empty());
}

#[test]
#[ignore = "needs the image: run scripts/test.sh"]
fn a_plain_build_of_the_containerfile_from_a_checkout_copies_its_binary_alone() {
    // As docs/image.md says to build by hand: the engine's own build, from
    // a checkout whose target/ holds the musl binary (and other files that
    // must stay out of the image), with no arguments.
    let engine = Engine::from_env();
    let checkout = tempfile::tempdir().unwrap();
    for file in ["Containerfile", ".dockerignore"] {
        std::fs::copy(repo().join(file), checkout.path().join(file)).unwrap();
    }
    let release = checkout
        .path()
        .join("target/x86_64-unknown-linux-musl/release");
    std::fs::create_dir_all(&release).unwrap();
    std::fs::write(checkout.path().join("secret.env"), "TOKEN=1\n").unwrap();
    std::fs::write(release.join("sre-kata.d"), "not the binary\n").unwrap();
    // The shipped image's binary, taken out of it.
    let binary = release.join("sre-kata");
    engine.copy_out(&engine.image, "/sre-kata", &binary);

    let tag = "localhost/sre-kata-test:plain-build";
    let context = checkout.path().to_str().unwrap();
    engine.run(&["build", "-f", "Containerfile", "-t", tag, context]);
    let entries = engine.layer_entries(tag);
    let built = checkout.path().join("built");
    engine.copy_out(tag, "/sre-kata", &built);
    engine.run(&["rmi", tag]);
    assert_eq!(entries, ["-r-xr-xr-x 0/0 sre-kata"]);
    assert_eq!(sha256_of(&built), sha256_of(&binary));
}

#[test]
#[ignore = "needs the image: run scripts/test.sh"]
fn the_container_serves_probes_healthy_and_stops_cleanly() {
    let engine = Engine::from_env();
    let container = Container::start(&engine, "sre-kata-test-serve");
    let addr = container.published_addr();

    let query = get_when_up(addr, "/query?param=acx333x");
    assert_eq!(query.status, 200);
    assert_eq!(query.json()["count"], 2);
    assert_eq!(get_when_up(addr, "/healthz").json()["status"], "ok");

    // The binary's own probe, inside the container, as an engine runs it.
    let probe = engine.run(&["exec", &container.name, "/sre-kata", "healthcheck"]);
    assert_eq!(String::from_utf8(probe.stdout).unwrap(), "healthy\n");

    // SIGTERM with a 10 s allowance: it must drain and exit 0 on its own,
    // not be killed when the allowance runs out.
    engine.run(&["stop", "--time", "10", &container.name]);
    let exit_code = engine.run(&[
        "inspect",
        "--format",
        "{{.State.ExitCode}}",
        &container.name,
    ]);
    assert_eq!(String::from_utf8(exit_code.stdout).unwrap().trim(), "0");
    let logs = container.logs();
    let start = logs
        .iter()
        .find(|l| l["event"] == "start")
        .expect("start line");
    assert_eq!(start["pid"], 1, "the service is PID 1");
    let exit = logs
        .iter()
        .find(|l| l["event"] == "exit")
        .expect("exit line");
    assert_eq!(
        exit["drain_end"], "quiet",
        "drained, not cut off by the grace period"
    );
    assert_eq!(
        logs.iter().find(|l| l["event"] == "shutdown").unwrap()["signal"],
        "SIGTERM"
    );
}

/// `scripts/dev.sh --container`, running: killed, and its container
/// removed, when dropped (a failed test leaves nothing running).
struct DevContainer<'e> {
    engine: &'e Engine,
    name: String,
    child: std::process::Child,
}

impl Drop for DevContainer<'_> {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = Command::new(&self.engine.engine)
            .args(["rm", "--force", &self.name])
            .output();
    }
}

#[test]
#[ignore = "needs the image: run scripts/test.sh"]
fn dev_container_runs_the_image_with_the_binarys_probe_and_drains_on_ctrl_c() {
    let engine = Engine::from_env();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let name = format!("sre-kata-dev-{port}");
    let _ = Command::new(&engine.engine)
        .args(["rm", "--force", &name])
        .output();
    // dev.sh --container builds (the image is there: a quick rebuild of
    // the same bytes), then runs it attached, as a developer does.
    let mut dev = DevContainer {
        engine: &engine,
        name: name.clone(),
        child: Command::new(repo().join("scripts/dev.sh"))
            .arg("--container")
            .env("PORT", port.to_string())
            .env("CONTAINER_ENGINE", &engine.engine)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    };
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    assert_eq!(get_when_up(addr, "/healthz").status, 200);

    if engine.engine == "podman" {
        let test = engine.run(&[
            "inspect",
            "--format",
            "{{json .Config.Healthcheck.Test}}",
            &name,
        ]);
        assert_eq!(
            String::from_utf8(test.stdout).unwrap().trim(),
            r#"["CMD","/sre-kata","healthcheck"]"#,
            "exec form: the image has no shell"
        );
        // Exit 0 only if the probe ran in the container and was answered.
        engine.run(&["healthcheck", "run", &name]);
    }

    // Ctrl-C: SIGINT to dev.sh, which is the attached engine by now.
    let killed = Command::new("kill")
        .args(["-INT", &dev.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = std::time::Instant::now() + support::PATIENCE;
    let status = loop {
        if let Some(status) = dev.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "dev.sh --container did not stop on SIGINT"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut dev.child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{status:?}: {stderr}");
    let left = Command::new(&engine.engine)
        .args(["inspect", &name])
        .output()
        .unwrap();
    assert!(
        !left.status.success(),
        "the container outlived dev.sh (--rm)"
    );
}

#[test]
#[ignore = "needs the image: run scripts/test.sh"]
fn push_dry_run_prints_the_commands_for_this_image() {
    let engine = Engine::from_env();
    let tag = engine.image.rsplit(':').next().unwrap().to_owned();
    let repo = env!("CARGO_MANIFEST_DIR");
    let output = Command::new("bash")
        .arg(format!("{repo}/scripts/push.sh"))
        .args(["--dry-run", "--allow-dirty", "sre-kata"])
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_ACCOUNT_ID", "123456789012")
        .env("CONTAINER_ENGINE", &engine.engine)
        .output()
        .unwrap();
    // Commands go to stderr; stdout is for the digest, which a dry run lacks.
    let commands = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "{commands}");
    assert!(output.stdout.is_empty(), "a dry run prints no digest");
    let registry = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
    // The remote tag names the content too: <commit>-<12 hex of the id>.
    let id = engine.inspect_image("{{.Id}}");
    let id = id.trim_start_matches("sha256:");
    let remote_tag = format!("{tag}-{}", &id[..12]);
    let remote = format!("{registry}/sre-kata:{remote_tag}");
    let lines: Vec<&str> = commands.lines().collect();
    assert_eq!(lines.len(), 4, "{commands}");
    assert_eq!(
        lines[0],
        format!(
            "aws ecr get-login-password --region eu-west-1 | {} login --username AWS --password-stdin {registry}",
            engine.engine
        )
    );
    assert!(
        lines[1].starts_with(&format!(
            "aws ecr describe-images --region eu-west-1 --repository-name sre-kata --image-ids imageTag={remote_tag} "
        )),
        "an existing tag is looked up first: {}",
        lines[1]
    );
    assert_eq!(
        lines[2].trim_end(),
        format!("{} tag sre-kata:{tag} {remote}", engine.engine)
    );
    assert!(
        lines[3].starts_with(&format!("{} push ", engine.engine)),
        "{}",
        lines[3]
    );
    assert!(lines[3].trim_end().ends_with(&remote), "{}", lines[3]);
    // Nothing ran: no image carries the registry's name.
    let tagged = Command::new(&engine.engine)
        .args(["image", "inspect", &remote])
        .output()
        .unwrap();
    assert!(!tagged.status.success(), "dry run tagged the image");
}

#[test]
#[ignore = "needs the image: run scripts/test.sh"]
fn the_shipped_binary_stays_under_its_memory_bound_whatever_is_offered() {
    use std::io::Write;
    // The glibc build the other tests run costs about a quarter per
    // connection: only the shipped musl binary tells whether the bound holds.
    let engine = Engine::from_env();
    let container = Container::start(&engine, "sre-kata-test-flood");
    let addr = container.published_addr();
    assert_eq!(get_when_up(addr, "/healthz").status, 200);
    let cap = container
        .logs()
        .iter()
        .find(|l| l["event"] == "start")
        .and_then(|l| l["max_connections"].as_u64())
        .expect("the start line names the cap") as usize;
    let files = support::raise_own_file_limit();
    assert!(files as usize > 3 * cap + 100, "needs {} sockets", 3 * cap);

    // Three times the cap, and every connection the server holds used once
    // (a used connection costs more than one that never sent a byte).
    let mut flood: Vec<std::net::TcpStream> = (0..3 * cap)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    for conn in flood.iter_mut().rev().take(cap) {
        let _ = conn.write_all(b"GET /query?param=abcabc HTTP/1.1\r\nHost: t\r\n\r\n");
    }
    assert_eq!(get_when_up(addr, "/healthz").status, 200);

    let pid = engine.run(&["inspect", "--format", "{{.State.Pid}}", &container.name]);
    let pid = String::from_utf8(pid.stdout).unwrap().trim().to_owned();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("VmRSS");
    assert!(
        rss_kib < 64 * 1024,
        "RSS {rss_kib} KiB with {} connections offered to a cap of {cap}",
        3 * cap
    );
    drop(flood);
}

/// The repository root.
fn repo() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs a command to success and returns its stdout.
fn stdout_of(command: &mut Command) -> String {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The sha256 of a file, as sha256sum prints it.
fn sha256_of(path: &std::path::Path) -> String {
    let line = stdout_of(Command::new("sha256sum").arg(path));
    line.split_whitespace().next().unwrap().to_owned()
}

/// The value after `prefix` on the first line of `text` that starts with it.
fn field<'t>(text: &'t str, prefix: &str) -> &'t str {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?} in:\n{text}"))
}

#[test]
#[ignore = "needs the image engine and two release builds: run scripts/test.sh"]
fn two_clean_checkouts_in_different_folders_build_the_same_bytes() {
    let engine = Engine::from_env();
    let head = stdout_of(
        Command::new("git")
            .args(["-C"])
            .arg(repo())
            .args(["rev-parse", "HEAD"]),
    );
    let scratch = tempfile::tempdir().unwrap();

    // B: a clone in a folder with a space, whose own target/ holds a stale
    // binary that must not be packaged, built into CARGO_TARGET_DIR.
    let checkout = scratch.path().join("second checkout");
    stdout_of(
        Command::new("git")
            .args(["clone", "--quiet"])
            .arg(repo())
            .arg(&checkout),
    );
    stdout_of(Command::new("git").arg("-C").arg(&checkout).args([
        "checkout",
        "--quiet",
        head.trim(),
    ]));
    let stale = checkout.join("target/x86_64-unknown-linux-musl/release/sre-kata");
    std::fs::create_dir_all(stale.parent().unwrap()).unwrap();
    std::fs::write(&stale, b"a stale binary that no build made").unwrap();
    let target_dir = scratch.path().join("elsewhere").join("target dir");
    // The same source label as the rebuild below, which takes this clone's.
    let source = stdout_of(Command::new("bash").arg("-c").arg(format!(
        "source {}/scripts/lib.sh && image_source",
        repo().display()
    )));
    let built = stdout_of(
        Command::new(checkout.join("scripts/build.sh"))
            .env("CARGO_TARGET_DIR", &target_dir)
            .env("IMAGE_SOURCE", source.trim())
            .env("CONTAINER_ENGINE", &engine.engine),
    );
    let binary = target_dir.join("x86_64-unknown-linux-musl/release/sre-kata");
    let binary_sha = sha256_of(&binary);
    assert!(
        field(&built, "binary: ").ends_with(&format!("sha256 {binary_sha})")),
        "{built}"
    );
    let image_id = field(&built, "image: ")
        .split("(id ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap()
        .to_owned();

    // Scanners can see the crates: cargo auditable's section is in the
    // binary, and the SBOM lists the runtime crates.
    let sections = stdout_of(Command::new("readelf").args(["-S", "-W"]).arg(&binary));
    assert!(
        sections.contains(".dep-v0"),
        "no cargo auditable data:\n{sections}"
    );
    let sbom: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(binary.with_file_name("sre-kata.cdx.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(sbom["bomFormat"], "CycloneDX");
    let components: Vec<&str> = sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    // Our fork under its own name: never taken for upstream's tiny_http.
    assert!(!components.contains(&"tiny_http"), "{components:?}");
    for name in [
        "sre-kata-tiny-http",
        "httparse",
        "percent-encoding",
        "mimalloc",
        "libc",
    ] {
        assert!(
            components.contains(&name),
            "{name} not in the SBOM: {components:?}"
        );
    }

    // The image holds the binary this build made, not the stale one.
    let image = format!("sre-kata:{}", head.trim());
    let name = "sre-kata-test-packaged";
    let _ = Command::new(&engine.engine)
        .args(["rm", "--force", name])
        .output();
    engine.run(&["create", "--name", name, &image]);
    let packaged = scratch.path().join("packaged");
    let copied = Command::new(&engine.engine)
        .args(["cp", &format!("{name}:/sre-kata")])
        .arg(&packaged)
        .output()
        .unwrap();
    let _ = Command::new(&engine.engine)
        .args(["rm", "--force", name])
        .output();
    assert!(copied.status.success(), "{copied:?}");
    assert_eq!(
        sha256_of(&packaged),
        binary_sha,
        "the image holds another binary"
    );
    // And it names the compilers a rebuild must use.
    let toolchain = engine.run(&[
        "image",
        "inspect",
        "--format",
        "{{index .Config.Labels \"sre-kata.toolchain\"}}",
        &image,
    ]);
    assert!(
        String::from_utf8_lossy(&toolchain.stdout).contains("rustc version"),
        "{toolchain:?}"
    );

    // A: scripts/rebuild.sh, a fresh clone in another temporary folder with
    // cargo's default target/, must give the same binary and image id.
    let rebuilt = stdout_of(
        Command::new(repo().join("scripts/rebuild.sh"))
            .args(["--commit", head.trim(), "--expect", &image_id])
            .env("CONTAINER_ENGINE", &engine.engine)
            .env_remove("CARGO_TARGET_DIR"),
    );
    assert_eq!(field(&rebuilt, "binary "), format!("sha256:{binary_sha}"));
    assert_eq!(field(&rebuilt, "image "), image_id);
}
