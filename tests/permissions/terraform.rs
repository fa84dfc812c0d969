//! Just enough of Terraform to render this repository's stacks with sample
//! values, offline: variables and their defaults, locals, module calls,
//! `count`, `dynamic` blocks, provider `default_tags`, the functions the code
//! calls, and `aws_iam_policy_document` rendered to JSON. Every resource and
//! data source gets the attributes AWS would compute (ARNs and ids) from the
//! table in [`computed`], so that a policy built from `module.x.arn` renders
//! to the ARN the resource will have.
//!
//! It is not Terraform. Anything it does not know (a function, a resource
//! type, a reference that never resolves) fails with the address involved,
//! so that a new construct is added here before a test can pass over it.

use hcl::eval::{Context, Evaluate, FuncArgs, FuncDef, ParamType};
use hcl::{Block, Body, Expression, Map, Value};
use std::path::{Path, PathBuf};

/// Where the stacks are rendered: the values no Terraform file may contain.
#[derive(Clone, Debug)]
pub struct Sample {
    pub partition: &'static str,
    pub account: &'static str,
    pub region: &'static str,
}

impl Sample {
    /// The DNS suffix of the partition, as `data.aws_partition` gives it.
    pub fn dns_suffix(&self) -> &'static str {
        if self.partition == "aws-cn" {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Managed,
    Data,
}

/// One resource or data source instance, as a plan would show it.
#[derive(Clone, Debug)]
pub struct Instance {
    /// The root it belongs to, e.g. `stacks/ecs-express`.
    pub root: String,
    /// Its address in that root, e.g. `module.waf.aws_wafv2_web_acl.this`,
    /// with `[0]` for counted instances.
    pub address: String,
    pub mode: Mode,
    /// The resource type, e.g. `aws_wafv2_web_acl`.
    pub kind: String,
    /// The configured arguments, evaluated, plus the computed attributes.
    pub attrs: Map<String, Value>,
}

impl Instance {
    pub fn attr(&self, name: &str) -> Option<&Value> {
        self.attrs.get(name)
    }

    /// The attribute that holds the instance's ARN: `arn`, but where the
    /// provider names it otherwise.
    pub fn arn_attribute(&self) -> &'static str {
        match self.kind.as_str() {
            "aws_cloudwatch_dashboard" => "dashboard_arn",
            _ => "arn",
        }
    }

    /// The attribute as a string, or a panic naming the instance.
    pub fn string(&self, name: &str) -> String {
        match self.attrs.get(name) {
            Some(Value::String(s)) => s.clone(),
            other => panic!(
                "{}: {}: attribute {name} is {other:?}, not a string",
                self.root, self.address
            ),
        }
    }

    /// `tags_all`: the provider's default tags merged with the resource's.
    pub fn tags(&self) -> Map<String, Value> {
        match self.attrs.get("tags_all") {
            Some(Value::Object(tags)) => tags.clone(),
            _ => Map::new(),
        }
    }
}

/// A root module, rendered.
#[derive(Debug)]
pub struct Root {
    pub name: String,
    pub instances: Vec<Instance>,
    /// The `backend "s3"` block's arguments (literals only, as Terraform
    /// requires).
    pub backend: Map<String, Value>,
}

impl Root {
    pub fn instance(&self, address: &str) -> &Instance {
        self.instances
            .iter()
            .find(|i| i.address == address)
            .unwrap_or_else(|| panic!("{}: no instance {address}", self.name))
    }
}

/// Every root rendered so far; data sources look things up in it, as they
/// would in the account.
#[derive(Debug, Default)]
pub struct World {
    pub roots: Vec<Root>,
}

impl World {
    /// Renders the root at `infra/<name>` with the given input variables and
    /// adds it to the world.
    pub fn render(
        &mut self,
        infra: &Path,
        name: &str,
        inputs: Map<String, Value>,
        sample: &Sample,
    ) {
        let dir = infra.join(name);
        let files = parse_dir(&dir);
        let backend = backend_block(&files);
        let mut found = Vec::new();
        let module = ModuleCall {
            root: name,
            dir,
            prefix: String::new(),
            inputs,
            default_tags: None,
        };
        module.render(&files, self, sample, &mut found);
        self.roots.push(Root {
            name: name.to_owned(),
            instances: found,
            backend,
        });
    }

    pub fn root(&self, name: &str) -> &Root {
        self.roots
            .iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("no root {name} was rendered"))
    }

    fn all(&self) -> impl Iterator<Item = &Instance> {
        self.roots.iter().flat_map(|r| r.instances.iter())
    }

    /// The one managed resource of `kind` whose `key` is `value`: what a
    /// data source finds in the account.
    fn find(&self, kind: &str, key: &str, value: &str) -> Option<&Instance> {
        self.all().find(|i| {
            i.mode == Mode::Managed && i.kind == kind && i.attr(key) == Some(&Value::from(value))
        })
    }
}

/// The parsed `.tf` files of one directory.
struct Files {
    bodies: Vec<(PathBuf, Body)>,
}

fn parse_dir(dir: &Path) -> Files {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "tf"))
        .collect();
    paths.sort();
    let bodies = paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let body = hcl::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, body)
        })
        .collect();
    Files { bodies }
}

impl Files {
    fn blocks(&self) -> impl Iterator<Item = &Block> {
        self.bodies.iter().flat_map(|(_, b)| b.blocks())
    }

    fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Block> + 'a {
        self.blocks().filter(move |b| b.identifier() == kind)
    }
}

fn label(block: &Block, n: usize) -> &str {
    block.labels().get(n).map_or("", |l| l.as_str())
}

fn attribute<'b>(body: &'b Body, key: &str) -> Option<&'b Expression> {
    body.attributes().find(|a| a.key() == key).map(|a| a.expr())
}

fn backend_block(files: &Files) -> Map<String, Value> {
    let mut found = Map::new();
    for terraform in files.of_kind("terraform") {
        for backend in terraform
            .body()
            .blocks()
            .filter(|b| b.identifier() == "backend")
        {
            for a in backend.body().attributes() {
                let value = a
                    .expr()
                    .evaluate(&Context::new())
                    .unwrap_or_else(|e| panic!("backend {}: {e}", a.key()));
                found.insert(a.key().to_owned(), value);
            }
        }
    }
    found
}

/// One module instance being rendered: the root itself, or a `module` block.
struct ModuleCall<'a> {
    root: &'a str,
    dir: PathBuf,
    /// `module.a.module.b.`, or empty for the root.
    prefix: String,
    inputs: Map<String, Value>,
    /// The root provider's `default_tags`, inherited by every module.
    default_tags: Option<Value>,
}

/// What the fixpoint has resolved so far in one module.
#[derive(Default)]
struct Known {
    locals: Map<String, Value>,
    /// type -> name -> object (or array of objects, for `count`).
    resources: Map<String, Map<String, Value>>,
    data: Map<String, Map<String, Value>>,
    modules: Map<String, Value>,
    default_tags: Option<Value>,
}

/// A piece of the module still to evaluate.
enum Node<'a> {
    DefaultTags(&'a Expression),
    Local(&'a str, &'a Expression),
    Resource(Mode, &'a Block),
    Module(&'a Block),
}

impl Node<'_> {
    fn describe(&self) -> String {
        match self {
            Node::DefaultTags(_) => "provider.aws.default_tags".into(),
            Node::Local(n, _) => format!("local.{n}"),
            Node::Resource(Mode::Managed, b) => format!("{}.{}", label(b, 0), label(b, 1)),
            Node::Resource(Mode::Data, b) => format!("data.{}.{}", label(b, 0), label(b, 1)),
            Node::Module(b) => format!("module.{}", label(b, 0)),
        }
    }
}

/// Arguments that are Terraform's own, not the resource's.
const META_ARGUMENTS: [&str; 5] = ["count", "for_each", "depends_on", "provider", "providers"];
const META_BLOCKS: [&str; 4] = ["lifecycle", "provisioner", "connection", "timeouts"];

impl ModuleCall<'_> {
    /// Renders the module, appending its instances (and its children's) to
    /// `found`, and returns its outputs.
    fn render(
        &self,
        files: &Files,
        world: &World,
        sample: &Sample,
        found: &mut Vec<Instance>,
    ) -> Map<String, Value> {
        let vars = self.variables(files);
        let mut pending: Vec<Node> = Vec::new();
        for block in files.blocks() {
            match block.identifier() {
                "locals" => pending.extend(
                    block
                        .body()
                        .attributes()
                        .map(|a| Node::Local(a.key(), a.expr())),
                ),
                "resource" => pending.push(Node::Resource(Mode::Managed, block)),
                "data" => pending.push(Node::Resource(Mode::Data, block)),
                "module" => pending.push(Node::Module(block)),
                "provider" if label(block, 0) == "aws" => {
                    for tags in block
                        .body()
                        .blocks()
                        .filter(|b| b.identifier() == "default_tags")
                    {
                        let expr = attribute(tags.body(), "tags").expect("default_tags has tags");
                        pending.push(Node::DefaultTags(expr));
                    }
                }
                "provider" => panic!(
                    "{}: only the aws provider is known here",
                    self.dir.display()
                ),
                "variable" | "output" | "terraform" => {}
                other => panic!("{}: unknown block {other}", self.dir.display()),
            }
        }
        let mut known = Known {
            default_tags: self.default_tags.clone(),
            ..Known::default()
        };
        while !pending.is_empty() {
            let mut errors = Vec::new();
            let before = pending.len();
            let mut still = Vec::new();
            for node in pending {
                let ctx = self.context(&vars, &known);
                match self.evaluate(&node, &ctx, world, sample, &mut known, found) {
                    Ok(()) => {}
                    Err(e) => {
                        errors.push(format!("{}: {e}", node.describe()));
                        still.push(node);
                    }
                }
            }
            pending = still;
            assert!(
                pending.len() < before || pending.is_empty(),
                "{}{}: cannot evaluate:\n  {}",
                self.root,
                if self.prefix.is_empty() {
                    String::new()
                } else {
                    format!(" {}", self.prefix)
                },
                errors.join("\n  ")
            );
        }
        let ctx = self.context(&vars, &known);
        let mut outputs = Map::new();
        for output in files.of_kind("output") {
            let expr = attribute(output.body(), "value").expect("an output has a value");
            let value = expr.evaluate(&ctx).unwrap_or_else(|e| {
                panic!(
                    "{} {}output.{}: {e}",
                    self.root,
                    self.prefix,
                    label(output, 0)
                )
            });
            outputs.insert(label(output, 0).to_owned(), value);
        }
        outputs
    }

    /// `var`: the inputs over the defaults; a required variable without an
    /// input is an error, as in Terraform.
    fn variables(&self, files: &Files) -> Map<String, Value> {
        let mut vars = Map::new();
        for variable in files.of_kind("variable") {
            let name = label(variable, 0);
            let value = match (self.inputs.get(name), attribute(variable.body(), "default")) {
                (Some(v), _) => v.clone(),
                (None, Some(default)) => default.evaluate(&Context::new()).unwrap(),
                (None, None) => panic!(
                    "{} {}: variable {name} is required and has no sample value",
                    self.root, self.prefix
                ),
            };
            vars.insert(name.to_owned(), value);
        }
        for name in self.inputs.keys() {
            assert!(
                vars.contains_key(name),
                "{} {}: no variable {name} for the given input",
                self.root,
                self.prefix
            );
        }
        vars
    }

    fn context(&self, vars: &Map<String, Value>, known: &Known) -> Context<'static> {
        let mut ctx = functions();
        ctx.declare_var("var", Value::Object(vars.clone()));
        ctx.declare_var("local", Value::Object(known.locals.clone()));
        let data: Map<String, Value> = known
            .data
            .iter()
            .map(|(k, v)| (k.clone(), Value::Object(v.clone())))
            .collect();
        ctx.declare_var("data", Value::Object(data));
        ctx.declare_var("module", Value::Object(known.modules.clone()));
        for (kind, by_name) in &known.resources {
            ctx.declare_var(kind.clone(), Value::Object(by_name.clone()));
        }
        ctx
    }

    fn evaluate(
        &self,
        node: &Node,
        ctx: &Context,
        world: &World,
        sample: &Sample,
        known: &mut Known,
        found: &mut Vec<Instance>,
    ) -> Result<(), String> {
        match node {
            Node::DefaultTags(expr) => {
                known.default_tags = Some(expr.evaluate(ctx).map_err(|e| e.to_string())?);
            }
            Node::Local(name, expr) => {
                let value = expr.evaluate(ctx).map_err(|e| e.to_string())?;
                known.locals.insert((*name).to_owned(), value);
            }
            Node::Resource(mode, block) => {
                let (kind, name) = (label(block, 0), label(block, 1));
                let instances = self.instances(*mode, block, ctx, world, sample, known)?;
                let value = match &instances {
                    Counted::One(i) => Value::Object(i.attrs.clone()),
                    Counted::Many(list) => Value::Array(
                        list.iter()
                            .map(|i| Value::Object(i.attrs.clone()))
                            .collect(),
                    ),
                    Counted::Keyed(list) => Value::Object(
                        list.iter()
                            .map(|(k, i)| (k.clone(), Value::Object(i.attrs.clone())))
                            .collect(),
                    ),
                };
                let table = match mode {
                    Mode::Managed => &mut known.resources,
                    Mode::Data => &mut known.data,
                };
                table
                    .entry(kind.to_owned())
                    .or_default()
                    .insert(name.to_owned(), value);
                match instances {
                    Counted::One(i) => found.push(i),
                    Counted::Many(list) => found.extend(list),
                    Counted::Keyed(list) => found.extend(list.into_iter().map(|(_, i)| i)),
                }
            }
            Node::Module(block) => {
                let name = label(block, 0);
                let source = match attribute(block.body(), "source") {
                    Some(Expression::String(s)) => s.clone(),
                    other => panic!("module {name}: source {other:?} is not a local path"),
                };
                assert!(
                    source.starts_with("../"),
                    "module {name}: only local modules"
                );
                let inputs = |ctx: &Context| -> Result<Map<String, Value>, String> {
                    let mut inputs = Map::new();
                    for a in block.body().attributes() {
                        if a.key() == "source" || META_ARGUMENTS.contains(&a.key()) {
                            continue;
                        }
                        let value = a.expr().evaluate(ctx).map_err(|e| e.to_string())?;
                        inputs.insert(a.key().to_owned(), value);
                    }
                    Ok(inputs)
                };
                // Every instance's inputs first, so that a pending one
                // renders nothing.
                let instances: Vec<(Option<String>, Map<String, Value>)> =
                    match attribute(block.body(), "for_each") {
                        None => vec![(None, inputs(ctx)?)],
                        Some(for_each) => {
                            let items = for_each_items(
                                &for_each.evaluate(ctx).map_err(|e| e.to_string())?,
                            )?;
                            items
                                .into_iter()
                                .map(|(key, value)| {
                                    let ctx = with_each(ctx, &key, value);
                                    inputs(&ctx).map(|i| (Some(key), i))
                                })
                                .collect::<Result<_, _>>()?
                        }
                    };
                // The child inherits the root provider's default tags, so
                // wait for them.
                if self.prefix.is_empty() && known.default_tags.is_none() && self.has_default_tags()
                {
                    return Err("waiting for the provider's default_tags".into());
                }
                let dir = self.dir.join(&source);
                let files = parse_dir(&dir);
                let mut keyed = Map::new();
                for (key, inputs) in instances {
                    let address = match &key {
                        None => format!("{}module.{name}.", self.prefix),
                        Some(k) => format!("{}module.{name}[\"{k}\"].", self.prefix),
                    };
                    let child = ModuleCall {
                        root: self.root,
                        dir: dir.clone(),
                        prefix: address,
                        inputs,
                        default_tags: known.default_tags.clone(),
                    };
                    let outputs = Value::Object(child.render(&files, world, sample, found));
                    match key {
                        None => {
                            known.modules.insert(name.to_owned(), outputs);
                        }
                        Some(k) => {
                            keyed.insert(k, outputs);
                        }
                    }
                }
                if attribute(block.body(), "for_each").is_some() {
                    known.modules.insert(name.to_owned(), Value::Object(keyed));
                }
            }
        }
        Ok(())
    }

    fn has_default_tags(&self) -> bool {
        parse_dir(&self.dir)
            .of_kind("provider")
            .any(|p| p.body().blocks().any(|b| b.identifier() == "default_tags"))
    }

    fn instances(
        &self,
        mode: Mode,
        block: &Block,
        ctx: &Context,
        world: &World,
        sample: &Sample,
        known: &Known,
    ) -> Result<Counted, String> {
        let (kind, name) = (label(block, 0), label(block, 1));
        if mode == Mode::Managed
            && self.prefix.is_empty()
            && known.default_tags.is_none()
            && self.has_default_tags()
        {
            return Err("waiting for the provider's default_tags".into());
        }
        let base = match mode {
            Mode::Managed => format!("{}{kind}.{name}", self.prefix),
            Mode::Data => format!("{}data.{kind}.{name}", self.prefix),
        };
        let one = |ctx: &Context, address: String| -> Result<Instance, String> {
            let mut attrs = evaluate_body(block.body(), ctx)?;
            if mode == Mode::Managed {
                let mut tags = match &known.default_tags {
                    Some(Value::Object(t)) => t.clone(),
                    _ => Map::new(),
                };
                if let Some(Value::Object(own)) = attrs.get("tags") {
                    tags.extend(own.clone());
                }
                attrs.insert("tags_all".into(), Value::Object(tags));
            }
            let instance = Instance {
                root: self.root.to_owned(),
                address,
                mode,
                kind: kind.to_owned(),
                attrs,
            };
            let extra = computed(&instance, world, sample)?;
            let mut instance = instance;
            for (k, v) in extra {
                instance.attrs.entry(k).or_insert(v);
            }
            Ok(instance)
        };
        if let Some(for_each) = attribute(block.body(), "for_each") {
            let items = for_each_items(&for_each.evaluate(ctx).map_err(|e| e.to_string())?)?;
            let mut keyed = Vec::new();
            for (key, value) in items {
                let ctx = with_each(ctx, &key, value);
                keyed.push((key.clone(), one(&ctx, format!("{base}[\"{key}\"]"))?));
            }
            return Ok(Counted::Keyed(keyed));
        }
        match attribute(block.body(), "count") {
            None => Ok(Counted::One(one(ctx, base)?)),
            Some(count) => {
                let n = count
                    .evaluate(ctx)
                    .map_err(|e| e.to_string())?
                    .as_u64()
                    .ok_or("count is not a whole number")?;
                let mut list = Vec::new();
                for index in 0..n {
                    let mut ctx = ctx.clone();
                    let mut c = Map::new();
                    c.insert("index".to_owned(), Value::from(index));
                    ctx.declare_var("count", Value::Object(c));
                    list.push(one(&ctx, format!("{base}[{index}]"))?);
                }
                Ok(Counted::Many(list))
            }
        }
    }
}

enum Counted {
    One(Instance),
    Many(Vec<Instance>),
    /// `for_each`: the instances by key.
    Keyed(Vec<(String, Instance)>),
}

/// `for_each`'s keys and values, in Terraform's order (lexical by key): a
/// map's entries, or a set of strings, each its own key and value.
fn for_each_items(value: &Value) -> Result<Vec<(String, Value)>, String> {
    let mut items: Vec<(String, Value)> = match value {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Value::Array(set) => set
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok((s.clone(), v.clone())),
                other => Err(format!("for_each over a set holding {other:?}")),
            })
            .collect::<Result<_, _>>()?,
        other => return Err(format!("for_each over {other:?}")),
    };
    items.sort_by(|a, b| a.0.cmp(&b.0));
    items.dedup_by(|a, b| a.0 == b.0);
    Ok(items)
}

/// The context with `each.key` and `each.value` declared.
fn with_each<'c>(ctx: &Context<'c>, key: &str, value: Value) -> Context<'c> {
    let mut ctx = ctx.clone();
    let mut each = Map::new();
    each.insert("key".to_owned(), Value::from(key));
    each.insert("value".to_owned(), value);
    ctx.declare_var("each", Value::Object(each));
    ctx
}

/// A block's arguments and nested blocks, evaluated: nested blocks become
/// lists of objects, as in Terraform's state, and `dynamic` blocks expand.
fn evaluate_body(body: &Body, ctx: &Context) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for a in body.attributes() {
        if META_ARGUMENTS.contains(&a.key()) {
            continue;
        }
        let value = a
            .expr()
            .evaluate(ctx)
            .map_err(|e| format!("{}: {e}", a.key()))?;
        out.insert(a.key().to_owned(), value);
    }
    for block in body.blocks() {
        let kind = block.identifier();
        if META_BLOCKS.contains(&kind) {
            continue;
        }
        if kind == "dynamic" {
            let name = label(block, 0);
            let for_each = attribute(block.body(), "for_each")
                .ok_or_else(|| format!("dynamic {name} has no for_each"))?
                .evaluate(ctx)
                .map_err(|e| format!("dynamic {name}: {e}"))?;
            let iterator = match attribute(block.body(), "iterator") {
                Some(Expression::Variable(v)) => v.to_string(),
                _ => name.to_owned(),
            };
            let content = block
                .body()
                .blocks()
                .find(|b| b.identifier() == "content")
                .ok_or_else(|| format!("dynamic {name} has no content"))?;
            let items: Vec<(Value, Value)> = match for_each {
                Value::Array(list) => list
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| (Value::from(i as u64), v))
                    .collect(),
                Value::Object(map) => map.into_iter().map(|(k, v)| (Value::from(k), v)).collect(),
                other => return Err(format!("dynamic {name}: for_each over {other:?}")),
            };
            let list = out
                .entry(name.to_owned())
                .or_insert_with(|| Value::Array(Vec::new()));
            for (key, value) in items {
                let mut ctx = ctx.clone();
                let mut it = Map::new();
                // For a list, Terraform's key is the element itself.
                let key = if key.is_number() { value.clone() } else { key };
                it.insert("key".to_owned(), key);
                it.insert("value".to_owned(), value);
                ctx.declare_var(iterator.clone(), Value::Object(it));
                let item = evaluate_body(content.body(), &ctx)?;
                if let Value::Array(list) = list {
                    list.push(Value::Object(item));
                }
            }
            continue;
        }
        let item = evaluate_body(block.body(), ctx)?;
        let list = out
            .entry(kind.to_owned())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = list {
            list.push(Value::Object(item));
        }
    }
    Ok(out)
}

/// The functions of Terraform's that the stacks call outside validations
/// (and `alltrue`, for the validations tests evaluate).
pub fn functions() -> Context<'static> {
    let mut ctx = Context::new();
    ctx.declare_func(
        "merge",
        FuncDef::builder()
            .variadic_param(ParamType::Any)
            .build(merge),
    );
    ctx.declare_func(
        "replace",
        FuncDef::builder()
            .params([ParamType::String, ParamType::String, ParamType::String])
            .build(replace),
    );
    ctx.declare_func(
        "index",
        FuncDef::builder()
            .params([ParamType::array_of(ParamType::Any), ParamType::Any])
            .build(index),
    );
    ctx.declare_func(
        "tostring",
        FuncDef::builder().param(ParamType::Any).build(tostring),
    );
    ctx.declare_func(
        "jsonencode",
        FuncDef::builder().param(ParamType::Any).build(jsonencode),
    );
    ctx.declare_func(
        "flatten",
        FuncDef::builder()
            .param(ParamType::array_of(ParamType::Any))
            .build(flatten),
    );
    ctx.declare_func(
        "length",
        FuncDef::builder().param(ParamType::Any).build(length),
    );
    ctx.declare_func(
        "keys",
        FuncDef::builder()
            .param(ParamType::object_of(ParamType::Any))
            .build(keys),
    );
    ctx.declare_func(
        "values",
        FuncDef::builder()
            .param(ParamType::object_of(ParamType::Any))
            .build(values),
    );
    ctx.declare_func(
        "trimprefix",
        FuncDef::builder()
            .params([ParamType::String, ParamType::String])
            .build(trimprefix),
    );
    ctx.declare_func(
        "lower",
        FuncDef::builder().param(ParamType::String).build(lower),
    );
    ctx.declare_func(
        "startswith",
        FuncDef::builder()
            .params([ParamType::String, ParamType::String])
            .build(startswith),
    );
    ctx.declare_func(
        "concat",
        FuncDef::builder()
            .variadic_param(ParamType::array_of(ParamType::Any))
            .build(concat),
    );
    ctx.declare_func(
        "max",
        FuncDef::builder()
            .variadic_param(ParamType::Number)
            .build(max),
    );
    ctx.declare_func(
        "alltrue",
        FuncDef::builder()
            .param(ParamType::array_of(ParamType::Bool))
            .build(alltrue),
    );
    ctx.declare_func(
        "toset",
        FuncDef::builder()
            .param(ParamType::array_of(ParamType::Any))
            .build(toset),
    );
    ctx.declare_func(
        "distinct",
        FuncDef::builder()
            .param(ParamType::array_of(ParamType::Any))
            .build(distinct),
    );
    ctx.declare_func(
        "join",
        FuncDef::builder()
            .params([ParamType::String, ParamType::array_of(ParamType::String)])
            .build(join),
    );
    ctx.declare_func(
        "split",
        FuncDef::builder()
            .params([ParamType::String, ParamType::String])
            .build(split),
    );
    ctx.declare_func(
        "title",
        FuncDef::builder().param(ParamType::String).build(title),
    );
    ctx.declare_func(
        "lookup",
        FuncDef::builder()
            .params([
                ParamType::object_of(ParamType::Any),
                ParamType::String,
                ParamType::Any,
            ])
            .build(lookup),
    );
    ctx.declare_func(
        "coalesce",
        FuncDef::builder()
            .variadic_param(ParamType::Any)
            .build(coalesce),
    );
    ctx
}

fn alltrue(args: FuncArgs) -> Result<Value, String> {
    let list = args[0].as_array().ok_or("alltrue of a non-list")?;
    Ok(Value::Bool(list.iter().all(|v| v == &Value::Bool(true))))
}

/// A set of strings: Terraform orders them lexically.
fn toset(args: FuncArgs) -> Result<Value, String> {
    let list = args[0].as_array().ok_or("toset of a non-list")?;
    let mut strings = list
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_owned)
                .ok_or("toset: only sets of strings are rendered here")
        })
        .collect::<Result<Vec<_>, _>>()?;
    strings.sort();
    strings.dedup();
    Ok(Value::Array(strings.into_iter().map(Value::from).collect()))
}

fn distinct(args: FuncArgs) -> Result<Value, String> {
    let list = args[0].as_array().ok_or("distinct of a non-list")?;
    let mut out: Vec<Value> = Vec::new();
    for v in list {
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    Ok(Value::Array(out))
}

fn join(args: FuncArgs) -> Result<Value, String> {
    let sep = args[0].as_str().ok_or("join: the separator is a string")?;
    let parts = args[1]
        .as_array()
        .ok_or("join of a non-list")?
        .iter()
        .map(|v| v.as_str().ok_or("join: only strings"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Value::from(parts.join(sep)))
}

fn split(args: FuncArgs) -> Result<Value, String> {
    match (args[0].as_str(), args[1].as_str()) {
        (Some(sep), Some(s)) => Ok(Value::Array(s.split(sep).map(Value::from).collect())),
        _ => Err("split takes strings".into()),
    }
}

/// Terraform's title(): the first letter of each word in upper case.
fn title(args: FuncArgs) -> Result<Value, String> {
    let s = args[0].as_str().ok_or("title takes a string")?;
    let mut out = String::new();
    let mut start = true;
    for c in s.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = c.is_whitespace();
    }
    Ok(Value::from(out))
}

fn lookup(args: FuncArgs) -> Result<Value, String> {
    let map = args[0].as_object().ok_or("lookup in a non-object")?;
    let key = args[1].as_str().ok_or("lookup: the key is a string")?;
    Ok(map.get(key).cloned().unwrap_or_else(|| args[2].clone()))
}

/// The first argument that is neither null nor an empty string.
fn coalesce(args: FuncArgs) -> Result<Value, String> {
    args.iter()
        .find(|v| !matches!(v, Value::Null) && v.as_str() != Some(""))
        .cloned()
        .ok_or_else(|| "coalesce: no non-null argument".into())
}

fn max(args: FuncArgs) -> Result<Value, String> {
    args.iter()
        .map(|a| a.as_f64().ok_or("max of a non-number"))
        .try_fold(f64::MIN, |m, n| n.map(|n| m.max(n)))
        .and_then(|m| hcl::Number::from_f64(m).ok_or("max: not a number"))
        .map(Value::Number)
        .map_err(str::to_owned)
}

fn merge(args: FuncArgs) -> Result<Value, String> {
    let mut out = Map::new();
    for arg in args.iter() {
        match arg {
            Value::Null => {}
            Value::Object(map) => out.extend(map.clone()),
            other => return Err(format!("merge of {other:?}")),
        }
    }
    Ok(Value::Object(out))
}

fn replace(args: FuncArgs) -> Result<Value, String> {
    let (s, from, to) = (args[0].as_str(), args[1].as_str(), args[2].as_str());
    let (Some(s), Some(from), Some(to)) = (s, from, to) else {
        return Err("replace takes strings".into());
    };
    if from.starts_with('/') && from.ends_with('/') && from.len() > 1 {
        return Err("replace with a regular expression is not rendered here".into());
    }
    Ok(Value::from(s.replace(from, to)))
}

fn index(args: FuncArgs) -> Result<Value, String> {
    let list = args[0].as_array().ok_or("index of a non-list")?;
    list.iter()
        .position(|v| v == &args[1])
        .map(|i| Value::from(i as u64))
        .ok_or_else(|| "index: no such element".into())
}

fn tostring(args: FuncArgs) -> Result<Value, String> {
    match &args[0] {
        Value::String(s) => Ok(Value::from(s.clone())),
        Value::Number(n) => Ok(Value::from(n.to_string())),
        Value::Bool(b) => Ok(Value::from(b.to_string())),
        other => Err(format!("tostring of {other:?}")),
    }
}

fn jsonencode(args: FuncArgs) -> Result<Value, String> {
    serde_json::to_string(&to_json(&args[0]))
        .map(Value::from)
        .map_err(|e| e.to_string())
}

fn flatten(args: FuncArgs) -> Result<Value, String> {
    fn walk(value: &Value, out: &mut Vec<Value>) {
        match value {
            Value::Array(list) => list.iter().for_each(|v| walk(v, out)),
            other => out.push(other.clone()),
        }
    }
    let mut out = Vec::new();
    walk(&args[0], &mut out);
    Ok(Value::Array(out))
}

fn length(args: FuncArgs) -> Result<Value, String> {
    match &args[0] {
        Value::Array(list) => Ok(Value::from(list.len() as u64)),
        Value::Object(map) => Ok(Value::from(map.len() as u64)),
        Value::String(s) => Ok(Value::from(s.chars().count() as u64)),
        other => Err(format!("length of {other:?}")),
    }
}

/// Terraform's keys() and values() go in lexical order of the keys.
fn sorted(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

fn keys(args: FuncArgs) -> Result<Value, String> {
    let map = args[0].as_object().ok_or("keys of a non-object")?;
    Ok(Value::Array(
        sorted(map)
            .into_iter()
            .map(|(k, _)| Value::from(k.clone()))
            .collect(),
    ))
}

fn values(args: FuncArgs) -> Result<Value, String> {
    let map = args[0].as_object().ok_or("values of a non-object")?;
    Ok(Value::Array(
        sorted(map).into_iter().map(|(_, v)| v.clone()).collect(),
    ))
}

fn trimprefix(args: FuncArgs) -> Result<Value, String> {
    match (args[0].as_str(), args[1].as_str()) {
        (Some(s), Some(prefix)) => Ok(Value::from(s.strip_prefix(prefix).unwrap_or(s))),
        _ => Err("trimprefix takes strings".into()),
    }
}

fn lower(args: FuncArgs) -> Result<Value, String> {
    args[0]
        .as_str()
        .map(|s| Value::from(s.to_lowercase()))
        .ok_or_else(|| "lower takes a string".into())
}

fn startswith(args: FuncArgs) -> Result<Value, String> {
    match (args[0].as_str(), args[1].as_str()) {
        (Some(s), Some(prefix)) => Ok(Value::Bool(s.starts_with(prefix))),
        _ => Err("startswith takes strings".into()),
    }
}

fn concat(args: FuncArgs) -> Result<Value, String> {
    let mut out = Vec::new();
    for arg in args.iter() {
        out.extend(arg.as_array().cloned().unwrap_or_default());
    }
    Ok(Value::Array(out))
}

/// An HCL value as JSON; object keys sorted, as Terraform's jsonencode does.
pub fn to_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Number(n) => serde_json::to_value(n).unwrap(),
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::Array(list) => serde_json::Value::Array(list.iter().map(to_json).collect()),
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            serde_json::Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), to_json(&map[k])))
                    .collect(),
            )
        }
    }
}

/// A deterministic stand-in for an id AWS generates, from the instance's
/// address: 32 hex digits.
fn fake_id(root: &str, address: &str) -> String {
    let mut hash: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for byte in root.bytes().chain([b'/']).chain(address.bytes()) {
        hash ^= u128::from(byte);
        hash = hash.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    format!("{hash:032x}")
}

/// The same, shaped as a UUID (KMS key ids, WAF ids).
fn fake_uuid(root: &str, address: &str) -> String {
    let h = fake_id(root, address);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The attributes AWS computes for an instance: ARNs from the documented
/// formats, ids, and what data sources find in the rest of the world.
fn computed(i: &Instance, world: &World, s: &Sample) -> Result<Map<String, Value>, String> {
    // Provider v6: a resource's own `region` argument overrides the
    // provider's.
    let r = match i.attrs.get("region") {
        Some(Value::String(own)) => own.as_str(),
        _ => s.region,
    };
    let (p, a) = (s.partition, s.account);
    let in_region = |service: &str| format!("arn:{p}:{service}:{r}:{a}");
    let get = |name: &str| -> Result<String, String> {
        match i.attrs.get(name) {
            Some(Value::String(v)) => Ok(v.clone()),
            other => Err(format!("{}: {name} is {other:?}", i.kind)),
        }
    };
    let uuid = fake_uuid(&i.root, &i.address);
    let id = fake_id(&i.root, &i.address);
    let mut out: Map<String, Value> = Map::new();
    let mut set = |k: &str, v: String| {
        out.insert(k.to_owned(), Value::from(v));
    };
    match (i.mode, i.kind.as_str()) {
        (Mode::Data, "aws_caller_identity") => {
            set("account_id", a.into());
            set("id", a.into());
        }
        (Mode::Data, "aws_partition") => {
            set("partition", p.into());
            set("id", p.into());
            set("dns_suffix", s.dns_suffix().into());
        }
        (Mode::Data, "aws_region") => {
            set("region", r.into());
            set("name", r.into());
            set("id", r.into());
        }
        (Mode::Data, "aws_iam_policy_document") => {
            let json = serde_json::to_string(&policy_document(&i.attrs)?).unwrap();
            set("json", json.clone());
            set("minified_json", json);
        }
        (Mode::Data, "aws_ecr_repository") => {
            let name = get("name")?;
            let repo = world
                .find("aws_ecr_repository", "name", &name)
                .ok_or_else(|| format!("no ECR repository {name} in the world"))?;
            for k in ["arn", "repository_url", "registry_id"] {
                set(k, repo.string(k));
            }
        }
        (Mode::Data, "aws_iam_openid_connect_provider") => {
            let provider = match (i.attrs.get("arn"), i.attrs.get("url")) {
                (Some(Value::String(arn)), _) => {
                    world.find("aws_iam_openid_connect_provider", "arn", arn)
                }
                (_, Some(Value::String(url))) => {
                    world.find("aws_iam_openid_connect_provider", "url", url)
                }
                _ => return Err("the OIDC provider is looked up by neither arn nor url".into()),
            }
            .ok_or("no such OIDC provider in the world")?;
            set("arn", provider.string("arn"));
            set("url", provider.string("url"));
        }
        (Mode::Data, "aws_kms_alias") => {
            let name = get("name")?;
            let alias = world
                .find("aws_kms_alias", "name", &name)
                .ok_or_else(|| format!("no KMS alias {name} in the world"))?;
            for k in ["arn", "target_key_arn", "target_key_id"] {
                set(k, alias.string(k));
            }
        }
        (Mode::Managed, "aws_s3_bucket") => {
            let bucket = get("bucket")?;
            set("arn", format!("arn:{p}:s3:::{bucket}"));
            set("id", bucket);
        }
        (
            Mode::Managed,
            "aws_s3_bucket_ownership_controls"
            | "aws_s3_bucket_public_access_block"
            | "aws_s3_bucket_versioning"
            | "aws_s3_bucket_server_side_encryption_configuration"
            | "aws_s3_bucket_lifecycle_configuration"
            | "aws_s3_bucket_policy",
        ) => set("id", get("bucket")?),
        (Mode::Managed, "aws_kms_key") => {
            set("key_id", uuid.clone());
            set("id", uuid.clone());
            set("arn", format!("{}:key/{uuid}", in_region("kms")));
        }
        (Mode::Managed, "aws_kms_alias") => {
            let name = get("name")?;
            let key_id = get("target_key_id")?;
            set("arn", format!("{}:{name}", in_region("kms")));
            set(
                "target_key_arn",
                format!("{}:key/{key_id}", in_region("kms")),
            );
            set("id", name);
        }
        (Mode::Managed, "aws_ecr_repository") => {
            let name = get("name")?;
            set("arn", format!("{}:repository/{name}", in_region("ecr")));
            set("registry_id", a.into());
            set(
                "repository_url",
                format!("{a}.dkr.ecr.{r}.{}/{name}", s.dns_suffix()),
            );
            set("id", name);
        }
        (Mode::Managed, "aws_ecr_lifecycle_policy") => set("id", get("repository")?),
        (Mode::Managed, "aws_iam_openid_connect_provider") => {
            let url = get("url")?;
            let host = url.trim_start_matches("https://");
            set("arn", format!("arn:{p}:iam::{a}:oidc-provider/{host}"));
        }
        (Mode::Managed, "aws_iam_role") => {
            let name = get("name")?;
            set("arn", format!("arn:{p}:iam::{a}:role/{name}"));
            set("id", name.clone());
            set("unique_id", format!("AROA{}", &id[..17].to_uppercase()));
        }
        (Mode::Managed, "aws_iam_role_policy") => {
            set("id", format!("{}:{}", get("role")?, get("name")?))
        }
        (Mode::Managed, "aws_iam_role_policy_attachment") => {
            set("id", format!("{}-{id}", get("role")?));
        }
        (Mode::Managed, "aws_wafv2_web_acl") => {
            let name = get("name")?;
            set(
                "arn",
                format!("{}:regional/webacl/{name}/{uuid}", in_region("wafv2")),
            );
            set("id", uuid);
        }
        (Mode::Managed, "aws_wafv2_web_acl_logging_configuration") => {
            set("id", get("resource_arn")?)
        }
        (Mode::Managed, "aws_wafv2_web_acl_association") => {
            set(
                "id",
                format!("{},{}", get("web_acl_arn")?, get("resource_arn")?),
            );
        }
        (Mode::Managed, "aws_cloudwatch_log_group") => {
            let name = get("name")?;
            set("arn", format!("{}:log-group:{name}", in_region("logs")));
            set("id", name);
        }
        (Mode::Managed, "aws_cloudwatch_log_metric_filter") => set("id", get("name")?),
        (Mode::Managed, "aws_cloudwatch_metric_alarm") => {
            let name = get("alarm_name")?;
            set("arn", format!("{}:alarm:{name}", in_region("cloudwatch")));
            set("id", name);
        }
        (Mode::Managed, "aws_cloudwatch_composite_alarm") => {
            let name = get("alarm_name")?;
            set("arn", format!("{}:alarm:{name}", in_region("cloudwatch")));
            set("id", name);
        }
        (Mode::Managed, "aws_cloudwatch_dashboard") => {
            // Dashboards are global: no region in the ARN (SAR).
            let name = get("dashboard_name")?;
            set(
                "dashboard_arn",
                format!("arn:{p}:cloudwatch::{a}:dashboard/{name}"),
            );
            set("id", name);
        }
        (Mode::Managed, "aws_cloudwatch_query_definition") => {
            set("query_definition_id", uuid.clone());
            set(
                "arn",
                format!("{}:query-definition:{uuid}", in_region("logs")),
            );
            set("id", uuid);
        }
        (Mode::Managed, "aws_route53_health_check") => {
            // Route 53 is global: no region or account in the ARN.
            set("arn", format!("arn:{p}:route53:::healthcheck/{uuid}"));
            set("id", uuid);
        }
        (Mode::Managed, "aws_sns_topic") => {
            let arn = format!("{}:{}", in_region("sns"), get("name")?);
            set("arn", arn.clone());
            set("id", arn);
        }
        (Mode::Managed, "aws_sns_topic_policy") => set("id", get("arn")?),
        (Mode::Managed, "aws_sns_topic_subscription") => {
            let arn = format!("{}:{uuid}", get("topic_arn")?);
            set("arn", arn.clone());
            set("id", arn);
        }
        (Mode::Managed, "aws_apprunner_service") => {
            let name = get("service_name")?;
            set(
                "arn",
                format!("{}:service/{name}/{id}", in_region("apprunner")),
            );
            set("service_id", id.clone());
            set("service_url", format!("{}.{r}.awsapprunner.com", &id[..10]));
        }
        (Mode::Managed, "aws_apprunner_auto_scaling_configuration_version") => {
            let name = get("auto_scaling_configuration_name")?;
            set(
                "arn",
                format!(
                    "{}:autoscalingconfiguration/{name}/1/{id}",
                    in_region("apprunner")
                ),
            );
        }
        (Mode::Managed, "aws_apprunner_observability_configuration") => {
            let name = get("observability_configuration_name")?;
            set(
                "arn",
                format!(
                    "{}:observabilityconfiguration/{name}/1/{id}",
                    in_region("apprunner")
                ),
            );
        }
        (Mode::Managed, "aws_ecs_cluster") => {
            let name = get("name")?;
            let arn = format!("{}:cluster/{name}", in_region("ecs"));
            set("arn", arn.clone());
            set("id", arn);
        }
        (Mode::Managed, "aws_ecs_express_gateway_service") => {
            let (cluster, name) = (get("cluster")?, get("service_name")?);
            let arn = format!("{}:service/{cluster}/{name}", in_region("ecs"));
            set("arn", arn.clone());
            set("service_arn", arn.clone());
            set("id", arn);
            set(
                "service_revision_arn",
                format!(
                    "{}:service-revision/{cluster}/{name}/{}",
                    in_region("ecs"),
                    &id[..19]
                ),
            );
            let mut endpoint = Map::new();
            endpoint.insert(
                "endpoint".to_owned(),
                Value::from(format!("{}.ecs.{r}.on.aws", &id[..12])),
            );
            out.insert(
                "ingress_paths".into(),
                Value::Array(vec![Value::Object(endpoint)]),
            );
        }
        (mode, kind) => {
            return Err(format!(
                "{kind} ({mode:?}): no ARN format is known; add it to computed()"
            ))
        }
    }
    Ok(out)
}

/// `aws_iam_policy_document`'s statements as policy JSON, with every value
/// a list (which IAM accepts and the provider writes for several).
fn policy_document(attrs: &Map<String, Value>) -> Result<serde_json::Value, String> {
    use serde_json::{json, Value as J};
    let strings = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut statements = Vec::new();
    let empty = Vec::new();
    for statement in attrs
        .get("statement")
        .and_then(Value::as_array)
        .unwrap_or(&empty)
    {
        let st = statement.as_object().ok_or("a statement is not a block")?;
        for unsupported in ["not_actions", "not_resources", "not_principals"] {
            if st.contains_key(unsupported) {
                return Err(format!("{unsupported} is not rendered here"));
            }
        }
        let mut out = serde_json::Map::new();
        if let Some(Value::String(sid)) = st.get("sid") {
            out.insert("Sid".into(), J::from(sid.clone()));
        }
        let effect = st.get("effect").and_then(Value::as_str).unwrap_or("Allow");
        out.insert("Effect".into(), J::from(effect));
        out.insert("Action".into(), json!(strings(st.get("actions"))));
        out.insert("Resource".into(), json!(strings(st.get("resources"))));
        let mut conditions = serde_json::Map::new();
        for c in st
            .get("condition")
            .and_then(Value::as_array)
            .unwrap_or(&empty)
        {
            let c = c.as_object().ok_or("a condition is not a block")?;
            let test = c
                .get("test")
                .and_then(Value::as_str)
                .ok_or("condition without test")?;
            let variable = c
                .get("variable")
                .and_then(Value::as_str)
                .ok_or("condition without variable")?;
            let entry = conditions
                .entry(test.to_owned())
                .or_insert_with(|| J::Object(serde_json::Map::new()));
            entry
                .as_object_mut()
                .unwrap()
                .insert(variable.to_owned(), json!(strings(c.get("values"))));
        }
        if !conditions.is_empty() {
            out.insert("Condition".into(), J::Object(conditions));
        }
        let mut principals = serde_json::Map::new();
        for pr in st
            .get("principals")
            .and_then(Value::as_array)
            .unwrap_or(&empty)
        {
            let pr = pr.as_object().ok_or("principals is not a block")?;
            let kind = pr
                .get("type")
                .and_then(Value::as_str)
                .ok_or("principals without type")?;
            principals.insert(kind.to_owned(), json!(strings(pr.get("identifiers"))));
        }
        if !principals.is_empty() {
            out.insert("Principal".into(), J::Object(principals));
        }
        statements.push(J::Object(out));
    }
    Ok(json!({ "Version": "2012-10-17", "Statement": statements }))
}
