//! The published spec.
//!
//! One piece: every check reads the same generated documents (each version's and the operator's) and the same schema helpers.
//!
//! The published spec is part of the product: the committed `openapi.yaml`
//! (the default API version's) and `openapi-<version>.yaml` (each other
//! version's) must be exactly what the handlers generate.
use payouts::{
    api::{spec, versions},
    domain::api_version::{self, ApiVersion},
};

#[test]
fn committed_openapi_yaml_matches_the_handlers() {
    let generated = payouts::api::spec_yaml();
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml"))
        .expect("openapi.yaml is committed at the top level");
    assert!(
        committed == generated,
        "openapi.yaml differs from the spec the handlers generate: run `make spec` and review the diff"
    );
}

/// One committed document per version, each what the handlers generate for
/// it, and `make spec` writes them all.
#[test]
fn each_versions_committed_document_matches_the_handlers() {
    let makefile = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Makefile"))
        .expect("Makefile");
    for version in ApiVersion::ALL {
        let name = spec::file_name(version);
        let path = format!("{}/{name}", env!("CARGO_MANIFEST_DIR"));
        let committed = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("{name} is committed at the top level"));
        assert!(
            committed == payouts::api::spec_yaml_for(version),
            "{name} differs from the spec the handlers generate: run `make spec` and review the diff"
        );
        if version != api_version::DEFAULT {
            assert!(
                makefile.contains(&format!("API_VERSIONS := {version}"))
                    || makefile.contains(&format!(" {version}")),
                "`make spec` does not write {name}"
            );
        }
    }
    assert_eq!(spec::file_name(api_version::DEFAULT), "openapi.yaml");
}

/// The same changes render the answers and edit the documents, and they
/// agree: every response example of the default document (each operation
/// and status, errors included), rendered for a version, is valid against
/// that version's document at the same operation and status; and the
/// version's document keeps no trace of the envelope it dropped.
#[test]
fn each_versions_document_describes_the_answers_rendered_for_it() {
    use serde_json::{json, Value};
    let default: Value = serde_json::from_str(&spec::document().json).unwrap();
    for version in ApiVersion::ALL {
        let doc: Value = serde_json::from_str(&spec::document_for(version).json).unwrap();
        let mut components = json_schema(&doc["components"]);
        components["examples"] = json!({});
        let mut checked = 0;
        for (path, item) in default["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for (status, response) in op["responses"].as_object().unwrap() {
                    let Some(media) = response["content"]["application/json; charset=utf-8"]
                        .as_object()
                        .or_else(|| response["content"]["application/json"].as_object())
                    else {
                        continue;
                    };
                    let mut examples: Vec<Value> = Vec::new();
                    if let Some(reference) = media["schema"]["$ref"].as_str() {
                        examples.extend(
                            default
                                .pointer(&reference[1..])
                                .unwrap()
                                .get("example")
                                .cloned(),
                        );
                    }
                    for named in media
                        .get("examples")
                        .and_then(Value::as_object)
                        .into_iter()
                        .flatten()
                    {
                        let reference = named.1["$ref"].as_str().unwrap();
                        examples.push(default.pointer(&reference[1..]).unwrap()["value"].clone());
                    }
                    let target = &doc["paths"][path][method]["responses"][status];
                    let schema = target["content"]
                        .as_object()
                        .and_then(|c| c.values().next())
                        .map(|m| m["schema"].clone())
                        .unwrap_or_else(|| {
                            panic!("{version}: {method} {path} {status} has no body")
                        });
                    let mut root = json_schema(&schema);
                    root["components"] = components.clone();
                    let validator = jsonschema::options()
                        .should_validate_formats(true)
                        .build(&root)
                        .unwrap();
                    for mut example in examples {
                        // A resource may have a `success` of its own (a webhook
                        // test's `{success, deliveryId, …}`): only the
                        // envelope's must go.
                        let own_success = example["data"].get("success").is_some();
                        versions::render(version, &mut example);
                        let errors: Vec<String> = validator
                            .iter_errors(&example)
                            .map(|e| format!("{}: {e}", e.instance_path()))
                            .collect();
                        assert!(
                            errors.is_empty(),
                            "{version}: {method} {path} {status}: {example}: {errors:#?}"
                        );
                        if !api_version::uses_envelope(version) && !own_success {
                            assert!(example.get("success").is_none(), "{version}: {example}");
                        }
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 100, "{version}: {checked}");
        if !api_version::uses_envelope(version) {
            let text = serde_json::to_string(&doc["components"]).unwrap();
            // Not `"success"` itself: a resource may have its own (the
            // examples above show no envelope's is left).
            for trace in ["Success_", "alreadyExists", "#/data/"] {
                assert!(
                    !text.contains(trace),
                    "{version}'s document still has {trace}"
                );
            }
        }
    }
}

/// Every operation of every version's document takes `Commet-Version` and
/// says, on every response, which version answered.
#[test]
fn every_operation_documents_the_version_header() {
    use serde_json::Value;
    for version in ApiVersion::ALL {
        let doc: Value = serde_json::from_str(&spec::document_for(version).json).unwrap();
        let parameter = &doc["components"]["parameters"]["CommetVersion"];
        assert_eq!(parameter["name"], "Commet-Version");
        assert_eq!(parameter["in"], "header");
        assert_eq!(parameter["schema"]["enum"][0], version.as_str());
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let refs: Vec<&Value> = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p.get("$ref"))
                    .collect();
                assert_eq!(
                    refs,
                    ["#/components/parameters/CommetVersion"],
                    "{version}: {method} {path}"
                );
                for (status, response) in op["responses"].as_object().unwrap() {
                    assert_eq!(
                        response["headers"]["Commet-Version"]["$ref"],
                        "#/components/headers/CommetVersion",
                        "{version}: {method} {path} {status}"
                    );
                }
            }
        }
    }
}

/// The operator API's document too: `operator-openapi.yaml` is exactly
/// what its handlers generate (`make spec` writes both).
#[test]
fn committed_operator_openapi_yaml_matches_the_handlers() {
    let generated = payouts::api::operator_spec_yaml();
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/operator-openapi.yaml"
    ))
    .expect("operator-openapi.yaml is committed at the top level");
    assert!(
        committed == generated,
        "operator-openapi.yaml differs from the spec the handlers generate: run `make spec` and review the diff"
    );
}

/// The operator document's operations, each behind the operator token
/// (bearer) and none behind an organization's key; the public document's
/// none behind the operator token.
#[test]
fn operator_operations_snapshot() {
    let spec: serde_json::Value =
        serde_json::from_str(&payouts::api::spec::operator_document().json).unwrap();
    let mut lines = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let mut statuses: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
            statuses.sort();
            assert_eq!(
                op["security"],
                serde_json::json!([{"OperatorAuth": []}]),
                "{method} {path}"
            );
            lines.push(format!(
                "{} {path} ({}) -> {}",
                method.to_uppercase(),
                op["operationId"].as_str().unwrap_or("-"),
                statuses
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            ));
        }
    }
    assert_eq!(
        spec["components"]["securitySchemes"]["OperatorAuth"]["scheme"],
        "bearer"
    );
    let public: serde_json::Value =
        serde_json::from_str(&payouts::api::spec::document().json).unwrap();
    assert!(public["components"]["securitySchemes"]
        .get("OperatorAuth")
        .is_none());
    insta::assert_snapshot!(lines.join("\n"));
}

/// The shape of the API at a glance: each operation, its security and the
/// statuses it documents. A change here is a change of the contract.
#[test]
fn operations_snapshot() {
    let spec: serde_json::Value =
        serde_json::from_str(&payouts::api::api_service().spec()).unwrap();
    let mut lines = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let mut statuses: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
            statuses.sort();
            let secured = op
                .get("security")
                .is_some_and(|s| !s.as_array().unwrap().is_empty());
            lines.push(format!(
                "{} {path} ({}) auth={secured} -> {}",
                method.to_uppercase(),
                op["operationId"].as_str().unwrap_or("-"),
                statuses
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            ));
        }
    }
    insta::assert_snapshot!(lines.join("\n"));
}

/// Every documented error response uses the envelope schema.
#[test]
fn every_error_response_is_the_envelope() {
    let spec: serde_json::Value =
        serde_json::from_str(&payouts::api::api_service().spec()).unwrap();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (status, response) in op["responses"].as_object().unwrap() {
                if status.starts_with('4') || status.starts_with('5') {
                    let schema =
                        &response["content"]["application/json; charset=utf-8"]["schema"]["$ref"];
                    assert_eq!(
                        schema, "#/components/schemas/ErrorEnvelope",
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }
}

/// OpenAPI 3.0 schemas as JSON Schema (2020-12): `nullable: true` becomes
/// "or null"; `$ref`s stay, resolved against the `components` they sit in.
fn json_schema(schema: &serde_json::Value) -> serde_json::Value {
    use serde_json::{json, Value};
    match schema {
        Value::Object(map) => {
            let mut out: serde_json::Map<String, Value> = map
                .iter()
                .filter(|(key, _)| *key != "nullable" && *key != "example")
                .map(|(key, value)| (key.clone(), json_schema(value)))
                .collect();
            if map.get("nullable") == Some(&json!(true)) {
                out = serde_json::Map::from_iter([(
                    "anyOf".to_string(),
                    json!([Value::Object(out), {"type": "null"}]),
                )]);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(json_schema).collect()),
        other => other.clone(),
    }
}

/// Swagger UI's "Try it out" sends the schema's example: every request body
/// and every response has one, and each example in the spec (nested objects'
/// too) is valid against its own schema, formats included. The published
/// documents (each API version's and the operator's), which edit poem's.
#[test]
fn every_body_has_an_example_that_validates_against_its_schema() {
    for version in ApiVersion::ALL {
        bodies_have_valid_examples(&spec::document_for(version).json);
    }
    bodies_have_valid_examples(&spec::operator_document().json);
}

fn bodies_have_valid_examples(spec: &str) {
    use serde_json::{json, Value};
    let spec: Value = serde_json::from_str(spec).unwrap();
    let components = json_schema(&spec["components"]);
    let resolve = |schema: &Value| -> Value {
        match schema["$ref"].as_str() {
            Some(reference) => spec.pointer(&reference[1..]).unwrap().clone(),
            None => schema.clone(),
        }
    };
    // (where, its schema, its example)
    let mut examples: Vec<(String, Value, Option<Value>)> = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let request = op["requestBody"]["content"].as_object().into_iter();
            let responses = op["responses"].as_object().unwrap().values();
            let contents = request.chain(responses.filter_map(|r| r["content"].as_object()));
            for media in contents.flat_map(|content| content.values()) {
                let schema = &media["schema"];
                let example = resolve(schema).get("example").cloned();
                examples.push((format!("{method} {path}"), schema.clone(), example));
            }
        }
    }
    assert!(examples.len() > 10, "{examples:?}");
    // Every object, so that nested ones show realistic values too.
    for (name, schema) in spec["components"]["schemas"].as_object().unwrap() {
        if schema["type"] == "object" {
            let reference = json!({"$ref": format!("#/components/schemas/{name}")});
            examples.push((name.clone(), reference, schema.get("example").cloned()));
        }
    }

    let missing: Vec<&String> = examples
        .iter()
        .filter(|(_, _, example)| example.is_none())
        .map(|(place, _, _)| place)
        .collect();
    assert!(
        missing.is_empty(),
        "bodies without an example: {missing:#?}"
    );
    for (place, schema, example) in &examples {
        let mut root = json_schema(schema);
        root["components"] = components.clone();
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("{place}: {e}"));
        let errors: Vec<String> = validator
            .iter_errors(example.as_ref().unwrap())
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{place}'s example: {errors:#?}");
    }
}

/// The verification example is the README quickstart's body, so "Try it
/// out" works once the quickstart serves its identity document (port 8000).
#[test]
fn the_verification_example_is_the_quickstarts_body() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let body = readme
        .split_once("<<JSON; echo\n")
        .and_then(|(_, rest)| rest.split_once("\nJSON\n"))
        .expect("the quickstart's verification body (a <<JSON heredoc)")
        .0
        .replace("$DOC_PORT", "8000");
    let body: serde_json::Value = serde_json::from_str(&body).expect("the body is JSON");
    let spec: serde_json::Value =
        serde_json::from_str(&payouts::api::api_service().spec()).unwrap();
    assert_eq!(
        spec["components"]["schemas"]["VerificationRequest"]["example"],
        body
    );
    assert!(readme.contains("export DOC_PORT=${DOC_PORT:-8000}"));
}

/// Each published document's error responses show, as examples, the envelope
/// of every code that answers with their status (generated from
/// `api::error_codes`), and each example is a valid envelope.
#[test]
fn every_error_response_shows_each_code_of_its_status() {
    for version in ApiVersion::ALL {
        error_examples_of(&spec::document_for(version).json, false);
    }
    error_examples_of(&spec::operator_document().json, true);
}

fn error_examples_of(spec: &str, operator: bool) {
    use serde_json::{json, Value};
    let spec: Value = serde_json::from_str(spec).unwrap();
    let mut root = json_schema(&json!({"$ref": "#/components/schemas/ErrorEnvelope"}));
    root["components"] = json_schema(&spec["components"]);
    let envelope = jsonschema::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap();
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (status, response) in op["responses"].as_object().unwrap() {
                let mut expected: Vec<&str> = payouts::api::error_codes::ALL
                    .iter()
                    .filter(|entry| operator || !entry.operator_only)
                    .filter(|entry| entry.status.as_str() == status)
                    .map(|entry| entry.code)
                    .collect();
                if expected.is_empty() {
                    continue;
                }
                let examples = response["content"]["application/json; charset=utf-8"]["examples"]
                    .as_object()
                    .unwrap_or_else(|| panic!("{method} {path} {status}: no examples"));
                let listed: Vec<&str> = examples.keys().map(String::as_str).collect();
                expected.sort();
                assert_eq!(listed, expected, "{method} {path} {status}");
                for (code, example) in examples {
                    let reference = example["$ref"].as_str().unwrap();
                    let value = &spec.pointer(&reference[1..]).unwrap()["value"];
                    assert_eq!(value["error"]["code"], *code, "{reference}");
                    let errors: Vec<String> =
                        envelope.iter_errors(value).map(|e| e.to_string()).collect();
                    assert!(errors.is_empty(), "{reference}: {errors:#?}");
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 50, "{checked}");
}
