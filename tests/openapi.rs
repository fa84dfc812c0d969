//! docs/openapi.yaml and the router agree: the same paths, the same methods,
//! and every status code the service can answer is documented (and nothing
//! more). schemathesis then checks the running binary against the document
//! (tests/schemathesis.rs).

use serde_yaml::Value;
use sre_kata::problem::Problem;
use sre_kata::route::{route, Health, RequestHead, PATHS};
use std::collections::BTreeSet;

const SERVED: [&str; 2] = ["get", "head"];
const REFUSED: [&str; 6] = ["post", "put", "patch", "delete", "options", "trace"];

/// Statuses of the heads tiny_http refuses before routing, each of which
/// the service answers (vendor/tiny_http/PATCHES.md): read from the
/// library, so a new refusal is documented or this fails.
fn library() -> impl Iterator<Item = u16> {
    tiny_http::Reason::ALL
        .into_iter()
        .map(tiny_http::Reason::status)
}

fn spec() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.yaml");
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn documented(operation: &Value) -> BTreeSet<u16> {
    operation["responses"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().parse().unwrap())
        .collect()
}

fn status(method: &str, target: &str, declares_body: bool, health: Health) -> u16 {
    let head = RequestHead {
        method,
        target,
        declares_body,
    };
    route(&head, health, 8192).status
}

/// Every status the service can answer for GET (or HEAD) on `path`.
fn producible(path: &str, method: &str) -> BTreeSet<u16> {
    let long = format!("{path}?{}", "x".repeat(9000));
    let mut statuses: BTreeSet<u16> = [
        format!("{path}?param=acx333x"),
        path.to_owned(),
        format!("{path}?param=a&param=b"),
        format!("{path}?param=%FF"),
        long,
    ]
    .iter()
    .flat_map(|target| {
        [Health::Serving, Health::Draining]
            .into_iter()
            .flat_map(move |health| [false, true].map(|body| status(method, target, body, health)))
    })
    .collect();
    statuses.insert(Problem::Internal.status()); // a handler panic, caught by the server
    statuses.extend(library());
    statuses
}

#[test]
fn the_document_has_exactly_the_routers_paths() {
    let spec = spec();
    let documented: BTreeSet<&str> = spec["paths"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(documented, PATHS.into_iter().collect());
    for path in PATHS {
        assert_ne!(status("GET", path, false, Health::Serving), 404, "{path}");
    }
    assert_eq!(status("GET", "/undocumented", false, Health::Serving), 404);
}

/// Undocumented methods are the ones answered 405: that is how OpenAPI
/// tools (schemathesis's `unsupported_method` check among them) read it.
#[test]
fn the_documented_methods_are_served_and_every_other_is_405() {
    let spec = spec();
    for path in PATHS {
        let item = &spec["paths"][path];
        let methods: BTreeSet<&str> = item
            .as_mapping()
            .unwrap()
            .keys()
            .map(|k| k.as_str().unwrap())
            .collect();
        assert_eq!(methods, SERVED.into_iter().collect(), "{path}");
        for method in SERVED {
            assert_ne!(
                status(&method.to_uppercase(), path, false, Health::Serving),
                405,
                "{method} {path}"
            );
        }
        for method in REFUSED {
            assert_eq!(
                status(&method.to_uppercase(), path, false, Health::Serving),
                405,
                "{method} {path}"
            );
        }
    }
    let not_allowed = &spec["components"]["responses"]["MethodNotAllowed"];
    assert_eq!(
        not_allowed["headers"]["Allow"]["$ref"],
        "#/components/headers/Allow"
    );
    assert_eq!(
        spec["components"]["headers"]["Allow"]["schema"]["const"],
        sre_kata::route::ALLOWED_METHODS
    );
}

#[test]
fn every_status_the_service_can_answer_is_documented_and_no_other() {
    let spec = spec();
    for path in PATHS {
        for method in SERVED {
            let documented = documented(&spec["paths"][path][method]);
            assert_eq!(
                documented,
                producible(path, &method.to_uppercase()),
                "{method} {path}"
            );
        }
    }
}

#[test]
fn the_problem_types_are_documented() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.yaml")).unwrap();
    for problem in [
        Problem::MissingParam,
        Problem::RepeatedParam,
        Problem::ParamNotUtf8,
    ] {
        let name = problem.type_uri().rsplit(':').next().unwrap();
        assert!(text.contains(name), "{name}");
    }
    assert!(text.contains("tag:sre-kata,2026:problem:"));
}

#[test]
fn the_version_is_the_crates() {
    assert_eq!(spec()["info"]["version"], env!("CARGO_PKG_VERSION"));
}
