//! The permissions manifest (`infra/permissions/`), loaded and expanded into
//! the list of calls each role makes: action, resource, request context and
//! where the call comes from.
//!
//! - `calls.yaml`: what the AWS provider calls for each resource type and
//!   phase, and what Terraform's S3 backend calls for each state step;
//! - `stacks/<root>.yaml`: every resource and data source of a root, with
//!   the ARN pattern over the stack's own names that its calls are
//!   authorized against;
//! - `roles/<role>.yaml`: the operations each role runs, as phases over a
//!   root's resources, backend steps and explicit calls.

use crate::terraform::{Instance, Mode, Sample, World};
use hcl::Value;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum On {
    One(String),
    Many(Vec<String>),
}

impl On {
    fn items(&self) -> Vec<&str> {
        match self {
            On::One(s) => vec![s.as_str()],
            On::Many(l) => l.iter().map(String::as_str).collect(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallSpec {
    pub action: String,
    pub on: On,
    /// Request context the call carries; a list gives the values AWS may
    /// present when the documents disagree, and each must be allowed.
    #[serde(default)]
    pub context: BTreeMap<String, On>,
    pub source: String,
    /// Only when the resource's attribute names an ARN of this service,
    /// e.g. `{resource_arn: apprunner}`.
    #[serde(default)]
    pub when: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phases {
    #[serde(default)]
    pub read: Option<Vec<CallSpec>>,
    #[serde(default)]
    pub update: Option<Vec<CallSpec>>,
    #[serde(default)]
    pub delete: Option<Vec<CallSpec>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    pub backend: BTreeMap<String, Vec<CallSpec>>,
    pub resources: BTreeMap<String, Phases>,
}

/// A resource's entry in a stack file.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Entry {
    /// The ARN pattern, or `none`.
    Pattern(String),
    Detailed {
        arn: String,
        /// Tags that alone tell this resource from others of its kind
        /// (a KMS key's id is random): a policy must name it by its exact
        /// ARN or by these tags.
        #[serde(default)]
        identified_by: Vec<String>,
        /// The tags of a resource the root does not create.
        #[serde(default)]
        tags: BTreeMap<String, String>,
    },
}

impl Entry {
    pub fn arn(&self) -> &str {
        match self {
            Entry::Pattern(p) => p,
            Entry::Detailed { arn, .. } => arn,
        }
    }

    fn identified_by(&self) -> Vec<String> {
        match self {
            Entry::Pattern(_) => Vec::new(),
            Entry::Detailed { identified_by, .. } => identified_by.clone(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackFile {
    pub root: String,
    /// address -> ARN pattern, or `none`
    pub resources: BTreeMap<String, Entry>,
    /// Resources the root refers to but does not create.
    #[serde(default)]
    pub external: BTreeMap<String, Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Selection {
    /// `all`
    Word(String),
    Addresses(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operation {
    pub name: String,
    pub root: String,
    #[serde(default)]
    pub backend: Vec<String>,
    #[serde(default)]
    pub read: Option<Selection>,
    #[serde(default)]
    pub update: Option<Selection>,
    #[serde(default)]
    pub delete: Option<Selection>,
    #[serde(default)]
    pub calls: Vec<CallSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyLocation {
    pub root: String,
    pub address: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleFile {
    pub role: String,
    pub description: String,
    pub policy: PolicyLocation,
    /// The policy lives outside the stacks it works on and cannot see
    /// their settings, so it must cover every optional resource.
    #[serde(default)]
    pub covers_optional_resources: bool,
    pub operations: Vec<Operation>,
}

/// Everything under infra/permissions.
pub struct Manifest {
    pub catalogue: Catalogue,
    pub stacks: Vec<StackFile>,
    pub roles: Vec<RoleFile>,
}

fn yaml_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

fn load<T: for<'de> Deserialize<'de>>(path: &Path) -> T {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

impl Manifest {
    pub fn load(dir: &Path) -> Manifest {
        Manifest {
            catalogue: load(&dir.join("calls.yaml")),
            stacks: yaml_files(&dir.join("stacks"))
                .iter()
                .map(|p| load(p))
                .collect(),
            roles: yaml_files(&dir.join("roles"))
                .iter()
                .map(|p| load(p))
                .collect(),
        }
    }

    pub fn stack(&self, root: &str) -> &StackFile {
        self.stacks
            .iter()
            .find(|s| s.root == root)
            .unwrap_or_else(|| panic!("infra/permissions/stacks has no file for {root}"))
    }
}

/// What a call is authorized against.
#[derive(Debug, Clone)]
pub struct Target {
    /// As the manifest writes it, over the stack's names, with `*` where
    /// AWS picks the value: a policy may be no wider than this.
    pub pattern: String,
    /// The sample ARN the world gives it: a policy must allow this.
    pub concrete: String,
    /// The resource's tags, for `aws:ResourceTag/…` conditions.
    pub tags: BTreeMap<String, String>,
    /// Tags that alone identify the resource (see [`Entry`]).
    pub identified_by: Vec<String>,
}

/// One call a role makes.
#[derive(Debug, Clone)]
pub struct Call {
    pub operation: String,
    pub action: String,
    pub targets: Vec<Target>,
    /// Each key's possible values: every one must be allowed, and any
    /// other value refused.
    pub context: BTreeMap<String, Vec<String>>,
    pub source: String,
    /// The resource whose phase makes the call, if any.
    pub address: Option<String>,
}

/// The values `${…}` placeholders take.
pub struct Placeholders<'a> {
    pub sample: &'a Sample,
    pub name: &'a str,
    pub state_bucket: String,
    /// Where the service stacks put the probe's alarms, topics and key.
    pub probe_region: &'a str,
}

impl Placeholders<'_> {
    fn fill(&self, template: &str, extra: &BTreeMap<String, String>) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..]
                .find('}')
                .ok_or_else(|| format!("unclosed ${{ in {template}"))?
                + start;
            let key = &rest[start + 2..end];
            let value = match key {
                "partition" => self.sample.partition.to_owned(),
                "region" => self.sample.region.to_owned(),
                "probe_region" => self.probe_region.to_owned(),
                "account" => self.sample.account.to_owned(),
                "name" => self.name.to_owned(),
                "state_bucket" => self.state_bucket.clone(),
                "dns_suffix" => self.sample.dns_suffix().to_owned(),
                other => extra
                    .get(other)
                    .cloned()
                    .ok_or_else(|| format!("unknown placeholder ${{{other}}} in {template}"))?,
            };
            out.push_str(&value);
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// The value at a dotted path (`a.0.b`) of an instance's attributes.
fn attr_path(instance: &Instance, path: &str) -> Result<String, String> {
    let mut parts = path.split('.');
    let first = parts.next().unwrap_or_default();
    let mut value = instance
        .attr(first)
        .ok_or_else(|| format!("{} has no attribute {first}", instance.address))?;
    for part in parts {
        value = match (value, part.parse::<usize>()) {
            (Value::Array(list), Ok(i)) => list.get(i),
            (Value::Object(map), _) => map.get(part),
            _ => None,
        }
        .ok_or_else(|| format!("{}: no {path}", instance.address))?;
    }
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{}: {path} is not a string", instance.address))
}

/// The `${attr.X}` placeholders of a template, with the subject's values.
fn attr_placeholders(
    template: &str,
    subject: &Instance,
) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let mut rest = template;
    while let Some(start) = rest.find("${attr.") {
        let end = rest[start..].find('}').ok_or("unclosed ${attr.")? + start;
        let path = &rest[start + 7..end];
        out.insert(format!("attr.{path}"), attr_path(subject, path)?);
        rest = &rest[end + 1..];
    }
    Ok(out)
}

/// The ARN's service: `arn:aws:kms:…` is kms.
pub fn arn_service(arn: &str) -> Option<&str> {
    arn.strip_prefix("arn:")?.split(':').nth(1)
}

fn tags_of(instance: &Instance) -> BTreeMap<String, String> {
    instance
        .tags()
        .into_iter()
        .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_owned())))
        .collect()
}

/// Expands manifests into calls, against a rendered world.
pub struct Expander<'a> {
    pub manifest: &'a Manifest,
    pub world: &'a World,
    pub placeholders: Placeholders<'a>,
}

impl Expander<'_> {
    /// The manifest's pattern for an instance, rendered; `None` for `none`.
    pub fn pattern_of(&self, instance: &Instance) -> Result<Option<String>, String> {
        let entry = self.entry_of(instance)?;
        if entry.arn() == "none" {
            return Ok(None);
        }
        self.placeholders
            .fill(entry.arn(), &BTreeMap::new())
            .map(Some)
    }

    fn entry_of(&self, instance: &Instance) -> Result<&Entry, String> {
        let stack = self.manifest.stack(&instance.root);
        stack.resources.get(&instance.address).ok_or_else(|| {
            format!(
                "infra/permissions/stacks: {} does not list {}",
                instance.root, instance.address
            )
        })
    }

    fn instance_target(&self, instance: &Instance) -> Result<Target, String> {
        let pattern = self.pattern_of(instance)?.ok_or_else(|| {
            format!(
                "{}: {} has no ARN pattern (none)",
                instance.root, instance.address
            )
        })?;
        Ok(Target {
            pattern,
            concrete: instance.string(instance.arn_attribute()),
            tags: tags_of(instance),
            identified_by: self.entry_of(instance)?.identified_by(),
        })
    }

    /// The instance a value is the ARN of, anywhere in the world.
    fn instance_with_arn(&self, arn: &str) -> Option<&Instance> {
        self.world
            .roots
            .iter()
            .flat_map(|r| r.instances.iter())
            .find(|i| {
                i.mode == Mode::Managed && i.attr(i.arn_attribute()) == Some(&Value::from(arn))
            })
    }

    fn find(&self, root: &str, address: &str) -> Result<&Instance, String> {
        self.world
            .root(root)
            .instances
            .iter()
            .find(|i| i.address == address)
            .ok_or_else(|| format!("{root} has no {address}"))
    }

    /// Resolves one `on` item for a call of `subject` (if any) in `root`.
    fn target(&self, on: &str, root: &str, subject: Option<&Instance>) -> Result<Target, String> {
        if on == "*" {
            return Ok(Target {
                pattern: "*".into(),
                concrete: "*".into(),
                tags: BTreeMap::new(),
                identified_by: Vec::new(),
            });
        }
        if on == "self" {
            return self.instance_target(subject.ok_or("self outside a resource's calls")?);
        }
        if let Some(path) = on.strip_prefix("attr.") {
            let subject = subject.ok_or("attr. outside a resource's calls")?;
            let value = attr_path(subject, path)?;
            if let Some(other) = self.instance_with_arn(&value) {
                return self.instance_target(other);
            }
            for entry in self.manifest.stack(root).external.values() {
                let pattern = self.placeholders.fill(entry.arn(), &BTreeMap::new())?;
                if crate::iam::matches(&pattern, &value) {
                    let tags = match entry {
                        Entry::Detailed { tags, .. } => tags.clone(),
                        Entry::Pattern(_) => BTreeMap::new(),
                    };
                    return Ok(Target {
                        pattern,
                        concrete: value,
                        tags,
                        identified_by: entry.identified_by(),
                    });
                }
            }
            return Err(format!(
                "{}: {path} is {value}, neither a resource of the stacks nor an external of {root}",
                subject.address
            ));
        }
        if on.starts_with("arn:") || on.starts_with("${") {
            // Two renderings: the pattern (with ${self} as a pattern) and
            // the concrete sample (with `*` standing for an AWS-chosen id).
            let mut as_pattern = BTreeMap::new();
            let mut as_concrete = BTreeMap::new();
            let mut tags = BTreeMap::new();
            if let Some(subject) = subject {
                if let Some(pattern) = self.pattern_of(subject)? {
                    as_pattern.insert("self".to_owned(), pattern);
                    as_concrete.insert("self".to_owned(), subject.string(subject.arn_attribute()));
                    tags = tags_of(subject);
                }
                let attrs = attr_placeholders(on, subject)?;
                as_pattern.extend(attrs.clone());
                as_concrete.extend(attrs);
            }
            let pattern = self.placeholders.fill(on, &as_pattern)?;
            let concrete = self.placeholders.fill(on, &as_concrete)?.replace('*', "x0");
            return Ok(Target {
                pattern,
                concrete,
                tags,
                identified_by: Vec::new(),
            });
        }
        let (root, address) = match on.split_once(':') {
            Some((r, a)) => (r, a),
            None => (root, on),
        };
        self.instance_target(self.find(root, address)?)
    }

    fn call(
        &self,
        operation: &str,
        spec: &CallSpec,
        root: &str,
        subject: Option<&Instance>,
        state_key: &str,
    ) -> Result<Option<Call>, String> {
        if let Some(subject) = subject {
            for (attribute, service) in &spec.when {
                let value = attr_path(subject, attribute)?;
                if arn_service(&value) != Some(service) {
                    return Ok(None);
                }
            }
        }
        let mut targets = Vec::new();
        for on in spec.on.items() {
            let on = on.replace("${state_key}", state_key);
            targets.push(self.target(&on, root, subject)?);
        }
        let mut context = BTreeMap::new();
        for (k, values) in &spec.context {
            let mut filled = Vec::new();
            for v in values.items() {
                let attrs = match subject {
                    Some(subject) => attr_placeholders(v, subject)?,
                    None => BTreeMap::new(),
                };
                filled.push(
                    self.placeholders
                        .fill(&v.replace("${state_key}", state_key), &attrs)?,
                );
            }
            context.insert(k.clone(), filled);
        }
        Ok(Some(Call {
            operation: operation.to_owned(),
            action: spec.action.clone(),
            targets,
            context,
            source: spec.source.clone(),
            address: subject.map(|s| s.address.clone()),
        }))
    }

    /// Every call the role makes, over all its operations.
    pub fn calls(&self, role: &RoleFile) -> Result<Vec<Call>, String> {
        let mut out = Vec::new();
        let catalogue = &self.manifest.catalogue;
        for op in &role.operations {
            let root = self.world.root(&op.root);
            let state_key = root
                .backend
                .get("key")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{}: no backend key", op.root))?
                .to_owned();
            for step in &op.backend {
                let specs = catalogue.backend.get(step).ok_or_else(|| {
                    format!(
                        "{}: {}: no backend step {step} in calls.yaml",
                        role.role, op.name
                    )
                })?;
                for spec in specs {
                    out.extend(self.call(&op.name, spec, &op.root, None, &state_key)?);
                }
            }
            for spec in &op.calls {
                out.extend(self.call(&op.name, spec, &op.root, None, &state_key)?);
            }
            let phases: [(&str, &Option<Selection>); 3] = [
                ("read", &op.read),
                ("update", &op.update),
                ("delete", &op.delete),
            ];
            for (phase, selection) in phases {
                let Some(selection) = selection else { continue };
                let chosen: Vec<&Instance> = match selection {
                    Selection::Word(w) if w == "all" => root
                        .instances
                        .iter()
                        // Data sources are read, never deleted.
                        .filter(|i| phase == "read" || i.mode == Mode::Managed)
                        .collect(),
                    Selection::Word(w) => {
                        return Err(format!("{}: {}: {phase}: {w}?", role.role, op.name))
                    }
                    Selection::Addresses(list) => list
                        .iter()
                        .map(|a| self.find(&op.root, a))
                        .collect::<Result<_, _>>()?,
                };
                for instance in chosen {
                    let key = match instance.mode {
                        Mode::Managed => instance.kind.clone(),
                        Mode::Data => format!("data.{}", instance.kind),
                    };
                    let phases = catalogue.resources.get(&key).ok_or_else(|| {
                        format!(
                            "calls.yaml does not know {key} ({} in {}): look its calls up in the provider's source",
                            instance.address, op.root
                        )
                    })?;
                    let specs = match phase {
                        "read" => &phases.read,
                        "update" => &phases.update,
                        _ => &phases.delete,
                    }
                    .as_ref()
                    .ok_or_else(|| format!("calls.yaml: {key} has no {phase} calls listed"))?;
                    for spec in specs {
                        let call = self
                            .call(&op.name, spec, &op.root, Some(instance), &state_key)
                            .map_err(|e| {
                                format!("{}: {}: {}: {e}", role.role, op.name, instance.address)
                            })?;
                        out.extend(call);
                    }
                }
            }
        }
        Ok(out)
    }
}
