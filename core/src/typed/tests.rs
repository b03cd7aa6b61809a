//! The framework's own rules, on a toy type whose "cloud" is a map in memory.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::*;
use crate::provider::*;
use crate::value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[strake(handle = WidgetHandle, resource = WIDGET)]
struct WidgetInputs {
    /// The widget's unique name.
    #[strake(generated_name = 16, replace_on, unique)]
    name: String,
    /// The shelf it stands on.
    #[strake(set, new, replace_on)]
    shelf: String,
    #[strake(default = 3)]
    size: i64,
    /// The widget's colour.
    #[strake(set = "paint")]
    colour: Option<String>,
    #[strake(set, dynamic, create_only)]
    note: Option<String>,
    /// Stickers by place.
    #[strake(set, pairs)]
    stickers: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[strake(handle = WidgetHandle)]
struct WidgetOutputs {
    #[strake(get)]
    serial: String,
    #[strake(secret)]
    password: String,
    /// The shelf, as given.
    #[strake(echo)]
    shelf: String,
}

/// The program-side handle, its accessors written by the derives.
#[derive(Clone, crate::ResourceHandle)]
struct WidgetHandle(crate::Resource);

/// The "cloud": widgets by name.
#[derive(Default, Clone)]
struct Shop(Arc<Mutex<BTreeMap<String, WidgetInputs>>>);

impl ProviderContext for Shop {}

struct Widget;

impl ResourceType for Widget {
    type Context = Shop;
    type Inputs = WidgetInputs;
    type Outputs = WidgetOutputs;
    const SPEC: Spec = Spec::new("toy:shop:Widget", CreatedLookup::FromInputs);

    fn check(&self, _shop: &Shop, c: &mut Check<WidgetInputs>) {
        c.validate(WidgetInputs::SIZE, |s| if *s > 0 { Ok(()) } else { Err(format!("is {s}; use 1 or more")) });
        c.normalize(WidgetInputs::COLOUR, |c| Ok(c.to_ascii_lowercase()));
    }

    fn preview(&self, _shop: &Shop, inputs: &Partial<WidgetInputs>, _prior: Option<&Partial<WidgetOutputs>>) -> Option<Partial<WidgetOutputs>> {
        let name = inputs.known(WidgetInputs::NAME)?;
        let mut out = Partial::new();
        out.set(WidgetOutputs::SERIAL, format!("serial-{name}"));
        Some(out)
    }

    fn claim(&self, _shop: &Shop, inputs: &Partial<WidgetInputs>) -> Option<String> {
        inputs.known(WidgetInputs::NAME).map(|n| format!("widget `{n}`"))
    }

    async fn create(&self, shop: &Shop, req: Create<'_, WidgetInputs>) -> Result<Created<WidgetOutputs>, ProviderError> {
        shop.0.lock().unwrap().insert(req.inputs.name.clone(), req.inputs.clone());
        let outputs = WidgetOutputs { serial: format!("serial-{}", req.inputs.name), password: "hunter2".into(), shelf: req.inputs.shelf.clone() };
        Ok(Created::new(req.inputs.name.clone(), outputs))
    }

    async fn read(
        &self,
        shop: &Shop,
        req: Read<'_, WidgetInputs, WidgetOutputs>,
    ) -> Result<Option<Observed<WidgetInputs, WidgetOutputs>>, ProviderError> {
        let Some(name) = req.locate(|id| Ok(id.to_string()), |i| i.name.clone())? else { return Ok(None) };
        Ok(shop.0.lock().unwrap().get(&name).map(|w| {
            let outputs = WidgetOutputs { serial: format!("serial-{name}"), password: "hunter2".into(), shelf: w.shelf.clone() };
            Observed::new(name.clone(), w.clone(), outputs)
        }))
    }

    async fn update(&self, shop: &Shop, req: Update<'_, WidgetInputs, WidgetOutputs>) -> Result<WidgetOutputs, ProviderError> {
        assert!(req.changed(WidgetInputs::SIZE) || req.changed(WidgetInputs::COLOUR));
        shop.0.lock().unwrap().insert(req.id.to_string(), req.new.clone());
        Ok(req.old_outputs.cloned().expect("recorded outputs fit the schema"))
    }

    async fn delete(&self, shop: &Shop, req: Delete<'_, WidgetInputs, WidgetOutputs>) -> Result<(), ProviderError> {
        shop.0.lock().unwrap().remove(req.id);
        Ok(())
    }
}

#[derive(Serialize, Deserialize, Schema)]
struct CountInputs {}

#[derive(Serialize, Deserialize, Schema)]
struct CountOutputs {
    widgets: usize,
}

struct Count;

impl DataSourceType for Count {
    type Context = Shop;
    type Inputs = CountInputs;
    type Outputs = CountOutputs;
    const TYPE: &'static str = "toy:shop:Count";

    async fn read(&self, shop: &Shop, _inputs: &CountInputs) -> Result<Option<Found<CountOutputs>>, ProviderError> {
        Ok(Some(Found::new("count", CountOutputs { widgets: shop.0.lock().unwrap().len() })))
    }
}

/// A data source with a secret output: the shop's till code.
struct Till;

#[derive(Serialize, Deserialize, Schema)]
struct TillOutputs {
    #[strake(secret)]
    code: String,
}

impl DataSourceType for Till {
    type Context = Shop;
    type Inputs = CountInputs;
    type Outputs = TillOutputs;
    const TYPE: &'static str = "toy:shop:Till";

    async fn read(&self, _shop: &Shop, _inputs: &CountInputs) -> Result<Option<Found<TillOutputs>>, ProviderError> {
        Ok(Some(Found::new("till", TillOutputs { code: "1234".into() })))
    }
}

const WIDGET: &str = "toy:shop:Widget";

fn provider() -> TypedProvider<Shop> {
    TypedProvider::new(Shop::default(), Arc::new(Registry::new("toy").resource(Widget).data_source(Count).data_source(Till)))
}

fn urn(name: &str) -> Urn {
    Urn::new("dev", WIDGET, name)
}

fn check(p: &TypedProvider<Shop>, name: &str, inputs: Value, prior: Option<Value>) -> CheckResponse {
    p.check(CheckRequest { urn: urn(name), type_token: WIDGET.into(), inputs, prior_inputs: prior })
}

fn failures(r: &CheckResponse) -> Vec<(String, String)> {
    r.failures.iter().map(|f| (f.property.clone(), f.reason.clone())).collect()
}

#[test]
fn keys_carry_the_field_names_and_the_table_says_what_is_required() {
    assert_eq!(WidgetInputs::NAME.name(), "name");
    let table: Vec<(&str, bool)> = WidgetInputs::FIELDS.iter().map(|f| (f.name, f.required)).collect();
    assert_eq!(table, [("name", true), ("shelf", true), ("size", false), ("colour", false), ("note", false), ("stickers", false)]);
    assert_eq!(WidgetInputs::field("shelf").map(|f| f.doc), Some("The shelf it stands on."));
}

#[test]
fn the_rules_marked_on_fields_are_listed_by_rule() {
    let rules = WidgetInputs::RULES;
    assert_eq!(rules.replace_on, ["name", "shelf"]);
    assert_eq!(rules.unique, ["name"]);
    assert_eq!(rules.generated_name, Some(("name", 16)));
    assert_eq!(rules.create_only, ["note"]);
    assert!(rules.internal.is_empty() && rules.secret.is_empty());
    assert_eq!((WidgetOutputs::RULES.secret, WidgetOutputs::RULES.echo), (["password"].as_slice(), ["shelf"].as_slice()));
    assert!(SprocketInputs::RULES.is_none());
}

/// Inputs that claim to be secret: `secret` is for outputs.
#[derive(Serialize, Deserialize, Schema)]
struct LeakyInputs {
    #[strake(secret)]
    token: String,
}

#[test]
#[should_panic(expected = "type `toy:shop:Leaky`: `secret` marks outputs")]
fn a_rule_on_the_wrong_side_stops_the_registry() {
    registry::rules_on_their_side::<LeakyInputs, CountOutputs>("toy:shop:Leaky");
}

#[test]
#[should_panic(expected = "type `toy:shop:Backwards`: outputs take only `secret`")]
fn an_input_rule_on_outputs_stops_the_registry() {
    registry::rules_on_their_side::<CountOutputs, WidgetInputs>("toy:shop:Backwards");
}

/// Outputs that echo an input the type does not have.
#[derive(Serialize, Deserialize, Schema)]
struct EchoOutputs {
    #[strake(echo)]
    colour: String,
}

#[test]
#[should_panic(expected = "type `toy:shop:Echo`: output `colour` is marked `echo`, but there is no input `colour`")]
fn an_echo_of_no_input_stops_the_registry() {
    registry::rules_on_their_side::<CountInputs, EchoOutputs>("toy:shop:Echo");
}

#[test]
fn outputs_that_are_the_inputs_keep_their_rules() {
    registry::rules_on_their_side::<WidgetInputs, WidgetInputs>("toy:shop:Same");
    registry::rules_on_their_side::<WidgetInputs, WidgetOutputs>("toy:shop:Widget");
}

#[test]
fn handle_accessors_set_inputs_and_read_outputs_under_the_schemas_names() {
    use crate::ResourceHandle as _;
    let program = crate::Program::build("dev", crate::Config::default(), |stack| {
        let widget = WidgetHandle(stack.resource(WIDGET, "w")).shelf("top").paint("red".to_string()).stickers([("lid", "logo")]);
        let label = stack.resource("toy:shop:Label", "l");
        label.set(WidgetInputs::NOTE, widget.serial().map(|s| format!("serial {s}")));
        assert_eq!(widget.urn(), urn("w"));
        Ok(())
    })
    .unwrap();
    let widget = program.declaration(&urn("w")).unwrap();
    assert_eq!(widget.resolve_inputs(&crate::output::EmptyEnv).unwrap(), value!({"shelf": "top", "colour": "red", "stickers": {"lid": "logo"}}));
    let label = program.declaration(&Urn::new("dev", "toy:shop:Label", "l")).unwrap();
    assert_eq!(label.dependencies().into_iter().collect::<Vec<_>>(), vec![urn("w")]);
    let env: BTreeMap<Urn, Value> = [(urn("w"), value!({"serial": "S-1", "password": "p"}))].into();
    assert_eq!(label.resolve_inputs(&env).unwrap(), value!({"note": "serial S-1"}));
}

#[test]
fn a_handles_constructor_declares_its_type_with_the_new_fields_and_its_provider() {
    let program = crate::Program::build("dev", crate::Config::default(), |stack| {
        let shop = stack.provider("shop", ProgramProvider::new(Registry::new("toy").resource(Widget), Shop::default()));
        // `note` is dynamic: any `Output<Value>`, though its declared type is a string.
        WidgetHandle::new(stack, "w", &shop, "top").note(crate::Output::new(value!(["made", "by", "hand"])));
        Ok(())
    })
    .unwrap();
    let widget = program.declaration(&urn("w")).unwrap();
    assert!(matches!(widget.kind, crate::program::DeclKind::Resource));
    assert_eq!(widget.resolve_inputs(&crate::output::EmptyEnv).unwrap(), value!({"shelf": "top", "note": ["made", "by", "hand"]}));
    let shop = Urn::new("dev", "strake:provider:toy", "shop");
    assert_eq!(widget.options.provider, Some(shop.clone()));
    assert!(widget.dependencies().contains(&shop));
}

#[test]
fn check_applies_defaults_generated_names_types_and_the_types_own_rules() {
    let p = provider();
    let r = check(&p, "front-door", value!({"shelf": "top", "colour": "RED"}), None);
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    let name = generated_name(&urn("front-door"), 16);
    assert_eq!(name.len(), 16);
    assert!(name.starts_with("front-do-"), "{name}");
    assert_eq!(r.inputs, value!({"name": name.clone(), "shelf": "top", "size": 3, "colour": "red"}));

    // A recorded name is kept, whatever the generator would say now.
    let r = check(&p, "front-door", value!({"shelf": "top"}), Some(value!({"name": "kept"})));
    assert_eq!(r.inputs.get("name"), Some(&Value::from("kept")));

    let r = check(&p, "w", value!({"size": "big", "colur": "red"}), None);
    assert_eq!(
        failures(&r),
        [
            ("colur".to_string(), "`toy:shop:Widget` has no property `colur`; did you mean `colour`?".to_string()),
            ("size".into(), "is \"big\", but must be an integer".into()),
            ("shelf".into(), "is required: The shelf it stands on.".into()),
        ]
    );
    let r = check(&p, "w", value!({"shelf": "top", "size": 0}), None);
    assert_eq!(failures(&r), [("size".to_string(), "is 0; use 1 or more".to_string())]);
}

#[test]
fn unknown_values_are_neither_type_checked_nor_required() {
    let p = provider();
    let mut inputs = value!({"name": "w"});
    inputs.set_path("shelf", Some(Value::Unknown));
    inputs.set_path("size", Some(Value::Unknown));
    let r = check(&p, "w", inputs, None);
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    assert_eq!(r.inputs.get("size"), Some(&Value::Unknown));
}

#[test]
fn diff_follows_the_rules_marked_on_the_inputs() {
    let p = provider();
    let diff = |old: Value, new: Value| {
        p.diff(DiffRequest { urn: urn("w"), type_token: WIDGET.into(), id: "w".into(), old_inputs: old, old_outputs: Value::map(), new_inputs: new })
    };
    let old = value!({"name": "a", "shelf": "top", "size": 3, "note": "x"});
    assert_eq!(
        diff(old.clone(), value!({"name": "a", "shelf": "top", "size": 4, "note": "y"})),
        DiffResponse { changes: vec!["size".into()], replaces: vec![], delete_before_replace: false }
    );
    // Another shelf under the same unique name: the old widget goes first.
    let moved = diff(old.clone(), value!({"name": "a", "shelf": "low", "size": 3, "note": "x"}));
    assert_eq!((moved.replaces.clone(), moved.delete_before_replace), (vec!["shelf".to_string()], true));
    // A new name: both can exist at once.
    let renamed = diff(old.clone(), value!({"name": "b", "shelf": "top", "size": 3, "note": "x"}));
    assert_eq!((renamed.replaces.clone(), renamed.delete_before_replace), (vec!["name".to_string()], false));
    // A name not known until apply may turn out the same: delete first.
    let mut unknown = value!({"shelf": "top", "size": 3, "note": "x"});
    unknown.set_path("name", Some(Value::Unknown));
    assert!(diff(old, unknown).delete_before_replace);
}

#[tokio::test]
async fn operations_convert_typed_values_and_mark_secret_outputs() {
    let p = provider();
    let inputs = check(&p, "w", value!({"name": "w1", "shelf": "top"}), None).inputs;
    assert_eq!(p.claim(WIDGET, &inputs).as_deref(), Some("widget `w1`"));
    let preview =
        |inputs: &Value| p.preview(PreviewRequest { urn: urn("w"), type_token: WIDGET.into(), inputs: inputs.clone(), prior_outputs: None });
    assert_eq!(preview(&inputs), value!({"serial": "serial-w1", "shelf": "top"}), "the type's preview, and the echoed input");
    // An echoed input unknown at plan time is unknown in the outputs; one the type's preview
    // cannot say (an unknown name) is still echoed.
    let mut unknown_shelf = inputs.clone();
    unknown_shelf.set_path("shelf", Some(Value::Unknown));
    assert_eq!(preview(&unknown_shelf).get("shelf"), Some(&Value::Unknown));
    let mut unknown_name = inputs.clone();
    unknown_name.set_path("name", Some(Value::Unknown));
    assert_eq!(preview(&unknown_name), value!({"shelf": "top"}));

    let created = p.create(CreateRequest { urn: urn("w"), type_token: WIDGET.into(), inputs: inputs.clone(), timeout: None }).await.unwrap();
    assert_eq!(created.id, "w1");
    assert_eq!(created.outputs.get("password"), Some(&Value::Secret(Box::new(Value::from("hunter2")))));
    assert_eq!(created.outputs.get("serial"), Some(&Value::from("serial-w1")));

    // Read back by inputs alone (an interrupted create); absent options are left out, not null.
    let read =
        p.read(ReadRequest { urn: urn("w"), type_token: WIDGET.into(), id: None, inputs: inputs.clone(), outputs: Value::Null }).await.unwrap();
    let ReadResponse::Found { id, inputs: now, .. } = read else { panic!("the widget exists") };
    assert_eq!((id.as_str(), now), ("w1", value!({"name": "w1", "shelf": "top", "size": 3})));

    // A property recorded as a secret reads back as one (typed values carry no marks).
    let mut secret_shelf = inputs.clone();
    secret_shelf.set_path("shelf", Some(Value::Secret(Box::new(Value::from("top")))));
    let read = p
        .read(ReadRequest { urn: urn("w"), type_token: WIDGET.into(), id: Some("w1".into()), inputs: secret_shelf, outputs: Value::Null })
        .await
        .unwrap();
    let ReadResponse::Found { inputs: now, .. } = read else { panic!("the widget exists") };
    assert_eq!(now.get("shelf"), Some(&Value::Secret(Box::new(Value::from("top")))));

    let mut bigger = inputs.clone();
    bigger.set_path("size", Some(Value::from(5)));
    let updated = p
        .update(UpdateRequest::new(DiffRequest::new(urn("w"), "w1", inputs.clone(), created.outputs.clone(), bigger), vec!["size".into()], None))
        .await
        .unwrap();
    assert_eq!(updated.outputs, created.outputs);
    assert_eq!(p.context().0.lock().unwrap()["w1"].size, 5);

    p.delete(DeleteRequest::new(urn("w"), "w1", inputs, created.outputs)).await.unwrap();
    assert!(p.context().0.lock().unwrap().is_empty());
}

#[tokio::test]
async fn data_sources_only_read_and_unknown_types_are_named() {
    let p = provider();
    let count = "toy:shop:Count";
    let read = p
        .read(ReadRequest { urn: Urn::new("dev", count, "n"), type_token: count.into(), id: None, inputs: Value::map(), outputs: Value::Null })
        .await
        .unwrap();
    let ReadResponse::Found { outputs, .. } = read else { panic!("a count is always found") };
    assert_eq!(outputs, value!({"widgets": 0}));
    let till = "toy:shop:Till";
    let read = p.read(ReadRequest { urn: Urn::new("dev", till, "t"), type_token: till.into(), id: None, inputs: Value::map(), outputs: Value::Null });
    let ReadResponse::Found { outputs, .. } = read.await.unwrap() else { panic!("a till is always found") };
    assert_eq!(outputs.get("code"), Some(&Value::Secret(Box::new("1234".into()))), "a data source's outputs marked secret are secret");
    let err = p
        .create(CreateRequest { urn: Urn::new("dev", count, "n"), type_token: count.into(), inputs: Value::map(), timeout: None })
        .await
        .unwrap_err();
    assert!(err.message.contains("is a data source"), "{err}");

    let r = p.check(CheckRequest {
        urn: Urn::new("dev", "toy:shop:Widgit", "w"),
        type_token: "toy:shop:Widgit".into(),
        inputs: Value::map(),
        prior_inputs: None,
    });
    assert_eq!(r.failures[0].reason, "the toy package has no type `toy:shop:Widgit`; did you mean `toy:shop:Widget`?");
}

/// A type at schema version 2: version 0 called `teeth` `teeth_count`, version 1 kept it a string.
#[derive(Serialize, Deserialize, Schema)]
struct SprocketInputs {
    teeth: i64,
}

struct Sprocket;

impl ResourceType for Sprocket {
    type Context = Shop;
    type Inputs = SprocketInputs;
    type Outputs = CountOutputs;
    const SPEC: Spec = Spec::new("toy:shop:Sprocket", CreatedLookup::FromInputs).version(2);

    fn upgrade(&self, from: u32, mut recorded: Recorded) -> Result<Recorded, String> {
        if from == 0 {
            let teeth = recorded.inputs.get("teeth_count").cloned();
            recorded.inputs.set_path("teeth_count", None);
            recorded.inputs.set_path("teeth", teeth.map(|t| Value::from(t.to_string())));
        }
        let teeth = recorded.inputs.get("teeth").and_then(Value::as_str).ok_or("no teeth")?;
        let teeth: i64 = teeth.parse().map_err(|_| format!("`{teeth}` teeth"))?;
        recorded.inputs.set_path("teeth", Some(Value::from(teeth)));
        Ok(recorded)
    }

    async fn create(&self, _: &Shop, _: Create<'_, SprocketInputs>) -> Result<Created<CountOutputs>, ProviderError> {
        unreachable!("only upgrades are tested")
    }
    async fn read(
        &self,
        _: &Shop,
        _: Read<'_, SprocketInputs, CountOutputs>,
    ) -> Result<Option<Observed<SprocketInputs, CountOutputs>>, ProviderError> {
        unreachable!("only upgrades are tested")
    }
    async fn update(&self, _: &Shop, _: Update<'_, SprocketInputs, CountOutputs>) -> Result<CountOutputs, ProviderError> {
        unreachable!("only upgrades are tested")
    }
    async fn delete(&self, _: &Shop, _: Delete<'_, SprocketInputs, CountOutputs>) -> Result<(), ProviderError> {
        unreachable!("only upgrades are tested")
    }
}

#[test]
fn records_of_older_schema_versions_are_upgraded_by_their_type() {
    let p = TypedProvider::new(Shop::default(), Arc::new(Registry::new("toy").resource(Widget).resource(Sprocket)));
    let sprocket = "toy:shop:Sprocket";
    assert_eq!((p.schema_version(sprocket), p.schema_version(WIDGET)), (2, 0));
    let upgrade = |from, inputs| {
        p.upgrade(UpgradeRequest {
            urn: Urn::new("dev", sprocket, "s"),
            type_token: sprocket.into(),
            from_version: from,
            inputs,
            outputs: Value::map(),
        })
    };
    assert_eq!(upgrade(0, value!({"teeth_count": 12})).unwrap().inputs, value!({"teeth": 12}));
    assert_eq!(upgrade(1, value!({"teeth": "9"})).unwrap().inputs, value!({"teeth": 9}));
    let err = upgrade(1, value!({"teeth": "many"})).unwrap_err();
    assert_eq!(err.message, "the record of `urn:strake:dev::toy:shop:Sprocket::s` (schema version 1) cannot be upgraded: `many` teeth");
}
