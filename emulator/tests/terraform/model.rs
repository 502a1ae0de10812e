//! The Terraform of `infra/terraform`, parsed with `hcl-rs` and evaluated the way a plan would
//! see it: variables take their defaults (plus the required ones given here), data sources and
//! resource attributes only known after apply get fixed stand-in values (`arn:mock:<address>`),
//! `local.functions` comes from the generated file, and every resource's `for_each` and
//! attributes evaluate with `each` bound to one key.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use hcl::eval::{Context, Evaluate};
use hcl::{Block, Body, Expression};
use serde_json::Value as Json;

use super::stand_ins::{
    REQUIRED_VARS, address, data_sources, functions, mock_arn, mock_url, to_hcl, to_json,
};

/// Every `.tf` file of a folder, parsed, plus what evaluating them gives.
#[derive(Debug)]
pub(crate) struct Config {
    /// File name -> parsed body.
    pub files: BTreeMap<String, Body>,
    /// Variable values.
    pub vars: hcl::Map<String, hcl::Value>,
    base: Context<'static>,
}

impl Config {
    /// Parses every `.tf` file of `dir` and evaluates it with `overrides` on top of the
    /// variables' defaults.
    pub(crate) fn load(dir: &Path, overrides: &[(&str, Json)]) -> Self {
        let mut files = BTreeMap::new();
        for path in tf_files(dir) {
            let text = std::fs::read_to_string(&path).expect("readable");
            let body = hcl::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            files.insert(name, body);
        }
        let generated: Json = serde_json::from_str(
            &std::fs::read_to_string(dir.join("functions.tf.json")).expect("generated data"),
        )
        .expect("generated data is JSON");
        let mut config = Self {
            files,
            vars: hcl::Map::new(),
            base: Context::new(),
        };
        for (name, def) in functions() {
            config.base.declare_func(name, def);
        }
        config.vars = config.variables(overrides);
        config
            .base
            .declare_var("var", hcl::Value::Object(config.vars.clone()));
        let data = data_sources();
        for block in config.blocks("data") {
            let [ty, name] = labels(block);
            assert!(
                data[&ty][&name].is_object(),
                "data.{ty}.{name} has no stand-in"
            );
        }
        config.base.declare_var("data", to_hcl(&data));
        config.evaluate_locals(&generated["locals"]);
        config.declare_resources();
        config
    }

    /// Every block of kind `ident` (`resource`, `variable`, ...) of every file.
    pub(crate) fn blocks(&self, ident: &str) -> Vec<&Block> {
        self.files
            .values()
            .flat_map(|body| body.blocks().filter(move |b| b.identifier() == ident))
            .collect()
    }

    /// The one `resource "ty" "name"` block.
    pub(crate) fn resource(&self, ty: &str, name: &str) -> &Block {
        let found: Vec<&Block> = self
            .blocks("resource")
            .into_iter()
            .filter(|b| labels(b) == [ty, name])
            .collect();
        assert_eq!(found.len(), 1, "resource {ty}.{name} declared once");
        found[0]
    }

    fn variables(&self, overrides: &[(&str, Json)]) -> hcl::Map<String, hcl::Value> {
        let mut vars = hcl::Map::new();
        for block in self.blocks("variable") {
            let [name] = labels(block);
            let value = match attr(block.body(), "default") {
                Some(expr) => expr.evaluate(&self.base).expect("a default evaluates"),
                None => {
                    let (_, value) = REQUIRED_VARS
                        .iter()
                        .find(|(n, _)| *n == name)
                        .unwrap_or_else(|| panic!("variable {name} has no default"));
                    hcl::Value::from(*value)
                }
            };
            vars.insert(name, value);
        }
        for (name, value) in overrides {
            assert!(vars.contains_key(*name), "no variable {name}");
            vars.insert((*name).to_owned(), to_hcl(value));
        }
        vars
    }

    fn evaluate_locals(&mut self, generated: &Json) {
        let mut pending: Vec<(String, Expression)> = self
            .blocks("locals")
            .into_iter()
            .flat_map(|b| b.body().attributes())
            .map(|a| (a.key().to_owned(), a.expr().clone()))
            .collect();
        let mut locals = generated.as_object().expect("locals").clone();
        while !pending.is_empty() {
            let mut ctx = self.base.clone();
            ctx.declare_var("local", to_hcl(&Json::Object(locals.clone())));
            let before = pending.len();
            pending.retain(|(name, expr)| match expr.evaluate(&ctx) {
                Ok(value) => {
                    assert!(
                        locals.insert(name.clone(), to_json(&value)).is_none(),
                        "local.{name} defined twice"
                    );
                    false
                }
                Err(_) => true,
            });
            if pending.len() == before {
                let ctx = ctx;
                let errors: Vec<String> = pending
                    .iter()
                    .map(|(n, e)| format!("local.{n}: {}", e.evaluate(&ctx).unwrap_err()))
                    .collect();
                panic!("locals do not evaluate: {errors:#?}");
            }
        }
        self.base
            .declare_var("local", to_hcl(&Json::Object(locals)));
    }

    /// The keys of a resource's `for_each`; `None` for a single resource.
    pub(crate) fn for_each(&self, ty: &str, name: &str) -> Option<BTreeMap<String, Json>> {
        let expr = attr(self.resource(ty, name).body(), "for_each")?;
        let value = expr
            .evaluate(&self.base)
            .unwrap_or_else(|e| panic!("{ty}.{name} for_each: {e}"));
        let map = to_json(&value)
            .as_object()
            .unwrap_or_else(|| panic!("{ty}.{name} for_each is a map"))
            .clone();
        Some(map.into_iter().collect())
    }

    /// The key set of a resource's `for_each`.
    pub(crate) fn keys(&self, ty: &str, name: &str) -> BTreeSet<String> {
        self.for_each(ty, name)
            .unwrap_or_else(|| panic!("{ty}.{name} has a for_each"))
            .into_keys()
            .collect()
    }

    fn context(&self, ty: &str, name: &str, key: Option<&str>) -> Context<'static> {
        let mut ctx = self.base.clone();
        if let Some(key) = key {
            let value = self.for_each(ty, name).expect("for_each")[key].clone();
            ctx.declare_var(
                "each",
                to_hcl(&serde_json::json!({ "key": key, "value": value })),
            );
        }
        ctx
    }

    /// Each resource as plan-time values: the attributes that evaluate without other resources,
    /// plus stand-in `arn`, `id`, `url` and `name`.
    fn declare_resources(&mut self) {
        let mut by_type: BTreeMap<String, serde_json::Map<String, Json>> = BTreeMap::new();
        for block in self.blocks("resource") {
            let [ty, name] = labels(block);
            let keys: Vec<Option<String>> = match self.for_each(&ty, &name) {
                Some(map) => map.into_keys().map(Some).collect(),
                None => vec![None],
            };
            let mut instances = serde_json::Map::new();
            for key in keys {
                let ctx = self.context(&ty, &name, key.as_deref());
                let mut instance = serde_json::Map::new();
                for a in block.body().attributes() {
                    if let Ok(value) = a.expr().evaluate(&ctx) {
                        instance.insert(a.key().to_owned(), to_json(&value));
                    }
                }
                let address = address(&ty, &name, key.as_deref());
                let arn = mock_arn(&ty, &name, key.as_deref());
                instance.insert("arn".into(), arn.into());
                instance.insert("id".into(), format!("id:{address}").into());
                let url = mock_url(&name, key.as_deref().unwrap_or_default());
                instance.insert("url".into(), url.into());
                instance
                    .entry("name")
                    .or_insert_with(|| format!("name:{address}").into());
                match key {
                    Some(key) => instances.insert(key, Json::Object(instance)),
                    None => instances.insert(String::new(), Json::Object(instance)),
                };
            }
            let value = match instances.remove("") {
                Some(single) => single,
                None => Json::Object(instances),
            };
            by_type.entry(ty).or_default().insert(name, value);
        }
        for (ty, resources) in by_type {
            self.base.declare_var(ty, to_hcl(&Json::Object(resources)));
        }
    }

    /// The value of `path` (`attr` or `block.block.attr`) of a resource instance.
    pub(crate) fn eval(&self, ty: &str, name: &str, key: Option<&str>, path: &str) -> Json {
        self.try_eval(ty, name, key, path)
            .unwrap_or_else(|| panic!("{} has no {path}", address(ty, name, key)))
    }

    /// Like [`Config::eval`], `None` when the attribute is absent.
    pub(crate) fn try_eval(
        &self,
        ty: &str,
        name: &str,
        key: Option<&str>,
        path: &str,
    ) -> Option<Json> {
        let mut body = self.resource(ty, name).body();
        let mut parts: Vec<&str> = path.split('.').collect();
        let last = parts.pop().expect("a path");
        for part in parts {
            let nested: Vec<&Block> = body.blocks().filter(|b| b.identifier() == part).collect();
            assert!(nested.len() <= 1, "{ty}.{name}: one {part} block");
            body = nested.first()?.body();
        }
        let expr = attr(body, last)?;
        let ctx = self.context(ty, name, key);
        let value = expr
            .evaluate(&ctx)
            .unwrap_or_else(|e| panic!("{}.{path}: {e}", address(ty, name, key)));
        Some(to_json(&value))
    }

    /// The JSON document a string attribute holds (policies, patterns).
    pub(crate) fn eval_doc(&self, ty: &str, name: &str, key: &str, path: &str) -> Json {
        let text = self.eval(ty, name, Some(key), path);
        let text = text.as_str().expect("a JSON string");
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{ty}.{name}[{key}].{path}: {e}"))
    }

    /// An output's value.
    pub(crate) fn output(&self, name: &str) -> Json {
        let block = self
            .blocks("output")
            .into_iter()
            .find(|b| labels(b) == [name])
            .unwrap_or_else(|| panic!("no output {name}"));
        let expr = attr(block.body(), "value").expect("a value");
        to_json(&expr.evaluate(&self.base).expect("output evaluates"))
    }
}

/// The labels of a block, as an array of known length.
pub(crate) fn labels<const N: usize>(block: &Block) -> [String; N] {
    let labels: Vec<String> = block
        .labels()
        .iter()
        .map(|l| l.as_str().to_owned())
        .collect();
    labels
        .try_into()
        .unwrap_or_else(|l: Vec<String>| panic!("{} has labels {l:?}", block.identifier()))
}

/// An attribute's expression.
pub(crate) fn attr<'a>(body: &'a Body, key: &str) -> Option<&'a Expression> {
    body.attributes().find(|a| a.key() == key).map(|a| a.expr())
}

/// The `.tf` files of `dir`, sorted.
pub(crate) fn tf_files(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the Terraform folder")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "tf"))
        .collect();
    found.sort();
    found
}
