//! The service's paths, from the spec, for answers given before routing or
//! without a matched route: `Allow` on 405 and the route label of metrics
//! (a 429 is answered before the router runs).
use super::paths::API_BASE;

pub struct RouteTable(Vec<Row>);

struct Row {
    pattern: regex::Regex,
    /// The label poem gives the matched route (`/api/v1/payouts/:param0`).
    label: String,
    methods: String,
    /// Path parameters: a path with fewer wins (`/payouts/bank-accounts`
    /// over `/payouts/{id}`), as in poem's router.
    params: usize,
}

impl RouteTable {
    pub fn from_spec(spec_json: &str) -> Self {
        Self::from_specs(&[(API_BASE, spec_json)])
    }

    /// The paths of several documents, each mounted at its base.
    pub fn from_specs(specs: &[(&str, &str)]) -> Self {
        let mut rows = Vec::new();
        for (base, spec_json) in specs {
            let spec: serde_json::Value =
                serde_json::from_str(spec_json).expect("the generated spec is JSON");
            if let Some(paths) = spec["paths"].as_object() {
                for (path, item) in paths {
                    let methods: Vec<String> = item
                        .as_object()
                        .map(|ops| ops.keys().map(|m| m.to_uppercase()).collect())
                        .unwrap_or_default();
                    rows.push(Row::new(&format!("{base}{path}"), methods.join(", "), true));
                }
            }
        }
        for path in [
            "/operator/openapi.json",
            "/operator/openapi.yaml",
            "/operator/docs",
            "/openapi.json",
            "/openapi.yaml",
            "/docs",
            "/healthz",
            "/readyz",
            "/docs/errors/{code}",
        ] {
            rows.push(Row::new(path, "GET".into(), false));
        }
        rows.sort_by_key(|row| row.params);
        Self(rows)
    }

    fn row(&self, path: &str) -> Option<&Row> {
        self.0.iter().find(|row| row.pattern.is_match(path))
    }

    /// The methods of `path`, for `Allow`.
    pub fn allow(&self, path: &str) -> Option<&str> {
        self.row(path).map(|row| row.methods.as_str())
    }

    /// The route label of `path` as poem would name it once matched.
    pub fn label(&self, path: &str) -> Option<&str> {
        self.row(path).map(|row| row.label.as_str())
    }
}

impl Row {
    /// `template` in the spec's form (`/api/v1/payouts/{id}`); `numbered`
    /// for poem-openapi's routes, which number path parameters in order.
    fn new(template: &str, methods: String, numbered: bool) -> Self {
        let mut pattern = String::from("^");
        let mut label = String::new();
        let mut params = 0;
        for segment in template.split('/').filter(|s| !s.is_empty()) {
            pattern.push('/');
            label.push('/');
            if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                pattern.push_str("[^/]+");
                if numbered {
                    label.push_str(&format!(":param{params}"));
                } else {
                    label.push_str(&format!(":{name}"));
                }
                params += 1;
            } else {
                pattern.push_str(&regex::escape(segment));
                label.push_str(segment);
            }
        }
        pattern.push('$');
        Self {
            pattern: regex::Regex::new(&pattern).expect("path regex"),
            label,
            methods,
            params,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_methods_follow_the_spec() {
        let table = RouteTable::from_spec(&super::super::spec::document().json);
        assert_eq!(
            table.label("/api/v1/payouts/po_1"),
            Some("/api/v1/payouts/:param0")
        );
        assert_eq!(table.allow("/api/v1/payouts"), Some("GET, POST"));
        // A fixed path wins over a parameter in the same place.
        assert_eq!(
            table.allow("/api/v1/payouts/bank-accounts"),
            Some("GET, POST")
        );
        assert_eq!(
            table.label("/api/v1/payouts/account"),
            Some("/api/v1/payouts/account")
        );
        assert_eq!(
            table.allow("/api/v1/payouts/bank-accounts/pba_1"),
            Some("DELETE")
        );
        assert_eq!(
            table.label("/api/v1/payouts/po_1/cancel"),
            Some("/api/v1/payouts/:param0/cancel")
        );
        assert_eq!(table.label("/api/v1/payouts"), Some("/api/v1/payouts"));
        assert_eq!(table.allow("/docs/errors/not_found"), Some("GET"));
        assert_eq!(
            table.label("/docs/errors/not_found"),
            Some("/docs/errors/:code")
        );
        assert_eq!(table.label("/api/v1/nope/x/y"), None);
        // Not served on the public listener.
        assert_eq!(table.allow("/metrics"), None);
    }
}
