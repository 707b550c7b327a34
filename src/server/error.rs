//! Errors as TSI answers them: an HTTP status and `{"error": {"code", "message",
//! "innerError": {"code"}?}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::Error;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// TSI's error code (`InvalidInput`, `ResourceNotFound`, `InvalidApiVersion`, ...).
    pub code: &'static str,
    /// TSI's inner error code, when one narrows the cause.
    pub inner: Option<&'static str>,
    /// What is wrong.
    pub message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            inner: None,
            message: message.into(),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidInput", message)
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Model { code, inner, message } => ApiError {
                status: if code == "ResourceNotFound" {
                    StatusCode::NOT_FOUND
                } else {
                    StatusCode::BAD_REQUEST
                },
                code,
                inner,
                message,
            },
            Error::InvalidArgument(message) => Self::invalid(message),
            Error::UnknownTwin(twin) => ApiError {
                status: StatusCode::NOT_FOUND,
                code: "ResourceNotFound",
                inner: Some("InstanceNotFound"),
                message: format!("the store has no events of time series {twin:?}"),
            },
            other => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                other.to_string(),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(inner) = self.inner {
            error["innerError"] = json!({ "code": inner });
        }
        (self.status, axum::Json(json!({ "error": error }))).into_response()
    }
}
