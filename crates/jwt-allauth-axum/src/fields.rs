//! Request bodies: JSON or `application/x-www-form-urlencoded`, validated field by field
//! with the messages of Django REST framework.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::error_response::{detail, json_response};

/// The fields of a request body, from JSON or from a form.
///
/// - `application/json` (or any `application/*+json`): the body must be a JSON object.
/// - `application/x-www-form-urlencoded`: every value is a string; when a name is given
///   several times the last value wins (as Django's `QueryDict` does).
/// - An empty body, or a body without `Content-Type`, has no fields (as in Django REST
///   framework), so required fields are reported missing.
/// - Any other content type: 415 `{"detail":"Unsupported media type \"text/plain\" in
///   request."}`.
///
/// Fields are validated with [`Fields::char_field`], collecting every problem into
/// [`FieldErrors`] (400 `{"<field>":["<message>"]}`). No error message ever contains a
/// field's value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields(Map<String, Value>);

/// Why a body could not be read as [`Fields`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BodyRejection {
    /// Another content type than JSON or a form: 415.
    #[error("Unsupported media type \"{0}\" in request.")]
    UnsupportedMediaType(String),
    /// The JSON does not parse: 400 `{"detail":"JSON parse error - <parser message>"}`.
    /// The parser's messages name a position, never the input.
    #[error("JSON parse error - {0}")]
    JsonParse(String),
    /// The form does not parse: 400 `{"detail":"Form parse error."}`.
    #[error("Form parse error.")]
    FormParse,
    /// Valid JSON that is not an object: 400 `{"non_field_errors":["Invalid data.
    /// Expected a dictionary, but got list."]}` (or `["No data provided"]` for `null`).
    #[error("{0}")]
    NotAnObject(String),
    /// The body is over the request body limit: 413.
    #[error("Request body too large.")]
    TooLarge,
    /// The body could not be read: 400.
    #[error("Failed to read the request body.")]
    Read,
}

impl IntoResponse for BodyRejection {
    fn into_response(self) -> Response {
        match &self {
            BodyRejection::UnsupportedMediaType(_) => {
                detail(StatusCode::UNSUPPORTED_MEDIA_TYPE, &self.to_string())
            }
            BodyRejection::NotAnObject(message) => {
                FieldErrors::single("non_field_errors", message).into_response()
            }
            BodyRejection::TooLarge => detail(StatusCode::PAYLOAD_TOO_LARGE, &self.to_string()),
            BodyRejection::JsonParse(_) | BodyRejection::FormParse | BodyRejection::Read => {
                detail(StatusCode::BAD_REQUEST, &self.to_string())
            }
        }
    }
}

impl From<BytesRejection> for BodyRejection {
    fn from(rejection: BytesRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            BodyRejection::TooLarge
        } else {
            BodyRejection::Read
        }
    }
}

/// What kind of body a `Content-Type` announces.
enum MediaType {
    Json,
    Form,
    Other(String),
}

fn media_type(headers: &HeaderMap) -> Option<MediaType> {
    let value = headers.get(header::CONTENT_TYPE)?;
    let Ok(text) = value.to_str() else {
        return Some(MediaType::Other(
            String::from_utf8_lossy(value.as_bytes()).into_owned(),
        ));
    };
    let essence = text
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    Some(match essence.as_str() {
        "application/json" => MediaType::Json,
        "application/x-www-form-urlencoded" => MediaType::Form,
        _ if essence.starts_with("application/") && essence.ends_with("+json") => MediaType::Json,
        _ => MediaType::Other(text.to_owned()),
    })
}

impl Fields {
    /// Parses a body announced by `headers` (see the type's documentation).
    pub fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Self, BodyRejection> {
        if body.is_empty() {
            return Ok(Self::default());
        }
        match media_type(headers) {
            None => Ok(Self::default()),
            Some(MediaType::Json) => Self::from_json(body),
            Some(MediaType::Form) => Self::from_form(body),
            Some(MediaType::Other(media_type)) => {
                Err(BodyRejection::UnsupportedMediaType(media_type))
            }
        }
    }

    /// Parses a JSON body, which must be an object.
    pub fn from_json(body: &[u8]) -> Result<Self, BodyRejection> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|error| BodyRejection::JsonParse(error.to_string()))?;
        match value {
            Value::Object(map) => Ok(Self(map)),
            Value::Null => Err(BodyRejection::NotAnObject("No data provided".to_owned())),
            other => Err(BodyRejection::NotAnObject(format!(
                "Invalid data. Expected a dictionary, but got {}.",
                python_type_name(&other)
            ))),
        }
    }

    /// Parses an `application/x-www-form-urlencoded` body.
    pub fn from_form(body: &[u8]) -> Result<Self, BodyRejection> {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_bytes(body).map_err(|_| BodyRejection::FormParse)?;
        Ok(Self(
            pairs
                .into_iter()
                .map(|(name, value)| (name, Value::String(value)))
                .collect(),
        ))
    }

    /// Fields from a JSON object.
    pub fn from_map(map: Map<String, Value>) -> Self {
        Self(map)
    }

    /// The raw value of a field.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// The e-mail address in field `name`: a required text of at most
    /// [`MAX_EMAIL_CHARS`](jwt_allauth::email::MAX_EMAIL_CHARS) characters that
    /// [`is_valid_email`](jwt_allauth::email::is_valid_email) accepts, or `None` after
    /// adding a message to `errors` (`"Enter a valid email address."` for a malformed one).
    pub fn email_field(&self, name: &str, errors: &mut FieldErrors) -> Option<String> {
        let rules = CharField::required().max_length(jwt_allauth::email::MAX_EMAIL_CHARS);
        let email = self.char_field(name, rules, errors)?;
        if jwt_allauth::email::is_valid_email(&email) {
            Some(email)
        } else {
            errors.add(name, "Enter a valid email address.");
            None
        }
    }

    /// Validates the text field `name` as Django REST framework's `CharField` does, and
    /// returns its value, or `None` after adding a message to `errors` (or when an
    /// optional field is absent).
    ///
    /// Numbers are accepted and turned into text; `true`/`false`, arrays and objects are
    /// `"Not a valid string."`; `null` is `"This field may not be null."`.
    /// A value containing a NUL character is `"Null characters are not allowed."`.
    pub fn char_field(
        &self,
        name: &str,
        rules: CharField,
        errors: &mut FieldErrors,
    ) -> Option<String> {
        let value = match self.0.get(name) {
            None => {
                if rules.required {
                    errors.add(name, "This field is required.");
                }
                return None;
            }
            Some(Value::Null) => {
                errors.add(name, "This field may not be null.");
                return None;
            }
            Some(Value::String(text)) => text.clone(),
            Some(Value::Number(number)) => number.to_string(),
            Some(Value::Bool(_) | Value::Array(_) | Value::Object(_)) => {
                errors.add(name, "Not a valid string.");
                return None;
            }
        };
        let value = if rules.trim_whitespace {
            value.trim().to_owned()
        } else {
            value
        };
        // All-whitespace is blank even when the value is kept untrimmed (passwords).
        if value.trim().is_empty() {
            if rules.allow_blank {
                return Some(String::new());
            }
            errors.add(name, "This field may not be blank.");
            return None;
        }
        let mut valid = true;
        if let Some(max) = rules.max_length
            && value.chars().count() > max
        {
            errors.add(
                name,
                &format!("Ensure this field has no more than {max} characters."),
            );
            valid = false;
        }
        // DRF's `ProhibitNullCharactersValidator`: PostgreSQL cannot store a NUL in text.
        if value.contains('\0') {
            errors.add(name, "Null characters are not allowed.");
            valid = false;
        }
        valid.then_some(value)
    }
}

/// The name Python gives the type of a JSON value, for DRF's "Expected a dictionary"
/// message.
fn python_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(number) if number.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

impl<S: Send + Sync> FromRequest<S> for Fields {
    type Rejection = BodyRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let mut headers = HeaderMap::new();
        if let Some(content_type) = request.headers().get(header::CONTENT_TYPE) {
            headers.insert(header::CONTENT_TYPE, content_type.clone());
        }
        let body = Bytes::from_request(request, state).await?;
        Self::parse(&headers, &body)
    }
}

/// How [`Fields::char_field`] validates a field: Django REST framework's `CharField`
/// options. Defaults to required, not blank, whitespace trimmed, no maximum length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CharField {
    /// A missing field is `"This field is required."`. Defaults to `true`.
    pub required: bool,
    /// An empty (or, when trimmed, all-whitespace) value is accepted as `""`; otherwise
    /// it is `"This field may not be blank."`. Defaults to `false`.
    pub allow_blank: bool,
    /// Longer values are `"Ensure this field has no more than N characters."`.
    /// Defaults to none.
    pub max_length: Option<usize>,
    /// Leading and trailing whitespace is removed, as DRF does for a `CharField`.
    /// Defaults to `true`; [`CharField::password`] turns it off.
    pub trim_whitespace: bool,
}

impl Default for CharField {
    fn default() -> Self {
        Self::required()
    }
}

impl CharField {
    /// A required, non-blank field.
    pub const fn required() -> Self {
        Self {
            required: true,
            allow_blank: false,
            max_length: None,
            trim_whitespace: true,
        }
    }

    /// An optional field that may be blank.
    pub const fn optional() -> Self {
        Self {
            required: false,
            allow_blank: true,
            max_length: None,
            trim_whitespace: true,
        }
    }

    /// A required password: never trimmed (a password may begin or end with a space, as
    /// in Django's own authentication forms); empty or all-whitespace is blank.
    pub const fn password() -> Self {
        Self {
            required: true,
            allow_blank: false,
            max_length: None,
            trim_whitespace: false,
        }
    }

    /// The same rules with a maximum length in characters.
    pub const fn max_length(mut self, max: usize) -> Self {
        self.max_length = Some(max);
        self
    }
}

/// Validation errors, answered as 400 `{"<field>":["<message>", ...], ...}` with the
/// fields in the order they were validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(Vec<(String, Vec<String>)>);

impl FieldErrors {
    /// No errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A single error.
    pub fn single(field: &str, message: &str) -> Self {
        let mut errors = Self::new();
        errors.add(field, message);
        errors
    }

    /// Adds a message for `field`.
    pub fn add(&mut self, field: &str, message: &str) {
        match self.0.iter_mut().find(|(name, _)| name == field) {
            Some((_, messages)) => messages.push(message.to_owned()),
            None => self.0.push((field.to_owned(), vec![message.to_owned()])),
        }
    }

    /// Whether there are no errors.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The messages of `field`.
    pub fn get(&self, field: &str) -> Option<&[String]> {
        self.0
            .iter()
            .find(|(name, _)| name == field)
            .map(|(_, messages)| messages.as_slice())
    }

    /// `Ok(())` when there are no errors, else `Err(self)`.
    pub fn into_result(self) -> Result<(), Self> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl Serialize for FieldErrors {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (field, messages) in &self.0 {
            map.serialize_entry(field, messages)?;
        }
        map.end()
    }
}

impl IntoResponse for FieldErrors {
    fn into_response(self) -> Response {
        json_response(StatusCode::BAD_REQUEST, self)
    }
}

/// An object whose every property is a list of messages.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for FieldErrors {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
        ObjectBuilder::new()
            .description(Some(
                "Validation errors: each invalid field with its messages, in the order the \
                 fields were validated.",
            ))
            .additional_properties(Some(
                ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::String)),
            ))
            .examples([serde_json::json!({ "email": ["This field is required."] })])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for FieldErrors {}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use axum::http::HeaderValue;
    use serde_json::json;

    use super::*;

    fn fields(value: Value) -> Fields {
        Fields::from_map(value.as_object().unwrap().clone())
    }

    #[test]
    fn char_field_follows_django_rest_framework() {
        let body = fields(json!({
            "text": "  padded  ",
            "number": 12,
            "float": 1.5,
            "blank": "   ",
            "null": null,
            "bool": true,
            "list": [],
            "long": "abcdef",
        }));
        let mut errors = FieldErrors::new();
        let required = CharField::required();
        assert_eq!(
            body.char_field("text", required, &mut errors).as_deref(),
            Some("padded")
        );
        assert_eq!(
            body.char_field("number", required, &mut errors).as_deref(),
            Some("12")
        );
        assert_eq!(
            body.char_field("float", required, &mut errors).as_deref(),
            Some("1.5")
        );
        assert_eq!(
            body.char_field("missing", CharField::optional(), &mut errors),
            None
        );
        assert_eq!(
            body.char_field("blank", CharField::optional(), &mut errors)
                .as_deref(),
            Some("")
        );
        assert!(errors.is_empty());

        for name in ["missing", "blank", "null", "bool", "list"] {
            assert_eq!(body.char_field(name, required, &mut errors), None);
        }
        assert_eq!(
            body.char_field("long", required.max_length(5), &mut errors),
            None
        );
        // Passwords keep their whitespace, but all-whitespace is still blank.
        let mut password_errors = FieldErrors::new();
        assert_eq!(
            body.char_field("text", CharField::password(), &mut password_errors)
                .as_deref(),
            Some("  padded  ")
        );
        assert_eq!(
            body.char_field("blank", CharField::password(), &mut password_errors),
            None
        );
        assert_eq!(
            serde_json::to_value(&password_errors).unwrap(),
            json!({"blank": ["This field may not be blank."]})
        );
        assert_eq!(
            serde_json::to_value(&errors).unwrap(),
            json!({
                "missing": ["This field is required."],
                "blank": ["This field may not be blank."],
                "null": ["This field may not be null."],
                "bool": ["Not a valid string."],
                "list": ["Not a valid string."],
                "long": ["Ensure this field has no more than 5 characters."],
            })
        );
        assert_eq!(
            errors.get("bool"),
            Some(&["Not a valid string.".to_owned()][..])
        );
    }

    #[test]
    fn char_field_prohibits_null_characters_as_drf_does() {
        let body = fields(json!({"name": "a\u{0}b", "long": "\u{0}bcdef"}));
        let mut errors = FieldErrors::new();
        assert_eq!(
            body.char_field("name", CharField::required(), &mut errors),
            None
        );
        assert_eq!(
            body.char_field("long", CharField::password().max_length(5), &mut errors),
            None
        );
        assert_eq!(
            serde_json::to_value(&errors).unwrap(),
            json!({
                "name": ["Null characters are not allowed."],
                "long": [
                    "Ensure this field has no more than 5 characters.",
                    "Null characters are not allowed.",
                ],
            })
        );
    }

    #[test]
    fn field_errors_keep_the_validation_order() {
        let mut errors = FieldErrors::single("zeta", "one");
        errors.add("alpha", "two");
        errors.add("zeta", "three");
        assert_eq!(
            serde_json::to_string(&errors).unwrap(),
            r#"{"zeta":["one","three"],"alpha":["two"]}"#
        );
        assert_eq!(FieldErrors::new().into_result(), Ok(()));
    }

    #[test]
    fn parse_picks_the_parser_from_the_content_type() {
        let mut headers = HeaderMap::new();
        // No content type, or no body: no fields.
        assert_eq!(Fields::parse(&headers, b"{\"a\":1}"), Ok(Fields::default()));
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert_eq!(Fields::parse(&headers, b""), Ok(Fields::default()));
        assert_eq!(
            Fields::parse(&headers, b"x"),
            Err(BodyRejection::UnsupportedMediaType("text/plain".into()))
        );
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("Application/JSON; charset=utf-8"),
        );
        assert_eq!(
            Fields::parse(&headers, b"{\"a\":\"b\"}").unwrap().get("a"),
            Some(&json!("b"))
        );
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/vnd.api+json"),
        );
        assert!(Fields::parse(&headers, b"{}").is_ok());
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let form = Fields::parse(&headers, b"a=1&b=%20x+y&a=2").unwrap();
        assert_eq!(form.get("a"), Some(&json!("2")));
        assert_eq!(form.get("b"), Some(&json!(" x y")));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("multipart/form-data; boundary=x"),
        );
        assert!(matches!(
            Fields::parse(&headers, b"--x"),
            Err(BodyRejection::UnsupportedMediaType(_))
        ));
    }

    #[test]
    fn json_that_is_not_an_object_names_its_python_type() {
        let expected = |kind: &str| {
            Err(BodyRejection::NotAnObject(format!(
                "Invalid data. Expected a dictionary, but got {kind}."
            )))
        };
        assert_eq!(Fields::from_json(b"[]"), expected("list"));
        assert_eq!(Fields::from_json(b"\"x\""), expected("str"));
        assert_eq!(Fields::from_json(b"1"), expected("int"));
        assert_eq!(Fields::from_json(b"1.5"), expected("float"));
        assert_eq!(Fields::from_json(b"true"), expected("bool"));
        assert_eq!(
            Fields::from_json(b"null"),
            Err(BodyRejection::NotAnObject("No data provided".into()))
        );
        assert!(matches!(
            Fields::from_json(b"{\"password\": \"hunter2"),
            Err(BodyRejection::JsonParse(message)) if !message.contains("hunter2")
        ));
    }
}
