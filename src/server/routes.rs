//! The routes: TSI's paths (with and without the trailing slash tsiclient writes), each
//! checked for its token and `api-version`, its body read up to the limit, and the store's
//! call run on the blocking pool.

use std::collections::HashMap;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value as Json, json};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::ingest;
use super::{API_VERSION, AppState};
use crate::engine::Store;
use crate::error::Error;

type Params = Query<HashMap<String, String>>;

pub(super) fn routes(state: AppState) -> Router {
    let slash = |path: &str| format!("{path}/");
    let mut app = Router::new();
    for path in [
        "/timeseries/modelSettings",
        "/timeseries/types",
        "/timeseries/hierarchies",
        "/timeseries/instances",
    ] {
        let route = match path {
            "/timeseries/modelSettings" => get(model_settings).patch(update_model_settings),
            "/timeseries/types" => get(types_list),
            "/timeseries/hierarchies" => get(hierarchies_list),
            _ => get(instances_list),
        };
        app = app.route(path, route.clone()).route(&slash(path), route);
    }
    app.route("/timeseries/query", post(query))
        .route("/availability", get(availability))
        .route("/eventSchema", post(event_schema))
        .route("/timeseries/types/$batch", post(types_batch))
        .route("/timeseries/hierarchies/$batch", post(hierarchies_batch))
        .route("/timeseries/instances/$batch", post(instances_batch))
        .route("/timeseries/instances/search", post(search))
        .route("/timeseries/instances/suggest", post(suggest))
        .route("/ingest/adt", post(ingest::adt).options(ingest::adt_handshake))
        .route("/ingest/ndjson", post(ingest::ndjson))
        .merge(super::explorer::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .with_state(state)
}

/// Refuses a request without the token (compared in constant time), and one of TSI's API
/// without its `api-version`. CloudEvents' OPTIONS handshake needs no token (it changes
/// nothing, and senders may not put headers on it).
async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // The explorer's page and files hold no data, and a browser's navigation cannot send
    // the token.
    if super::explorer::is_page(&request) {
        return next.run(request).await;
    }
    let path = request.uri().path();
    let ingest = path.starts_with("/ingest/");
    if ingest && request.method() == axum::http::Method::OPTIONS {
        return next.run(request).await;
    }
    if let Some(refusal) = simple_request_body(&request) {
        return refusal.into_response();
    }
    if let Some(token) = &state.token {
        let given = request
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                "AuthenticationFailed",
                "the request needs the header Authorization: Bearer <token>, with the server's token",
            )
            .into_response();
        }
    }
    if ingest {
        return next.run(request).await;
    }
    let version = request
        .uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("api-version="));
    match version {
        Some(API_VERSION) => next.run(request).await,
        Some(other) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidApiVersion",
            format!("API version '{other}' is not supported. Supported versions are '{API_VERSION}'."),
        )
        .into_response(),
        None => ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidApiVersion",
            format!("the query parameter api-version is missing; the supported version is '{API_VERSION}'"),
        )
        .into_response(),
    }
}

/// A body a browser may send to another site without asking (no content type, or
/// `text/plain`, a form, multipart): refused 415, so that a page on another site cannot
/// make a browser post to a server it can reach (loopback included) without the
/// preflight that CORS answers. TSI's clients send `application/json`; Event Grid and
/// CloudEvents send JSON types.
fn simple_request_body(request: &Request) -> Option<ApiError> {
    use axum::http::Method;
    if !matches!(*request.method(), Method::POST | Method::PATCH | Method::PUT) {
        return None;
    }
    let content_type = content_type(request.headers());
    let simple = matches!(
        content_type.as_str(),
        "" | "text/plain" | "application/x-www-form-urlencoded" | "multipart/form-data"
    );
    simple.then(|| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "InvalidInput",
            format!(
                "a request body needs a JSON content type (application/json, application/x-ndjson, \
                 application/cloudevents+json, ...), not {content_type:?}"
            ),
        )
    })
}

/// A request's media type, lower-cased, without parameters (`""` when it has none).
pub(super) fn content_type(headers: &HeaderMap) -> String {
    headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

async fn not_found(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "InvalidUrl",
        format!("The request URL '{}' could not be parsed.", request.uri().path()),
    )
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "InvalidUrl",
        format!("{} is not a method of '{}'", request.method(), request.uri().path()),
    )
}

/// Runs `call` on the blocking pool, holding one of the permits (none free: 503 at once)
/// and answering 408 when it takes longer than the timeout.
pub(super) async fn run<F, T>(state: &AppState, call: F) -> Result<T, ApiError>
where
    F: FnOnce(&Store) -> crate::error::Result<T> + Send + 'static,
    T: Send + 'static,
{
    let permit = state.permits.clone().try_acquire_owned().map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "TooManyRequests",
            "too many requests at once; retry shortly",
        )
    })?;
    let store = state.store.clone();
    let task = tokio::task::spawn_blocking(move || {
        // The permit is released when the call ends, even after a timeout answered.
        let _permit = permit;
        call(&store)
    });
    match tokio::time::timeout(state.timeout, task).await {
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "RequestTimeout",
            format!("Request timed out after '{}' second(s).", state.timeout.as_secs()),
        )),
        Ok(Err(e)) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            format!("the request failed: {e}"),
        )),
        Ok(Ok(answer)) => answer.map_err(ApiError::from),
    }
}

/// The body, at most the server's limit (413 past it).
pub(super) async fn read_body(state: &AppState, body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, state.max_body_bytes).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "InvalidInput",
            format!(
                "the request body is larger than {} bytes, or was cut off",
                state.max_body_bytes
            ),
        )
    })
}

/// The body as a JSON object (400 naming the problem otherwise).
fn json_object(bytes: &[u8]) -> Result<serde_json::Map<String, Json>, ApiError> {
    match serde_json::from_slice(bytes) {
        Ok(Json::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::invalid("the request body must be a JSON object")),
        Err(e) => Err(ApiError::invalid(format!("the request body is not JSON: {e}"))),
    }
}

fn continuation(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-ms-continuation")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// A 200 answer; a `continuationToken` at the top of `answer` is also sent as the
/// `x-ms-continuation` header.
fn answer(headers: &HeaderMap, answer: Json) -> Response {
    let token = answer
        .get("continuationToken")
        .and_then(Json::as_str)
        .map(str::to_string);
    with_headers(headers, axum::Json(answer).into_response(), token.as_deref())
}

/// A 200 answer's headers: its page token as `x-ms-continuation`, and the client's
/// `x-ms-client-request-id` returned as `x-ms-request-id`, for its logs.
fn with_headers(headers: &HeaderMap, mut response: Response, token: Option<&str>) -> Response {
    if let Some(token) = token.and_then(|t| HeaderValue::from_str(t).ok()) {
        response.headers_mut().insert("x-ms-continuation", token);
    }
    if let Some(id) = headers.get("x-ms-client-request-id") {
        response.headers_mut().insert("x-ms-request-id", id.clone());
    }
    response
}

/// `POST /timeseries/query`: one of getEvents, getSeries, aggregateSeries. The
/// `x-ms-continuation` header and the `storeType` parameter go into the body, where the
/// store reads them.
async fn query(State(state): State<AppState>, Query(params): Params, headers: HeaderMap, body: Body) -> Response {
    let result = async {
        let mut body = json_object(&read_body(&state, body).await?)?;
        if let Some(token) = continuation(&headers) {
            body.insert("continuationToken".into(), Json::String(token));
        }
        if let Some(store_type) = params.get("storeType") {
            for (_, inner) in body.iter_mut().filter(|(k, _)| *k != "continuationToken") {
                if let Some(inner) = inner.as_object_mut() {
                    inner
                        .entry("storeType")
                        .or_insert_with(|| Json::String(store_type.clone()));
                }
            }
        }
        let bytes = serde_json::to_vec(&body).map_err(|e| ApiError::invalid(e.to_string()))?;
        // The answer is written into the response's bytes on the blocking thread, without
        // a JSON value in between.
        run(&state, move |store| {
            let answer = store.query_answer(&bytes)?;
            let token = answer.continuation_token().map(str::to_string);
            let json = answer.json_bytes().map_err(|e| Error::InvalidArgument(e.to_string()))?;
            Ok((json, token))
        })
        .await
    }
    .await;
    match result {
        Ok((json, token)) => {
            let response = ([(CONTENT_TYPE, HeaderValue::from_static("application/json"))], json).into_response();
            with_headers(&headers, response, token.as_deref())
        }
        Err(e) => e.into_response(),
    }
}

pub(super) fn respond(headers: &HeaderMap, result: Result<Json, ApiError>) -> Response {
    match result {
        Ok(json) => answer(headers, json),
        Err(e) => e.into_response(),
    }
}

/// `GET /availability`: event counts over the whole store (TSI's shape).
async fn availability(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let result = run(&state, |store| store.query_json(br#"{"availability": {}}"#)).await;
    respond(&headers, result)
}

/// `POST /eventSchema` with `{"searchSpan": {...}}`: the properties over that span.
async fn event_schema(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let result = async {
        let body = json_object(&read_body(&state, body).await?)?;
        let bytes =
            serde_json::to_vec(&json!({ "eventSchema": body })).map_err(|e| ApiError::invalid(e.to_string()))?;
        run(&state, move |store| store.query_json(&bytes)).await
    }
    .await;
    respond(&headers, result)
}

async fn model_settings(State(state): State<AppState>, headers: HeaderMap) -> Response {
    respond(&headers, run(&state, |store| Ok(store.model_settings_json())).await)
}

/// A route whose body goes to one of the store's JSON calls as it is.
async fn with_body(
    state: AppState,
    headers: HeaderMap,
    body: Body,
    call: fn(&Store, &[u8]) -> crate::error::Result<Json>,
) -> Response {
    let result = async {
        let bytes = read_body(&state, body).await?;
        run(&state, move |store| call(store, &bytes)).await
    }
    .await;
    respond(&headers, result)
}

async fn update_model_settings(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    with_body(state, headers, body, Store::update_model_settings_json).await
}

async fn types_batch(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    with_body(state, headers, body, Store::types_batch_json).await
}

async fn hierarchies_batch(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    with_body(state, headers, body, Store::hierarchies_batch_json).await
}

async fn instances_batch(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    with_body(state, headers, body, Store::instances_batch_json).await
}

async fn suggest(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    with_body(state, headers, body, Store::suggest_instances_json).await
}

/// A list page; the token comes in the `x-ms-continuation` header, as tsiclient sends it.
async fn list(
    state: AppState,
    headers: HeaderMap,
    call: fn(&Store, Option<&str>) -> crate::error::Result<Json>,
) -> Response {
    let token = continuation(&headers);
    let result = run(&state, move |store| call(store, token.as_deref())).await;
    respond(&headers, result)
}

async fn types_list(State(state): State<AppState>, headers: HeaderMap) -> Response {
    list(state, headers, Store::types_list_json).await
}

async fn hierarchies_list(State(state): State<AppState>, headers: HeaderMap) -> Response {
    list(state, headers, Store::hierarchies_list_json).await
}

async fn instances_list(State(state): State<AppState>, headers: HeaderMap) -> Response {
    list(state, headers, Store::instances_list_json).await
}

/// `POST /timeseries/instances/search`. TSI sends one `x-ms-continuation` header for either
/// list: it goes to the instances' page when the body asks for instances, else to the
/// hierarchy nodes'.
async fn search(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let result = async {
        let mut body = json_object(&read_body(&state, body).await?)?;
        if let Some(token) = continuation(&headers) {
            let list = if body.get("instances").is_some_and(Json::is_object) {
                "instances"
            } else {
                "hierarchies"
            };
            if let Some(section) = body.get_mut(list).and_then(Json::as_object_mut) {
                section.insert("continuationToken".into(), Json::String(token));
            }
        }
        let bytes = serde_json::to_vec(&body).map_err(|e| ApiError::invalid(e.to_string()))?;
        run(&state, move |store| store.search_instances_json(&bytes)).await
    }
    .await;
    respond(&headers, result)
}
