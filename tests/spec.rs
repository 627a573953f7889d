//! The published spec is part of the product: the committed `openapi.yaml`
//! must be exactly what the handlers generate.

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
