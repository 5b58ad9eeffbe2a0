//! The hub's OpenAPI document as a contract the tests hold every answer to: the response
//! schema of the request's operation and status (OpenAPI 3.1 schemas are JSON Schema
//! 2020-12; `$ref`s resolve to the document's `components/schemas`).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use serde_json::{json, Value};

/// The generated document, and one compiled validator per operation and status.
pub struct Contract {
    doc: Value,
    validators: Mutex<HashMap<(String, String, u16), Arc<jsonschema::Validator>>>,
}

pub static CONTRACT: LazyLock<Contract> = LazyLock::new(|| Contract::new(serde_json::to_value(omnikiosk_hub::openapi::document()).unwrap()));

impl Contract {
    pub fn new(doc: Value) -> Contract {
        Contract { doc, validators: Mutex::new(HashMap::new()) }
    }

    pub fn doc(&self) -> &Value {
        &self.doc
    }

    /// The path template (`/v1/orders/{id}`) that a request's path (query left off) is an
    /// instance of.
    fn template(&self, path: &str) -> Option<&str> {
        let path = path.split('?').next().unwrap_or_default();
        let given: Vec<&str> = path.split('/').collect();
        self.doc["paths"].as_object()?.keys().map(String::as_str).find(|t| {
            let parts: Vec<&str> = t.split('/').collect();
            parts.len() == given.len() && parts.iter().zip(&given).all(|(p, g)| p == g || (p.starts_with('{') && p.ends_with('}')))
        })
    }

    /// Whether `body`, answered with `status` to `method path`, is what the document says
    /// that operation answers with that status.
    pub fn check(&self, method: &str, path: &str, status: u16, body: &str) -> Result<(), String> {
        let template = self.template(path).ok_or_else(|| format!("{path} is no path of the document"))?;
        let method = method.to_ascii_lowercase();
        let op = &self.doc["paths"][template][&method];
        if op.is_null() {
            return Err(format!("{method} {template} is no operation of the document"));
        }
        let response = &op["responses"][status.to_string()];
        if response.is_null() {
            return Err(format!("{method} {template} does not document status {status} (body: {body})"));
        }
        let Some(content) = response["content"].as_object() else {
            return if body.is_empty() { Ok(()) } else { Err(format!("{method} {template} {status} documents no body, got {body}")) };
        };
        let Some(schema) = content.get("application/json").map(|c| &c["schema"]) else {
            // Text (the metrics): the document names its type, there is no schema to hold it to.
            return Ok(());
        };
        if schema.is_null() {
            return Ok(());
        }
        let value: Value = serde_json::from_str(body).map_err(|e| format!("{method} {template} {status}: not JSON ({e}): {body}"))?;
        let validator = self.validator(&method, template, status, schema)?;
        let errors: Vec<String> = validator.iter_errors(&value).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!("{method} {template} {status} does not match the document: {}\nbody: {body}", errors.join("; ")))
        }
    }

    fn validator(&self, method: &str, template: &str, status: u16, schema: &Value) -> Result<Arc<jsonschema::Validator>, String> {
        let key = (method.to_string(), template.to_string(), status);
        if let Some(v) = self.validators.lock().unwrap().get(&key) {
            return Ok(v.clone());
        }
        // The response schema at the root, with the document's components beside it so
        // that `#/components/schemas/…` resolves.
        let mut root = json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "components": self.doc["components"]});
        for (k, v) in schema.as_object().ok_or("a response schema is not an object")? {
            root[k] = v.clone();
        }
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&root)
            .map_err(|e| format!("the schema of {method} {template} {status} does not compile: {e}"))?;
        let validator = Arc::new(validator);
        self.validators.lock().unwrap().insert(key, validator.clone());
        Ok(validator)
    }
}

#[test]
fn the_contract_refuses_answers_the_document_does_not_describe() {
    let c = &*CONTRACT;
    let device = r#"{"device_id":"kiosk-1-1","store_id":1,"store_name":"S","hub_public_key":"k","server_time":1,"protocol_version":2,"last_seq":0}"#;
    assert_eq!(c.check("GET", "/v1/device", 200, device), Ok(()));
    // A field missing, a field of the wrong type.
    assert!(c.check("GET", "/v1/device", 200, r#"{"store_id":1}"#).is_err());
    assert!(c.check("GET", "/v1/device", 200, &device.replace(r#""store_id":1"#, r#""store_id":"1""#)).is_err());
    // The error body, and a status nobody documented.
    assert_eq!(c.check("GET", "/v1/orders/O-1-1", 404, r#"{"error":"not_found","message":"m"}"#), Ok(()));
    assert!(c.check("GET", "/v1/orders/O-1-1", 404, r#"{"message":"m"}"#).is_err());
    assert!(c.check("GET", "/v1/device", 418, r#"{"error":"teapot","message":"m"}"#).is_err());
    assert!(c.check("GET", "/v1/nowhere", 200, "{}").is_err());
    // The tagged feed entry: a kind with another kind's data is refused.
    let pull = |change: &str| format!(r#"{{"changes":[{change}],"cursor":"e.1","has_more":false}}"#);
    assert_eq!(c.check("GET", "/v1/sync/pull?cursor=", 200, &pull(r#"{"kind":"store","data":{"id":1,"name":"S","city":"C"}}"#)), Ok(()));
    assert!(c.check("GET", "/v1/sync/pull", 200, &pull(r#"{"kind":"order","data":{"id":1,"name":"S","city":"C"}}"#)).is_err());
    assert!(c.check("GET", "/v1/sync/pull", 200, &pull(r#"{"kind":"customer_removed","data":{}}"#)).is_err());
    // A flattened op outcome: its status decides what else must be there.
    assert_eq!(c.check("POST", "/v1/sync/push", 200, r#"{"results":[{"op_id":"u","seq":1,"status":"expected_seq","expected_seq":4}]}"#), Ok(()));
    assert!(c.check("POST", "/v1/sync/push", 200, r#"{"results":[{"op_id":"u","seq":1,"status":"expected_seq"}]}"#).is_err());
    assert!(c.check("POST", "/v1/sync/push", 200, r#"{"results":[{"op_id":"u","status":"applied"}]}"#).is_err());
    // No body where the document says there is none.
    assert_eq!(c.check("DELETE", "/v1/customers/C1", 204, ""), Ok(()));
    assert!(c.check("DELETE", "/v1/customers/C1", 204, "{}").is_err());
}

#[test]
fn every_schema_of_the_document_is_json_schema_2020_12() {
    let doc = CONTRACT.doc();
    assert_eq!(doc["openapi"].as_str().map(|v| v.starts_with("3.1.")), Some(true), "{}", doc["openapi"]);
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    assert!(schemas.len() > 30, "{:?}", schemas.keys());
    for (name, schema) in schemas {
        let mut schema = schema.clone();
        schema["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
        if let Err(e) = jsonschema::meta::validate(&schema) {
            panic!("components/schemas/{name} is not a JSON Schema 2020-12: {e}");
        }
    }
}

/// The document against the OpenAPI 3.1 specification itself, by `openapi-spec-validator`
/// (PyPI; `.ci/run` installs it). Skipped with a notice where it is not installed, except
/// in CI, where its absence is a failure.
#[test]
fn the_document_is_valid_openapi_3_1() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_string_pretty(CONTRACT.doc()).unwrap()).unwrap();
    let out = std::process::Command::new("python3").args(["-m", "openapi_spec_validator"]).arg(&file).output();
    let absent = match &out {
        Err(_) => true,
        Ok(o) => String::from_utf8_lossy(&o.stderr).contains("No module named"),
    };
    if absent {
        assert!(std::env::var_os("CI").is_none(), "CI has no openapi-spec-validator: .ci/run installs it");
        eprintln!("SKIPPED: openapi-spec-validator is not installed (python3 -m pip install openapi-spec-validator)");
        return;
    }
    let out = out.unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.contains("OK"), "the document is not valid OpenAPI 3.1: {said}");
}
