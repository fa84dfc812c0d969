//! The CloudWatch Logs metric filters of `infra/modules/ecs-express-service`
//! count what their names say, on the lines the real binary writes.
//!
//! The binary runs with its production defaults; each case a filter counts
//! (an answer, a 404, a refused head, a 505 for HTTP/2.0, a 503 while
//! draining) is sent to it, and its `request` lines go through an evaluator
//! of the JSON filter-pattern syntax, for the forms the filters use, as
//! CloudWatch Logs documents them ("Filter pattern syntax for metric
//! filters", JSON log events): `{ $.a = "x" }` (`*` a wildcard), numeric
//! `=`, `!=`, `<`, `<=`, `>`, `>=`, `NOT EXISTS`, `IS NULL`, `&&` and `||`.
//! A selector that names no field makes its comparison false. The saved
//! Logs Insights queries name fields of the same lines, checked here too.

mod support;

use serde_json::Value;
use std::collections::BTreeMap;
use support::Service;

/// One metric filter: its pattern and the value it emits per match.
struct Filter {
    pattern: Pattern,
    value: String,
}

/// Reads the filters' patterns and values from the Terraform.
fn filters() -> BTreeMap<String, Filter> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/infra/modules/ecs-express-service/main.tf"
    );
    let body: hcl::Body = hcl::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut found = BTreeMap::new();
    for block in body.blocks().filter(|b| {
        b.identifier() == "resource"
            && b.labels().first().map(|l| l.as_str()) == Some("aws_cloudwatch_log_metric_filter")
    }) {
        let name = block.labels()[1].as_str().to_owned();
        let text = string_attribute(block.body(), "pattern");
        let transformation = block
            .body()
            .blocks()
            .find(|b| b.identifier() == "metric_transformation")
            .expect("a metric filter has a metric_transformation");
        let filter = Filter {
            pattern: Pattern::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}: {text}")),
            value: string_attribute(transformation.body(), "value"),
        };
        found.insert(name, filter);
    }
    found
}

fn string_attribute(body: &hcl::Body, key: &str) -> String {
    match body.attributes().find(|a| a.key() == key).map(|a| a.expr()) {
        Some(hcl::Expression::String(s)) => s.clone(),
        other => panic!("{key} is {other:?}, not a literal string"),
    }
}

/// A JSON filter pattern, parsed.
#[derive(Debug)]
enum Pattern {
    Or(Vec<Pattern>),
    And(Vec<Pattern>),
    Compare(String, Op, Literal),
    NotExists(String),
    IsNull(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug)]
enum Literal {
    Text(String),
    Number(f64),
}

/// The tokens of a pattern: selectors, operators, literals, parentheses.
fn tokens(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            ' ' | '\t' => {
                chars.next();
            }
            '"' => {
                chars.next();
                let mut s = String::from('"');
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => s.push(chars.next().ok_or("a dangling escape")?),
                        Some(c) => s.push(c),
                        None => return Err("an unclosed string".into()),
                    }
                }
                out.push(s);
            }
            '(' | ')' | '{' | '}' => {
                out.push(c.to_string());
                chars.next();
            }
            '=' | '!' | '<' | '>' | '&' | '|' => {
                let mut op = String::from(c);
                chars.next();
                if let Some(&next) = chars.peek() {
                    if matches!(next, '=' | '&' | '|') {
                        op.push(next);
                        chars.next();
                    }
                }
                out.push(op);
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if " \t(){}=!<>&|\"".contains(c) {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                out.push(word);
            }
        }
    }
    Ok(out)
}

impl Pattern {
    fn parse(text: &str) -> Result<Pattern, String> {
        let tokens = tokens(text)?;
        let inner = match (
            tokens.first().map(String::as_str),
            tokens.last().map(String::as_str),
        ) {
            (Some("{"), Some("}")) => &tokens[1..tokens.len() - 1],
            _ => return Err("a JSON pattern is enclosed in { }".into()),
        };
        let mut at = 0;
        let pattern = Self::or(inner, &mut at)?;
        if at != inner.len() {
            return Err(format!("unexpected {:?}", inner[at]));
        }
        Ok(pattern)
    }

    fn or(t: &[String], at: &mut usize) -> Result<Pattern, String> {
        let mut terms = vec![Self::and(t, at)?];
        while t.get(*at).map(String::as_str) == Some("||") {
            *at += 1;
            terms.push(Self::and(t, at)?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Pattern::Or(terms)
        })
    }

    fn and(t: &[String], at: &mut usize) -> Result<Pattern, String> {
        let mut terms = vec![Self::term(t, at)?];
        while t.get(*at).map(String::as_str) == Some("&&") {
            *at += 1;
            terms.push(Self::term(t, at)?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Pattern::And(terms)
        })
    }

    fn term(t: &[String], at: &mut usize) -> Result<Pattern, String> {
        let next = |at: &mut usize| -> Result<String, String> {
            let token = t.get(*at).cloned().ok_or("the pattern ends early")?;
            *at += 1;
            Ok(token)
        };
        let first = next(at)?;
        if first == "(" {
            let inner = Self::or(t, at)?;
            return match next(at)?.as_str() {
                ")" => Ok(inner),
                other => Err(format!("expected ), got {other}")),
            };
        }
        let selector = first
            .strip_prefix("$.")
            .ok_or_else(|| format!("{first} is not a $. selector"))?
            .to_owned();
        let op = next(at)?;
        let op = match op.as_str() {
            "=" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "NOT" => {
                return match next(at)?.as_str() {
                    "EXISTS" => Ok(Pattern::NotExists(selector)),
                    other => Err(format!("NOT {other} is not a documented form")),
                }
            }
            "IS" => {
                return match next(at)?.as_str() {
                    "NULL" => Ok(Pattern::IsNull(selector)),
                    other => Err(format!("IS {other} is not a form used here")),
                }
            }
            other => return Err(format!("{other} is not a documented operator")),
        };
        let literal = next(at)?;
        let literal = match literal.strip_prefix('"') {
            Some(text) => Literal::Text(text.to_owned()),
            None => Literal::Number(
                literal
                    .parse()
                    .map_err(|_| format!("{literal} is neither a string nor a number"))?,
            ),
        };
        if matches!(literal, Literal::Text(_)) && !matches!(op, Op::Eq | Op::Ne) {
            return Err("strings compare with = and != only".into());
        }
        Ok(Pattern::Compare(selector, op, literal))
    }

    fn matches(&self, line: &Value) -> bool {
        match self {
            Pattern::Or(terms) => terms.iter().any(|t| t.matches(line)),
            Pattern::And(terms) => terms.iter().all(|t| t.matches(line)),
            Pattern::NotExists(field) => select(line, field).is_none(),
            Pattern::IsNull(field) => select(line, field) == Some(&Value::Null),
            Pattern::Compare(field, op, literal) => match (select(line, field), literal) {
                (Some(Value::String(s)), Literal::Text(want)) => {
                    let equal = wildcard(want, s);
                    if *op == Op::Eq {
                        equal
                    } else {
                        !equal
                    }
                }
                (Some(Value::Number(n)), Literal::Number(want)) => {
                    let n = n.as_f64().unwrap();
                    match op {
                        Op::Eq => n == *want,
                        Op::Ne => n != *want,
                        Op::Lt => n < *want,
                        Op::Le => n <= *want,
                        Op::Gt => n > *want,
                        Op::Ge => n >= *want,
                    }
                }
                _ => false,
            },
        }
    }
}

/// The value a `$.a.b` selector names.
fn select<'v>(line: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(line, |v, key| v.get(key))
}

/// A string literal with `*` for any run of characters.
fn wildcard(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    if !text.ends_with(last) {
        return false;
    }
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

#[test]
fn the_evaluator_reads_the_documented_forms_as_documented() {
    let line: Value = serde_json::json!({"event": "request", "status": 505, "error": "version"});
    let yes = [
        r#"{ $.event = "request" }"#,
        r#"{ $.event = "req*" }"#,
        r#"{ $.error = "*" }"#,
        r#"{ $.status >= 500 && $.status < 600 }"#,
        r#"{ $.status = 404 || $.error = "version" }"#,
        r#"{ $.missing NOT EXISTS }"#,
        r#"{ ($.status != 200) && $.event != "exit" }"#,
    ];
    for text in yes {
        assert!(Pattern::parse(text).unwrap().matches(&line), "{text}");
    }
    let no = [
        r#"{ $.event = "requests" }"#,
        r#"{ $.missing = "*" }"#,
        r#"{ $.error NOT EXISTS }"#,
        r#"{ $.status > 505 }"#,
        r#"{ $.event = "request" && $.status < 500 }"#,
        r#"{ $.status = "505" }"#,
    ];
    for text in no {
        assert!(!Pattern::parse(text).unwrap().matches(&line), "{text}");
    }
    for undocumented in [
        r#"{ $.error EXISTS }"#,
        r#"{ $.status > "5" }"#,
        "$.event = x",
    ] {
        assert!(Pattern::parse(undocumented).is_err(), "{undocumented}");
    }
}

/// The request lines of one run of the binary, by the case that caused
/// each: production defaults, and every case a filter tells apart. The
/// binary runs once for every test that reads them.
fn request_lines() -> &'static BTreeMap<&'static str, Value> {
    static LINES: std::sync::OnceLock<BTreeMap<&'static str, Value>> = std::sync::OnceLock::new();
    LINES.get_or_init(run_the_binary)
}

fn run_the_binary() -> BTreeMap<&'static str, Value> {
    let mut service = Service::start(&[]);
    let query = service.get("/query?param=acx333x");
    assert_eq!(query.status, 200);
    assert_eq!(service.get("/nowhere").status, 404);
    let mut client = service.connect();
    client.send("GET /healthz HTTP/2.0\r\nHost: t\r\n\r\n");
    assert_eq!(client.response().status, 505);
    let mut client = service.connect();
    client.send("GET /healthz HTTP/1.1\r\n\r\n");
    assert_eq!(client.response().status, 400);
    // A drain: /healthz answers 503 on a connection opened before it.
    let mut open = service.connect();
    open.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(open.response().status, 200);
    service.signal(libc::SIGTERM);
    service.wait_for_log(|l| l["event"] == "shutdown");
    open.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(open.response().status, 503);
    drop(open);
    service.wait_exit(support::PATIENCE);
    service.wait_for_log(|l| l["event"] == "exit");

    let requests: Vec<Value> = service
        .logs()
        .into_iter()
        .filter(|l| l["event"] == "request")
        .collect();
    let find = |what: &str, pred: &dyn Fn(&Value) -> bool| -> Value {
        let found: Vec<&Value> = requests.iter().filter(|l| pred(l)).collect();
        assert_eq!(found.len(), 1, "{what}: {requests:#?}");
        found[0].clone()
    };
    BTreeMap::from([
        (
            "answered",
            find("200", &|l| l["status"] == 200 && l["path"] == "/query"),
        ),
        ("not found", find("404", &|l| l["status"] == 404)),
        ("refused 505", find("505", &|l| l["status"] == 505)),
        ("refused 400", find("400", &|l| l["status"] == 400)),
        ("draining 503", find("503", &|l| l["status"] == 503)),
    ])
}

#[test]
fn each_metric_filter_counts_exactly_its_cases_in_the_binarys_lines() {
    let filters = filters();
    let lines = request_lines();
    // What each filter must count, of every case; the rest it must not.
    let expected: [(&str, &[&str]); 4] = [
        (
            "requests",
            &[
                "answered",
                "not found",
                "refused 505",
                "refused 400",
                "draining 503",
            ],
        ),
        // A refused head is the client's, not a server error, even a 505.
        ("server_errors", &["draining 503"]),
        ("refused", &["refused 505", "refused 400"]),
        (
            "latency",
            &[
                "answered",
                "not found",
                "refused 505",
                "refused 400",
                "draining 503",
            ],
        ),
    ];
    assert_eq!(
        filters.keys().collect::<Vec<_>>(),
        {
            let mut names: Vec<&str> = expected.iter().map(|(n, _)| *n).collect();
            names.sort_unstable();
            names
        },
        "a filter without an expectation here"
    );
    for (name, counted) in expected {
        let filter = &filters[name];
        for (case, line) in lines {
            assert_eq!(
                filter.pattern.matches(line),
                counted.contains(case),
                "{name} on the {case} line: {line}"
            );
        }
    }
    // What the latency filter emits is the line's duration, a number.
    let latency = &filters["latency"];
    let field = latency.value.strip_prefix("$.").expect("a selector");
    for (case, line) in lines {
        assert!(
            select(line, field).is_some_and(Value::is_u64),
            "{case}: {line}"
        );
    }
}

/// The words of Logs Insights' query language the saved queries use: the
/// rest of their words are fields of the lines, or names they give.
const INSIGHTS_WORDS: [&str; 15] = [
    "fields",
    "filter",
    "sort",
    "limit",
    "stats",
    "by",
    "as",
    "desc",
    "and",
    "not",
    "in",
    "count",
    "sum",
    "pct",
    "ispresent",
];

/// The saved Logs Insights queries name only fields the lines have.
#[test]
fn the_saved_queries_name_fields_the_binary_writes() {
    let lines = request_lines();
    let written: Vec<String> = lines
        .values()
        .flat_map(|l| l.as_object().unwrap().keys().cloned())
        .collect();
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/infra/modules/log-queries/main.tf"
    ))
    .unwrap();
    let heredoc = regex::Regex::new(r"(?s)<<-EOT\n(.*?)\n\s*EOT").unwrap();
    let noise = regex::Regex::new(r#"\$\{[^}]*\}|"[^"]*"|@[a-z]+|\bbin\(\d+m\)"#).unwrap();
    let word = regex::Regex::new(r"[A-Za-z_][A-Za-z0-9_]*").unwrap();
    let alias = regex::Regex::new(r"\bas ([a-z_0-9]+)").unwrap();
    // Every event a query filters on is one the binary logs somewhere.
    let events = regex::Regex::new(r#"event in \[([^\]]*)\]|event = "([a-z_]+)""#).unwrap();
    let source: String = [
        "src/main.rs",
        "src/lifecycle.rs",
        "src/overload.rs",
        "src/server.rs",
        "src/log.rs",
    ]
    .iter()
    .map(|f| {
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/").to_owned() + f).unwrap()
    })
    .collect();
    for caps in events.captures_iter(&text) {
        let names = caps.get(1).or(caps.get(2)).unwrap().as_str();
        for name in names.split(',').map(|n| n.trim().trim_matches('"')) {
            // Events are logged as logger.info("name"), warn, error.
            let logged = source.contains(&format!("(\"{name}\")"));
            assert!(logged, "the binary logs no {name} event");
        }
    }
    let queries: Vec<&str> = heredoc
        .captures_iter(&text)
        .map(|c| c.get(1).unwrap().as_str())
        .collect();
    assert!(queries.len() >= 5, "{queries:?}");
    for query in queries {
        let named: Vec<&str> = alias
            .captures_iter(query)
            .map(|c| c.get(1).unwrap().as_str())
            .collect();
        let plain = noise.replace_all(query, " ");
        for w in word.find_iter(&plain).map(|m| m.as_str()) {
            if INSIGHTS_WORDS.contains(&w) || named.contains(&w) {
                continue;
            }
            assert!(
                written.iter().any(|f| f == w),
                "{w} is in no request line ({written:?}): {query}"
            );
        }
    }
}
