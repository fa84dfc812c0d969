//! IAM policy evaluation, as far as these roles need it: Allow statements
//! with actions, resources and conditions. Deny, NotAction and NotResource
//! are refused outright, so that a policy this evaluator cannot judge never
//! passes.

use serde_json::Value as Json;
use std::collections::BTreeMap;

/// One statement.
#[derive(Debug, Clone)]
pub struct Statement {
    pub sid: String,
    pub deny: bool,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
    /// operator -> condition key -> values
    pub conditions: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

/// Which kind of policy a document is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A role's own policy: Allow statements only, no principals.
    Identity,
    /// A bucket or key policy: principals, and Deny statements.
    Resource,
}

/// A policy document, parsed; an error says what is not supported.
pub fn parse(policy: &str, kind: Kind) -> Result<Vec<Statement>, String> {
    let json: Json = serde_json::from_str(policy).map_err(|e| e.to_string())?;
    let list = match &json["Statement"] {
        Json::Array(list) => list.clone(),
        one @ Json::Object(_) => vec![one.clone()],
        other => return Err(format!("Statement is {other}")),
    };
    let strings = |v: &Json| -> Vec<String> {
        match v {
            Json::String(s) => vec![s.clone()],
            Json::Array(l) => l
                .iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    };
    let mut out = Vec::new();
    for (n, st) in list.iter().enumerate() {
        let sid = st["Sid"]
            .as_str()
            .map_or_else(|| format!("#{n}"), str::to_owned);
        let deny = st["Effect"] == "Deny";
        if kind == Kind::Identity && (deny || !st["Principal"].is_null()) {
            return Err(format!(
                "{sid}: a role policy here has only Allow statements, without principals"
            ));
        }
        for unsupported in ["NotAction", "NotResource", "NotPrincipal"] {
            if !st[unsupported].is_null() {
                return Err(format!("{sid}: {unsupported} is not evaluated here"));
            }
        }
        let actions = strings(&st["Action"]);
        let mut conditions = BTreeMap::new();
        if let Json::Object(ops) = &st["Condition"] {
            for (op, keys) in ops {
                let mut by_key = BTreeMap::new();
                for (key, values) in keys.as_object().ok_or("a condition is not an object")? {
                    by_key.insert(key.clone(), strings(values));
                }
                conditions.insert(op.clone(), by_key);
            }
        }
        out.push(Statement {
            sid,
            deny,
            actions,
            resources: strings(&st["Resource"]),
            conditions,
        });
    }
    Ok(out)
}

/// Whether an action pattern (`s3:Get*`) covers an action; IAM compares
/// actions without regard to case.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    matches(&pattern.to_ascii_lowercase(), &action.to_ascii_lowercase())
}

/// IAM's wildcard match: `*` is any run of characters, `?` exactly one.
pub fn matches(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // The classic two-pointer match with backtracking to the last star.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < t.len() {
        if i < p.len() && (p[i] == '?' || p[i] == t[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

/// True if every string `inner` matches is also matched by `outer`, for
/// patterns whose only wildcard is `*`: `outer` must match `inner` read
/// literally, with `inner`'s stars matched only by `outer`'s.
pub fn includes(outer: &str, inner: &str) -> bool {
    assert!(
        !outer.contains('?') && !inner.contains('?'),
        "? in {outer} or {inner}"
    );
    let (p, t): (Vec<char>, Vec<char>) = (outer.chars().collect(), inner.chars().collect());
    // reach[j]: outer[..i] can produce inner[..j].
    let mut reach = vec![false; t.len() + 1];
    reach[0] = true;
    for &c in &p {
        let mut next = vec![false; t.len() + 1];
        if c == '*' {
            let mut on = false;
            for j in 0..=t.len() {
                on |= reach[j];
                next[j] = on;
            }
        } else {
            for j in 0..t.len() {
                next[j + 1] = reach[j] && t[j] == c;
            }
        }
        reach = next;
    }
    reach[t.len()]
}

/// The request context of one call: condition keys and their values.
pub type RequestContext = BTreeMap<String, Vec<String>>;

/// Whether a statement's conditions all hold for the context.
pub fn conditions_hold(st: &Statement, ctx: &RequestContext) -> Result<bool, String> {
    for (op, keys) in &st.conditions {
        for (key, wanted) in keys {
            if !condition(op, ctx.get(key), wanted)? {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

fn condition(op: &str, actual: Option<&Vec<String>>, wanted: &[String]) -> Result<bool, String> {
    let (set, op) = match op.split_once(':') {
        Some((set @ ("ForAnyValue" | "ForAllValues"), rest)) => (Some(set), rest),
        _ => (None, op),
    };
    let (op, if_exists) = match op.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (op, false),
    };
    let one: fn(&str, &str) -> bool = match op {
        "StringEquals" | "ArnEquals" => |w, a| w == a,
        "StringEqualsIgnoreCase" => |w, a| w.eq_ignore_ascii_case(a),
        "StringLike" | "ArnLike" => |w, a| matches(w, a),
        "StringNotEquals" | "ArnNotEquals" => |w, a| w != a,
        "StringNotLike" | "ArnNotLike" => |w, a| !matches(w, a),
        "Bool" => |w, a| w.eq_ignore_ascii_case(a),
        "Null" => {
            // "true": the key is absent; "false": it is present.
            let present = actual.is_some_and(|v| !v.is_empty());
            let expected = if present { "false" } else { "true" };
            return Ok(wanted.iter().any(|w| w.eq_ignore_ascii_case(expected)));
        }
        other => {
            return Err(format!(
                "the condition operator {other} is not evaluated here"
            ))
        }
    };
    let negated = op.contains("Not");
    let Some(actual) = actual.filter(|v| !v.is_empty()) else {
        // A missing key: IfExists and ForAllValues hold, everything else
        // fails (a negated operator on a missing key holds, as in IAM).
        return Ok(if_exists || set == Some("ForAllValues") || (negated && set.is_none()));
    };
    let value_ok = |a: &String| {
        if negated {
            wanted.iter().all(|w| one(w, a))
        } else {
            wanted.iter().any(|w| one(w, a))
        }
    };
    Ok(match set {
        Some("ForAllValues") => actual.iter().all(value_ok),
        _ => actual.iter().any(value_ok),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_as_iam_matches_them() {
        assert!(matches("arn:aws:s3:::b/*", "arn:aws:s3:::b/k/x"));
        assert!(matches("*", ""));
        assert!(matches("a?c", "abc"));
        assert!(!matches("arn:aws:s3:::b/*", "arn:aws:s3:::bb/k"));
        assert!(!matches("log-group:x", "log-group:x:*"));
    }

    #[test]
    fn inclusion_is_subset_of_matches() {
        assert!(includes("key/*", "key/1234"));
        assert!(includes("key/*", "key/*"));
        assert!(includes("*", "anything/*"));
        assert!(includes("service/a/*", "service/a/*/x"));
        assert!(!includes("key/1234", "key/*"));
        assert!(!includes("webacl/a/*", "webacl/a-b/*"));
        assert!(!includes("log-group:*x*", "log-group:y"));
        assert!(!includes("a*", "*a"));
    }

    #[test]
    fn conditions_follow_iam_for_missing_and_multivalued_keys() {
        let wanted = ["a".to_owned()];
        assert!(!condition("StringEquals", None, &wanted).unwrap());
        assert!(condition("StringEqualsIfExists", None, &wanted).unwrap());
        assert!(condition("ForAllValues:StringEquals", None, &wanted).unwrap());
        assert!(!condition("ForAnyValue:StringLike", None, &wanted).unwrap());
        let both = vec!["a".to_owned(), "b".to_owned()];
        assert!(!condition("ForAllValues:StringEquals", Some(&both), &wanted).unwrap());
        assert!(condition("ForAnyValue:StringEquals", Some(&both), &wanted).unwrap());
        assert!(condition("StringNotEquals", Some(&vec!["b".to_owned()]), &wanted).unwrap());
        assert!(condition("Frobnicate", None, &wanted).is_err());
        let is_false = ["false".to_owned()];
        assert!(!condition("Null", None, &is_false).unwrap());
        assert!(condition("Null", Some(&vec!["x".to_owned()]), &is_false).unwrap());
    }
}
