//! `GET /openapi.json`: the OpenAPI 3.1 document generated from the handlers, checked
//! through HTTP against the contract's routes, and against the answers of the routes
//! themselves.

#![allow(clippy::unwrap_used)]

mod inprocess;

use std::collections::{BTreeMap, BTreeSet};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use jwt_allauth_server::users::NewUser;
use jwt_allauth_server::{HEADER_LIMIT, app};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tower::ServiceExt;

use inprocess::state;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

async fn call(router: &Router, request: Request<Body>) -> (StatusCode, Option<String>, Value) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|value| value.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else if content_type.as_deref() == Some("text/html; charset=utf-8") {
        Value::String(String::from_utf8(bytes.to_vec()).unwrap())
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, content_type, body)
}

async fn document(router: &Router) -> Value {
    let request = Request::get("/openapi.json").body(Body::empty()).unwrap();
    let (status, content_type, body) = call(router, request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type.as_deref(), Some("application/json"));
    body
}

/// The contract's paths and their methods.
fn contract() -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    [
        ("/login/", &["post"][..]),
        ("/refresh/", &["post"]),
        ("/logout/", &["post"]),
        ("/logout-all/", &["post"]),
        ("/user/", &["get", "patch"]),
        ("/password/change/", &["post"]),
        ("/password/reset/", &["post"]),
        ("/password/reset/confirm/{uidb64}/{token}/", &["get"]),
        ("/password/reset/set-new/", &["post"]),
        ("/password/reset/default/", &["get"]),
        ("/password/reset/complete/", &["get"]),
        ("/account/", &["get"]),
        ("/registration/", &["post"]),
        ("/registration/verification/{key}/", &["get", "post"]),
        ("/registration/verify-email/", &["post"]),
        ("/registration/resend-verification/", &["post"]),
        ("/registration/verified/", &["get"]),
        ("/whoami/", &["get"]),
        ("/sessions/", &["get"]),
        ("/sessions/{session}/", &["delete"]),
        ("/sessions/revoke-others/", &["post"]),
        ("/sessions/not-me/{key}/", &["get", "post"]),
        ("/health/", &["get"]),
        ("/ready/", &["get"]),
        ("/.well-known/jwks.json", &["get"]),
        ("/.well-known/openid-configuration", &["get"]),
    ]
    .into_iter()
    .map(|(path, methods)| (path, methods.iter().copied().collect()))
    .collect()
}

fn documented(doc: &Value) -> BTreeMap<String, BTreeSet<String>> {
    doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(path, item)| {
            let methods = item
                .as_object()
                .unwrap()
                .keys()
                .filter(|key| METHODS.contains(&key.as_str()))
                .cloned()
                .collect();
            (path.clone(), methods)
        })
        .collect()
}

/// Every operation: (path, method, operation object).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for (path, methods) in documented(doc) {
        for method in methods {
            all.push((
                path.clone(),
                method.clone(),
                doc["paths"][&path][&method].clone(),
            ));
        }
    }
    all
}

/// The schema a `$ref` points to (or the schema itself).
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("unexpected $ref {reference}"));
            let target = &doc["components"]["schemas"][name];
            assert!(target.is_object(), "dangling $ref {reference}");
            resolve(doc, target)
        }
        None => schema,
    }
}

/// The names of the schemas a schema is or may be: itself when a `$ref`, and its `oneOf`
/// branches, transitively.
fn schema_names(doc: &Value, schema: &Value) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        names.insert(reference.rsplit('/').next().unwrap().to_owned());
    }
    if let Some(branches) = resolve(doc, schema).get("oneOf").and_then(Value::as_array) {
        for branch in branches {
            names.extend(schema_names(doc, branch));
        }
    }
    names
}

/// The properties and the required properties of an object schema, through `$ref` and
/// `allOf`.
fn object_shape(doc: &Value, schema: &Value) -> (BTreeSet<String>, BTreeSet<String>) {
    let schema = resolve(doc, schema);
    let mut properties: BTreeSet<String> = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|map| map.keys().cloned().collect())
        .unwrap_or_default();
    let mut required: BTreeSet<String> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|name| name.as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    for part in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (more, more_required) = object_shape(doc, part);
        properties.extend(more);
        required.extend(more_required);
    }
    (properties, required)
}

/// Whether a JSON object has the shape of an object schema: no unknown keys (unless
/// `additionalProperties` allows them), every required key.
fn conforms(doc: &Value, schema: &Value, value: &Value) -> bool {
    let resolved = resolve(doc, schema);
    if let Some(branches) = resolved.get("oneOf").and_then(Value::as_array) {
        return branches.iter().any(|branch| conforms(doc, branch, value));
    }
    let Some(object) = value.as_object() else {
        return false;
    };
    let (properties, required) = object_shape(doc, schema);
    let open = resolved.get("additionalProperties").is_some();
    let keys: BTreeSet<String> = object.keys().cloned().collect();
    required.is_subset(&keys) && (open || keys.is_subset(&properties))
}

/// The JSON schema of a response of an operation.
fn response_schema<'a>(doc: &'a Value, path: &str, method: &str, status: u16) -> &'a Value {
    let schema = &doc["paths"][path][method]["responses"][status.to_string()]["content"]["application/json"]
        ["schema"];
    assert!(
        schema.is_object(),
        "{method} {path} {status}: no JSON schema"
    );
    schema
}

#[tokio::test]
async fn the_document_lists_exactly_the_contract_routes() {
    let router = app(state().await).await;
    let doc = document(&router).await;

    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "jwt-allauth");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));

    let expected: BTreeMap<String, BTreeSet<String>> = contract()
        .into_iter()
        .map(|(path, methods)| {
            (
                path.to_owned(),
                methods.into_iter().map(str::to_owned).collect(),
            )
        })
        .collect();
    assert_eq!(documented(&doc), expected);

    // Served once, as built.
    assert_eq!(
        doc,
        serde_json::to_value(jwt_allauth_server::openapi()).unwrap()
    );

    // Operation ids are unique; every `$ref` resolves.
    let ids: Vec<String> = operations(&doc)
        .iter()
        .map(|(_, _, op)| op["operationId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        ids.len(),
        ids.iter().collect::<BTreeSet<_>>().len(),
        "{ids:?}"
    );
    let text = doc.to_string();
    for reference in text.split("\"$ref\":\"").skip(1) {
        let reference = reference.split('"').next().unwrap();
        resolve(&doc, &json!({ "$ref": reference }));
    }
}

#[tokio::test]
async fn the_document_matches_the_router() {
    let router = app(state().await).await;
    let doc = document(&router).await;
    // Every documented method is routed, every other one is 405 (PUT /user/ is an
    // undocumented alias of PATCH, as in Django REST framework).
    for (path, methods) in documented(&doc) {
        let uri = path
            .replace("{session}", "0123456789abcdef0123456789abcdef")
            .replace("{uidb64}", "MQ")
            .replace("{token}", "not-a-token")
            .replace("{key}", "MQ.not-a-key");
        for method in [Method::GET, Method::POST, Method::PATCH, Method::DELETE] {
            let request = Request::builder()
                .method(method.clone())
                .uri(&uri)
                .body(Body::empty())
                .unwrap();
            let (status, _, _) = call(&router, request).await;
            let name = method.as_str().to_ascii_lowercase();
            if methods.contains(&name) {
                // A verification key that does not exist is the route's own 404.
                // So is the discovery document with no ISSUER nor PUBLIC_URL configured.
                let own_404 = ((path == "/registration/verification/{key}/"
                    || path == "/sessions/not-me/{key}/")
                    && method == Method::POST)
                    || path == "/.well-known/openid-configuration";
                assert!(
                    (own_404 || status != StatusCode::NOT_FOUND)
                        && status != StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path}: {status}"
                );
            } else {
                assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            }
        }
    }
}

#[tokio::test]
async fn bodies_security_and_error_schemas() {
    let router = app(state().await).await;
    let doc = document(&router).await;
    let schemas = &doc["components"]["schemas"];

    // The Bearer scheme, required exactly by the routes that need an access token.
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"],
        json!({
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": doc["components"]["securitySchemes"]["bearer"]["description"],
        })
    );
    let open: BTreeSet<&str> = [
        "/login/",
        "/refresh/",
        "/health/",
        "/ready/",
        "/password/reset/",
        "/password/reset/confirm/{uidb64}/{token}/",
        "/password/reset/set-new/",
        "/password/reset/default/",
        "/password/reset/complete/",
        "/account/",
        "/registration/",
        "/registration/verification/{key}/",
        "/registration/verify-email/",
        "/registration/resend-verification/",
        "/registration/verified/",
        "/sessions/not-me/{key}/",
        "/.well-known/jwks.json",
        "/.well-known/openid-configuration",
    ]
    .into();
    for (path, method, operation) in operations(&doc) {
        if open.contains(path.as_str()) {
            assert!(operation.get("security").is_none(), "{method} {path}");
        } else {
            assert_eq!(
                operation["security"],
                json!([{ "bearer": [] }]),
                "{method} {path}"
            );
            let unauthorized = response_schema(&doc, &path, &method, 401);
            let names = schema_names(&doc, unauthorized);
            for name in ["TokenErrorBody", "ErrorBody", "Detail"] {
                assert!(names.contains(name), "{method} {path}: {names:?}");
            }
        }
    }

    // Request bodies: JSON and forms, with the fields of the contract.
    let bodies = [
        (
            "/login/",
            "post",
            "LoginRequest",
            &["email", "password"][..],
        ),
        ("/refresh/", "post", "RefreshRequest", &["refresh"]),
        ("/logout/", "post", "RefreshRequest", &["refresh"]),
        (
            "/user/",
            "patch",
            "ProfileUpdate",
            &["first_name", "last_name"],
        ),
        (
            "/password/change/",
            "post",
            "PasswordChangeRequest",
            &["old_password", "new_password1", "new_password2"],
        ),
        (
            "/password/reset/",
            "post",
            "PasswordResetRequest",
            &["email"],
        ),
    ];
    for (path, method, schema, fields) in bodies {
        let content = &doc["paths"][path][method]["requestBody"]["content"];
        for media_type in ["application/json", "application/x-www-form-urlencoded"] {
            assert_eq!(
                content[media_type]["schema"]["$ref"],
                format!("#/components/schemas/{schema}"),
                "{method} {path} {media_type}"
            );
        }
        let (properties, _) = object_shape(&doc, &schemas[schema]);
        let fields: BTreeSet<String> = fields.iter().map(|f| (*f).to_owned()).collect();
        assert_eq!(properties, fields, "{schema}");
    }
    // Login needs its body; the refresh token may come from the cookie instead.
    assert_eq!(
        doc["paths"]["/login/"]["post"]["requestBody"]["required"],
        true
    );
    assert_eq!(
        doc["paths"]["/refresh/"]["post"]["requestBody"]["required"],
        false
    );

    // The login answer has the access token (and the refresh token in body mode only).
    let login = response_schema(&doc, "/login/", "post", 200);
    let (properties, required) = object_shape(&doc, login);
    assert!(required.contains("access"), "{required:?}");
    assert!(properties.contains("refresh") && !required.contains("refresh"));
    let (_, required) = object_shape(
        &doc,
        response_schema(&doc, "/password/change/", "post", 200),
    );
    assert_eq!(required, ["access".to_owned(), "detail".to_owned()].into());

    // Error bodies: `{"detail","code"}`, the token error with `messages`, field errors.
    let (properties, required) = object_shape(&doc, &schemas["ErrorBody"]);
    assert_eq!(properties, required);
    assert_eq!(properties, ["code".to_owned(), "detail".to_owned()].into());
    let codes = &resolve(&doc, &schemas["ErrorBody"]["properties"]["code"])["enum"];
    for code in [
        "token_not_valid",
        "bad_authorization_header",
        "incorrect_credentials",
        "email_not_verified",
        "session_expired",
        "throttled",
        "service_unavailable",
        "csrf_failed",
        "headers_too_large",
    ] {
        assert!(codes.as_array().unwrap().contains(&json!(code)), "{code}");
    }
    let (properties, _) = object_shape(&doc, &schemas["TokenErrorBody"]);
    assert!(properties.contains("messages"));
    assert!(schemas["FieldErrors"]["additionalProperties"]["type"] == "array");
    let errors: BTreeSet<&str> = ["ErrorBody", "TokenErrorBody", "Detail", "FieldErrors"].into();
    for (path, method, operation) in operations(&doc) {
        for (status, response) in operation["responses"].as_object().unwrap() {
            let status: u16 = status.parse().unwrap();
            if status < 400 {
                continue;
            }
            let schema = &response["content"]["application/json"]["schema"];
            let names = schema_names(&doc, schema);
            assert!(
                names.iter().any(|name| errors.contains(name.as_str())),
                "{method} {path} {status}: {names:?}"
            );
            if status == 503 {
                // The timeout's `Detail` everywhere, the database's `ErrorBody` too on
                // the routes that read it.
                assert!(names.contains("Detail"), "{method} {path}: {names:?}");
            }
        }
        // The server's layers answer on every route: the header limit and the timeout.
        let too_large = &operation["responses"]["431"];
        assert_eq!(
            too_large["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorBody",
            "{method} {path}"
        );
        let description = too_large["description"].as_str().unwrap();
        assert!(description.contains("headers_too_large"), "{description}");
        let unavailable = operation["responses"]["503"]["description"]
            .as_str()
            .unwrap();
        assert!(
            unavailable.contains("Request timed out."),
            "{method} {path}: {unavailable}"
        );
    }
    // The routes that read the database keep their 503 body next to the timeout's.
    for (path, method) in [
        ("/login/", "post"),
        ("/refresh/", "post"),
        ("/ready/", "get"),
    ] {
        let names = schema_names(&doc, response_schema(&doc, path, method, 503));
        assert!(
            names.contains("ErrorBody") && names.contains("Detail"),
            "{method} {path}: {names:?}"
        );
    }
    assert_eq!(
        response_schema(&doc, "/login/", "post", 401)["$ref"],
        "#/components/schemas/ErrorBody"
    );
    assert_eq!(
        response_schema(&doc, "/login/", "post", 429)["$ref"],
        "#/components/schemas/ErrorBody"
    );
    assert_eq!(
        response_schema(&doc, "/sessions/{session}/", "delete", 404)["$ref"],
        "#/components/schemas/Detail"
    );
    assert!(
        doc["paths"]["/sessions/{session}/"]["delete"]["responses"]["204"]
            .get("content")
            .is_none()
    );
}

fn json_request(method: Method, path: &str, token: Option<&str>, body: Value) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    builder.body(Body::from(body.to_string())).unwrap()
}

/// The answers of the routes have the shapes the document gives them.
#[tokio::test]
async fn answers_conform_to_the_document() {
    let state = state().await;
    state
        .users
        .create(
            &NewUser::new("ada@example.com", "pass-word-123"),
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    let router = app(state).await;
    let doc = document(&router).await;

    let check = async |method: Method, path: &str, token: Option<&str>, body: Value| {
        let request = json_request(method.clone(), path, token, body);
        let (status, _, answer) = call(&router, request).await;
        let template = if path.starts_with("/sessions/")
            && path != "/sessions/"
            && path != "/sessions/revoke-others/"
        {
            "/sessions/{session}/"
        } else {
            path
        };
        let name = method.as_str().to_ascii_lowercase();
        let schema = response_schema(&doc, template, &name, status.as_u16());
        let schema = resolve(&doc, schema);
        let items = if schema["type"] == "array" {
            answer.as_array().unwrap().clone()
        } else {
            vec![answer.clone()]
        };
        let item_schema = if schema["type"] == "array" {
            &schema["items"]
        } else {
            schema
        };
        for item in &items {
            assert!(
                conforms(&doc, item_schema, item),
                "{method} {path} {status}: {answer}"
            );
        }
        answer
    };

    // The shape check itself refuses unknown and missing keys.
    let schemas = &doc["components"]["schemas"];
    assert!(!conforms(
        &doc,
        &schemas["Tokens"],
        &json!({"access": "a", "other": 1})
    ));
    assert!(!conforms(
        &doc,
        &schemas["ErrorBody"],
        &json!({"detail": "x"})
    ));
    assert!(conforms(
        &doc,
        &schemas["BearerError"],
        &json!({"detail": "x"})
    ));

    let missing = check(Method::POST, "/login/", None, json!({})).await;
    assert_eq!(missing["email"], json!(["This field is required."]));
    let wrong = json!({"email": "ada@example.com", "password": "wrong"});
    check(Method::POST, "/login/", None, wrong).await;
    let good = json!({"email": "ada@example.com", "password": "pass-word-123"});
    let tokens = check(Method::POST, "/login/", None, good).await;
    let access = tokens["access"].as_str().unwrap().to_owned();
    let access = Some(access.as_str());

    check(Method::GET, "/whoami/", access, Value::Null).await;
    check(Method::GET, "/user/", access, Value::Null).await;
    check(
        Method::PATCH,
        "/user/",
        access,
        json!({"first_name": "Ada"}),
    )
    .await;
    let sessions = check(Method::GET, "/sessions/", access, Value::Null).await;
    assert_eq!(sessions.as_array().unwrap().len(), 1);
    check(Method::GET, "/whoami/", None, Value::Null).await;
    check(Method::GET, "/whoami/", Some("not-a-token"), Value::Null).await;
    check(Method::POST, "/refresh/", None, json!({})).await;
    check(Method::DELETE, "/sessions/nope/", access, Value::Null).await;
    let others = check(
        Method::POST,
        "/sessions/revoke-others/",
        access,
        Value::Null,
    )
    .await;
    assert_eq!(others["revoked"], 0);
    check(Method::POST, "/sessions/revoke-others/", None, Value::Null).await;
    let change = json!({
        "old_password": "pass-word-123",
        "new_password1": "another-pass-456",
        "new_password2": "another-pass-456",
    });
    check(Method::POST, "/password/change/", access, change).await;
    check(Method::GET, "/health/", None, Value::Null).await;
    check(Method::GET, "/ready/", None, Value::Null).await;

    // The header limit's answer, from the server's own layer.
    let mut padded = json_request(Method::GET, "/whoami/", None, Value::Null);
    let padding = header::HeaderValue::from_str(&"a".repeat(HEADER_LIMIT)).unwrap();
    padded.headers_mut().insert("x-padding", padding);
    let (status, _, answer) = call(&router, padded).await;
    assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    let schema = response_schema(&doc, "/whoami/", "get", 431);
    assert!(conforms(&doc, schema, &answer), "{answer}");
}
