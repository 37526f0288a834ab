//! The API's OpenAPI 3.0 document, served at `GET /openapi.json` (open,
//! like `/healthz`: it holds no secret and no record).
//!
//! It is built from [`crate::api::ROUTES`], the table the guard enforces:
//! one operation per rule, with its path parameters read from the template,
//! the Bearer security scheme and the role it needs. What the table does not
//! say (the success status, the body, the query string, the answer's shape)
//! comes from `operation`, one arm per route; a rule without an arm, or an
//! arm without a rule, fails this module's tests, and the authorization
//! walk (`tests/tests/authorization.rs`) requests every documented path on
//! the live router. Enumerations are checked against the Rust types they
//! name. `scripts/schemathesis.sh` runs schemathesis against a live server
//! with this document: no 5xx, every answer true to its schema.
//!
//! Schemas of the API's own small bodies are exact; domain records
//! (campaigns, calls, leads, agents) are objects with their `id`, as
//! personal fields of a record may read `"[masked]"` for a viewer.

use axum::Json;
use serde_json::{Map, Value, json};

use crate::api::ROUTES;
use crate::auth::RouteRule;

/// The document's path, outside the guard.
pub const PATH: &str = "/openapi.json";

/// The routes outside the guard, documented with no security.
const OPEN: &[(&str, &str)] = &[("GET", "/healthz"), ("GET", PATH)];

/// What a route answers on success.
#[derive(Clone, Debug)]
enum Answer {
    /// JSON of this schema.
    Json(Value),
    /// No body.
    Empty,
    /// Plain text.
    Text,
    /// A CSV file.
    Csv,
    /// Server-sent events.
    EventStream,
    /// A WebSocket upgrade (101).
    WebSocket,
}

/// What a route reads as its body.
#[derive(Clone, Debug)]
enum Body {
    None,
    /// JSON of this schema; `required` says whether an empty body is refused.
    Json {
        schema: Value,
        required: bool,
    },
    /// A CSV file.
    Csv,
}

/// What [`crate::api::ROUTES`] does not say about a route.
#[derive(Clone, Debug)]
struct Operation {
    summary: &'static str,
    status: u16,
    body: Body,
    query: Vec<(&'static str, Value)>,
    answer: Answer,
}

fn op(summary: &'static str, status: u16, answer: Answer) -> Operation {
    Operation {
        summary,
        status,
        body: Body::None,
        query: Vec::new(),
        answer,
    }
}

impl Operation {
    fn body(mut self, schema: Value) -> Operation {
        self.body = Body::Json {
            schema,
            required: true,
        };
        self
    }

    fn optional_body(mut self, schema: Value) -> Operation {
        self.body = Body::Json {
            schema,
            required: false,
        };
        self
    }

    fn csv(mut self) -> Operation {
        self.body = Body::Csv;
        self
    }

    fn query(mut self, name: &'static str, schema: Value) -> Operation {
        self.query.push((name, schema));
        self
    }
}

fn component(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn array_of(items: Value) -> Value {
    json!({"type": "array", "items": items})
}

fn object(required: &[&str], properties: Value) -> Value {
    json!({
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": false,
    })
}

fn text() -> Value {
    json!({"type": "string"})
}

fn nullable_text() -> Value {
    json!({"type": "string", "nullable": true})
}

fn count() -> Value {
    json!({"type": "integer", "minimum": 0})
}

fn enumeration(values: &[&str]) -> Value {
    json!({"type": "string", "enum": values})
}

/// The values of the enumerations the document names, as serde writes
/// them (tested against the Rust types).
const ROLES: &[&str] = &["admin", "operator", "viewer"];
const AGENT_STATUSES: &[&str] = &["available", "busy", "offline", "wrap_up"];
const DISPOSITIONS: &[&str] = &[
    "interested",
    "not_interested",
    "callback_requested",
    "transferred",
    "wrong_number",
    "opted_out",
];
const TRANSFER_MODES: &[&str] = &["cold", "warm"];

fn the(name: &str) -> Answer {
    Answer::Json(component(name))
}

fn list_of(name: &str) -> Answer {
    Answer::Json(array_of(component(name)))
}

fn any_object() -> Answer {
    Answer::Json(json!({"type": "object"}))
}

fn page_query(op: Operation, cursor: &'static str) -> Operation {
    op.query(cursor, text())
        .query("limit", json!({"type": "integer", "minimum": 0}))
}

/// An AI agent draft, as `voxdial_app::ai_agents` reads it (checked there,
/// field by field; the problems come back as a 400).
fn ai_agent_draft() -> Value {
    json!({"type": "object"})
}

/// The arm of one route; `None` for a route this module does not know.
fn operation(method: &str, path: &str) -> Option<Operation> {
    use Answer::{Csv, Empty, EventStream, Text, WebSocket};
    Some(match (method, path) {
        ("GET", "/healthz") => op("Liveness", 200, Text),
        ("GET", PATH) => op("This document", 200, any_object()),
        ("POST", "/v1/campaigns") => {
            op("Create a campaign", 201, the("Campaign")).body(json!({"type": "object"}))
        }
        ("GET", "/v1/campaigns") => op("The organisation's campaigns", 200, list_of("Campaign")),
        ("GET", "/v1/campaigns/{id}") => op("A campaign and its progress", 200, any_object()),
        ("POST", "/v1/campaigns/{id}/leads") => op(
            "Import leads from CSV (at most 4 MiB)",
            200,
            the("ImportReport"),
        )
        .csv()
        .query("region", text()),
        ("POST", "/v1/campaigns/{id}/imports") => {
            op("Start a presigned CSV upload", 201, the("NewImport"))
                .optional_body(object(&[], json!({"region": nullable_text()})))
        }
        ("POST", "/v1/campaigns/{id}/imports/{import}/start") => {
            op("Queue an uploaded import", 202, any_object())
        }
        ("GET", "/v1/campaigns/{id}/imports/{import}") => {
            op("An import's status", 200, any_object())
        }
        ("GET", "/v1/campaigns/{id}/leads") => {
            page_query(op("A page of leads", 200, list_of("Record")), "after")
        }
        ("GET", "/v1/campaigns/{id}/calls") => page_query(
            op("A page of calls, newest first", 200, list_of("Record")),
            "before",
        ),
        ("POST", "/v1/campaigns/{id}/{action}") => op(
            "Start, pause, resume or cancel a campaign",
            200,
            the("Campaign"),
        ),
        ("PUT", "/v1/campaigns/{id}/concurrency") => {
            op("Change a campaign's concurrency", 200, the("Campaign")).body(object(
                &["max_concurrency"],
                json!({"max_concurrency": count()}),
            ))
        }
        ("PUT", "/v1/campaigns/{id}/ai-agent") => op(
            "Move a campaign to an AI agent version",
            200,
            the("Campaign"),
        )
        .body(object(
            &["id"],
            json!({"id": text(), "version": {"type": "integer", "minimum": 0, "nullable": true}}),
        )),
        ("POST", "/v1/campaigns/{id}/consent-waiver") => {
            op("Waive the consent rule", 200, the("Campaign"))
                .body(object(&["reason"], json!({"reason": text()})))
        }
        ("GET", "/v1/calls/{id}") => op("A call", 200, the("Record")),
        ("POST", "/v1/calls/{id}/disposition") => {
            op("Set a call's disposition", 200, the("Record")).body(object(
                &["disposition"],
                json!({"disposition": enumeration(DISPOSITIONS)}),
            ))
        }
        ("GET", "/v1/calls/{id}/analysis") => op("A call's analysis", 200, any_object()),
        ("POST", "/v1/calls/{id}/recording/{action}") => {
            op("Start or stop recording a call", 200, the("Record"))
        }
        ("POST", "/v1/leads/{id}/erase") => op("Erase a lead", 200, any_object()),
        ("GET", "/v1/leads/{id}/erasure") => op("An erased lead's tombstone", 200, any_object()),
        ("POST", "/v1/dnc") => op(
            "Add numbers to a do-not-call list",
            200,
            Answer::Json(object(&["added"], json!({"added": count()}))),
        )
        .body(object(
            &["numbers"],
            json!({"numbers": array_of(text()), "campaign_id": nullable_text()}),
        )),
        ("GET", "/v1/providers") => op(
            "Per-provider figures",
            200,
            Answer::Json(json!({"type": "object", "nullable": true})),
        ),
        ("GET", "/v1/agents") => op("The human agents", 200, list_of("Record")),
        ("PUT", "/v1/agents/{id}") => op("Create or replace a human agent", 200, the("Record"))
            .body(object(
                &["name", "number"],
                json!({
                    "name": text(),
                    "number": text(),
                    "skills": array_of(text()),
                    "status": enumeration(AGENT_STATUSES),
                }),
            )),
        ("POST", "/v1/agents/{id}/status") => op("Set a human agent's status", 204, Empty).body(
            object(&["status"], json!({"status": enumeration(AGENT_STATUSES)})),
        ),
        ("GET", "/v1/ai-agents") => op("The AI agents", 200, list_of("Record")),
        ("POST", "/v1/ai-agents") => {
            op("Create an AI agent", 201, the("Record")).body(ai_agent_draft())
        }
        ("POST", "/v1/ai-agents/validate") => op(
            "Validate an AI agent draft",
            200,
            Answer::Json(object(
                &["valid", "problems"],
                json!({"valid": {"type": "boolean"}, "problems": array_of(text())}),
            )),
        )
        .body(ai_agent_draft()),
        ("GET", "/v1/ai-agents/{id}") => op("An AI agent version", 200, the("Record"))
            .query("version", json!({"type": "integer", "minimum": 0})),
        ("PUT", "/v1/ai-agents/{id}") => {
            op("Store an AI agent's next version", 200, the("Record")).body(ai_agent_draft())
        }
        ("POST", "/v1/keys") => op("Create an API key", 201, the("NewKey")).body(object(
            &["role"],
            json!({"role": enumeration(ROLES), "name": text()}),
        )),
        ("GET", "/v1/keys") => op("The organisation's keys", 200, list_of("Key")),
        ("POST", "/v1/keys/{id}/revoke") => op("Revoke a key", 200, the("Key")),
        ("POST", "/v1/keys/{id}/rotate") => op("Rotate a key", 200, the("NewKey")),
        ("GET", "/v1/audit") => op("The audit trail, newest first", 200, list_of("Record"))
            .query("limit", json!({"type": "integer", "minimum": 0})),
        ("GET", "/v1/analytics") => analytics_query(op("Analytics", 200, any_object())),
        ("GET", "/v1/analytics.csv") => analytics_query(op("Analytics as CSV", 200, Csv)),
        ("POST", "/v1/session") => op("Sign in: a session cookie", 200, the("Caller")),
        ("GET", "/v1/session") => op("Who is calling", 200, the("Caller")),
        ("DELETE", "/v1/session") => op("Sign out", 204, Empty),
        ("GET", "/v1/campaigns/{id}/events") => {
            op("Live snapshots (server-sent events)", 200, EventStream)
        }
        ("GET", "/v1/campaigns/{id}/snapshot") => op("One snapshot", 200, any_object()),
        ("GET", "/v1/calls/{id}/recording") => op(
            "A link that plays the recording",
            200,
            Answer::Json(object(&["url"], json!({"url": text()}))),
        ),
        ("GET", "/v1/calls/{id}/transcript") => op("The transcript", 200, any_object()),
        ("GET", crate::listen::PATH) => {
            op("Listen in (WebSocket)", 101, WebSocket).query("ticket", text())
        }
        ("GET", crate::live::PATH) => {
            op("A live call's events (WebSocket)", 101, WebSocket).query("ticket", text())
        }
        ("POST", crate::ticket::LISTEN) => op("A ticket to listen in", 200, the("Ticket")),
        ("POST", crate::ticket::LIVE) => op("A ticket to watch a live call", 200, the("Ticket")),
        ("POST", crate::ticket::TEST_CALL) => op("A ticket for a test call", 200, the("Ticket")),
        ("GET", crate::test_call::PATH) => op(
            "A browser test call with the agent (WebSocket)",
            101,
            WebSocket,
        )
        .query("ticket", text()),
        ("POST", "/v1/calls/{id}/hangup") => op("Hang up a live call", 200, the("Record")),
        ("POST", "/v1/calls/{id}/transfer") => {
            op("Transfer a call to a human agent", 200, the("Record")).body(object(
                &["agent_id", "mode"],
                json!({"agent_id": text(), "mode": enumeration(TRANSFER_MODES)}),
            ))
        }
        _ => return None,
    })
}

fn analytics_query(op: Operation) -> Operation {
    op.query("from", text())
        .query("to", text())
        .query("bucket", enumeration(&["hour", "day"]))
        .query("campaign_id", text())
        .query("agent", text())
        .query("provider", text())
}

fn components() -> Value {
    let key = object(
        &["id", "org_id", "role", "name", "active", "created_at"],
        json!({
            "id": text(),
            "org_id": text(),
            "role": enumeration(ROLES),
            "name": text(),
            "active": {"type": "boolean"},
            "created_at": text(),
            "rotated_at": nullable_text(),
            "revoked_at": nullable_text(),
        }),
    );
    json!({
        "securitySchemes": {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "An API key, vxd_<id>_<secret> (`voxdial keys create`, or the admin.key `voxdial serve` writes)",
            },
        },
        "schemas": {
            "Error": object(&["error", "status"], json!({
                "error": text(),
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
            })),
            "Record": {"type": "object", "required": ["id"]},
            "Campaign": {"type": "object", "required": ["id", "status", "settings", "created_at"]},
            "Key": key,
            "NewKey": object(&["key", "secret"], json!({"key": component("Key"), "secret": text()})),
            "Ticket": object(&["url", "expires_unix"], json!({
                "url": text(),
                "expires_unix": {"type": "integer"},
            })),
            "Caller": object(&["key_id", "org_id", "role"], json!({
                "key_id": text(),
                "org_id": text(),
                "role": enumeration(ROLES),
                "expires_unix": {"type": "integer", "nullable": true},
            })),
            "NewImport": object(
                &["import", "upload_url", "upload_method", "expires_in_secs"],
                json!({
                    "import": component("Record"),
                    "upload_url": text(),
                    "upload_method": enumeration(&["PUT"]),
                    "expires_in_secs": count(),
                }),
            ),
            "ImportReport": {
                "type": "object",
                "required": ["rows", "inserted", "merged", "rejected"],
                "properties": {
                    "rows": count(), "inserted": count(), "merged": count(),
                    "rejected": array_of(json!({"type": "object"})),
                },
            },
        },
    })
}

/// The template's parameters: `{id}` and the like.
fn path_parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            json!({
                "name": name,
                "in": "path",
                "required": true,
                "schema": {"type": "string", "minLength": 1},
            })
        })
        .collect()
}

fn content(answer: &Answer) -> Option<Value> {
    let (media, schema) = match answer {
        Answer::Json(schema) => ("application/json", schema.clone()),
        Answer::Text => ("text/plain", text()),
        Answer::Csv => ("text/csv", text()),
        Answer::EventStream => ("text/event-stream", text()),
        Answer::Empty | Answer::WebSocket => return None,
    };
    Some(json!({ media: {"schema": schema} }))
}

fn operation_json(method: &str, path: &str, rule: Option<&RouteRule>, op: Operation) -> Value {
    let mut success = json!({"description": op.summary});
    if let Some(content) = content(&op.answer) {
        success["content"] = content;
    }
    let mut responses = Map::new();
    responses.insert(op.status.to_string(), success);
    responses.insert(
        "default".into(),
        json!({
            "description": "An error: whose fault, and why",
            "content": {"application/json": {"schema": component("Error")}},
        }),
    );
    let mut parameters = path_parameters(path);
    parameters.extend(op.query.iter().map(
        |(name, schema)| json!({"name": name, "in": "query", "required": false, "schema": schema}),
    ));
    let mut operation = json!({
        "operationId": format!("{} {path}", method.to_ascii_uppercase()),
        "summary": op.summary,
        "parameters": parameters,
        "responses": responses,
    });
    match rule {
        Some(rule) => {
            operation["security"] = json!([{"bearer": []}]);
            operation["x-voxdial-role"] = json!(role_needed(rule));
        }
        None => operation["security"] = json!([]),
    }
    match op.body {
        Body::None => {}
        Body::Json { schema, required } => {
            operation["requestBody"] = json!({
                "required": required,
                "content": {"application/json": {"schema": schema}},
            });
        }
        Body::Csv => {
            operation["requestBody"] = json!({
                "required": true,
                "content": {"text/csv": {"schema": text()}},
            });
        }
    }
    operation
}

fn role_needed(rule: &RouteRule) -> &'static str {
    match rule.access {
        voxdial_domain::Access::Read => "viewer",
        voxdial_domain::Access::Operate => "operator",
        voxdial_domain::Access::Admin => "admin",
    }
}

/// The OpenAPI document of every route: [`ROUTES`] and the open ones.
///
/// # Panics
///
/// When a route lacks its arm in `operation` (the tests catch it).
pub fn document() -> Value {
    let open = OPEN.iter().map(|&(method, path)| (method, path, None));
    let guarded = ROUTES.iter().map(|r| (r.method, r.path, Some(r)));
    let mut paths = Map::new();
    for (method, path, rule) in open.chain(guarded) {
        let op = operation(method, path)
            .unwrap_or_else(|| panic!("{method} {path} has no OpenAPI operation"));
        let item = paths
            .entry(path)
            .or_insert_with(|| Value::Object(Map::new()));
        item[method.to_ascii_lowercase()] = operation_json(method, path, rule, op);
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "voxdial",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Outbound AI voice campaigns. Errors are JSON {\"error\", \"status\"}.",
        },
        "paths": paths,
        "components": components(),
    })
}

/// `GET /openapi.json`.
pub(crate) async fn serve() -> Json<Value> {
    Json(document())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde::de::DeserializeOwned;
    use voxdial_domain::{AgentStatus, Disposition, Role};

    use super::*;

    fn documented() -> BTreeSet<(String, String)> {
        let doc = document();
        doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .unwrap()
                    .keys()
                    .map(move |method| (method.to_ascii_uppercase(), path.clone()))
            })
            .collect()
    }

    #[test]
    fn every_route_is_documented_and_every_operation_is_a_route() {
        let routes: BTreeSet<(String, String)> = ROUTES
            .iter()
            .map(|r| (r.method.to_string(), r.path.to_string()))
            .chain(OPEN.iter().map(|(m, p)| (m.to_string(), p.to_string())))
            .collect();
        assert_eq!(documented(), routes);
    }

    #[test]
    fn guarded_operations_need_a_bearer_key_and_open_ones_none() {
        let doc = document();
        for (method, path) in documented() {
            let op = &doc["paths"][&path][method.to_ascii_lowercase()];
            let open = OPEN.contains(&(method.as_str(), path.as_str()));
            let expected = if open {
                json!([])
            } else {
                json!([{"bearer": []}])
            };
            assert_eq!(op["security"], expected, "{method} {path}");
            assert!(op["responses"]["default"].is_object(), "{method} {path}");
        }
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    }

    #[test]
    fn path_parameters_are_those_of_the_template() {
        let doc = document();
        let op = &doc["paths"]["/v1/campaigns/{id}/imports/{import}/start"]["post"];
        let names: Vec<&str> = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["in"] == "path")
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["id", "import"]);
    }

    fn all_read_as<T: DeserializeOwned>(values: &[&str]) {
        for value in values {
            assert!(
                serde_json::from_value::<T>(json!(value)).is_ok(),
                "{value} is not a {}",
                std::any::type_name::<T>()
            );
        }
    }

    #[test]
    fn documented_enumerations_are_what_the_types_read() {
        all_read_as::<Role>(ROLES);
        all_read_as::<AgentStatus>(AGENT_STATUSES);
        all_read_as::<Disposition>(DISPOSITIONS);
        for mode in TRANSFER_MODES {
            let body = json!({"agent_id": "ana", "mode": mode});
            assert!(
                serde_json::from_value::<crate::api::TransferBody>(body).is_ok(),
                "{mode}"
            );
        }
    }

    #[test]
    fn the_document_is_openapi_3_0() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.0.3");
        assert_eq!(doc["info"]["title"], "voxdial");
    }
}
