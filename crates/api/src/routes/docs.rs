//! The API describes itself: `/openapi.json` (OpenAPI 3, generated from the handlers) and
//! `/docs`, an interactive reference page over it.

use std::sync::OnceLock;

use axum::response::Html;
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{OpenApi, Ref, Required, ResponseBuilder};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::ApiContext;

pub fn router() -> OpenApiRouter<ApiContext> {
    OpenApiRouter::new()
        .routes(routes!(openapi_json))
        .routes(routes!(docs))
}

fn document() -> &'static OpenApi {
    static DOC: OnceLock<OpenApi> = OnceLock::new();
    DOC.get_or_init(crate::openapi)
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "health",
    responses((status = 200, description = "The OpenAPI 3 document of every route", content_type = "application/json")))]
async fn openapi_json() -> axum::Json<&'static OpenApi> {
    axum::Json(document())
}

/// An interactive API reference (Scalar) over `/openapi.json`.
#[utoipa::path(get, path = "/docs", tag = "health",
    responses((status = 200, description = "The API reference page", content_type = "text/html")))]
async fn docs() -> Html<String> {
    static PAGE: OnceLock<String> = OnceLock::new();
    Html(
        PAGE.get_or_init(|| {
            utoipa_scalar::Scalar::new(document().clone())
                .title("coldchain API")
                .to_html()
        })
        .clone(),
    )
}

/// Adds the `X-Tenant` header, and its 400 answer, to every `/v1` operation: the
/// [`crate::extract::Tenant`] extractor every one of them takes.
pub struct TenantHeader;

impl utoipa::Modify for TenantHeader {
    fn modify(&self, doc: &mut OpenApi) {
        let header: Parameter = ParameterBuilder::new()
            .name("X-Tenant")
            .parameter_in(ParameterIn::Header)
            .required(Required::True)
            .description(Some(
                "The tenant (organisation) the request acts for: ASCII letters, digits, -, _ and ., starting with a letter or digit",
            ))
            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
            .build();
        let bad_tenant = ResponseBuilder::new()
            .description("Missing or invalid X-Tenant header")
            .content(
                "application/json",
                utoipa::openapi::ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build();
        for (path, item) in doc.paths.paths.iter_mut() {
            if !path.starts_with("/v1/") {
                continue;
            }
            let operations: [&mut Option<Operation>; 4] = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
            ];
            for op in operations.into_iter().flatten() {
                op.parameters
                    .get_or_insert_with(Vec::new)
                    .insert(0, header.clone().into());
                op.responses
                    .responses
                    .entry("400".to_owned())
                    .or_insert_with(|| bad_tenant.clone().into());
            }
        }
    }
}
