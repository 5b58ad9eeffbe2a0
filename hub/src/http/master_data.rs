//! The channel endpoints the retailer's ERP, PIM and stock systems feed: stores, the
//! catalogue, a store's own prices and its stock (contract in DESIGN.md; checks and
//! writes in [`crate::master_data`]).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use omnikiosk_protocol::catalogue::{ImportReport, CatalogueProduct, ProductPut, ProductWritten, StockAdjust, StockAdjusted, StockPut, StorePricePut, StorePut};
use omnikiosk_protocol::wire::{ApiError, StockRecord, StoreRecord};

use super::{body, channel_auth, on_hub, ApiFailure, ApiResult, AppState, Body};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::feeds::Encoding;
use crate::import::ImportOptions;
use crate::HubError;

/// The master-data routes, merged into the hub's router.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/stores", get(list_stores))
        .route("/v1/stores/{id}", put(put_store).get(get_store))
        .route("/v1/stores/{id}/prices/{sku}", put(put_store_price))
        .route("/v1/price-lists/{list}/prices/{sku}", put(put_list_price))
        .route("/v1/stores/{id}/stock/{sku}", put(put_stock))
        .route("/v1/stores/{id}/stock/{sku}/adjustments", post(adjust_stock))
        .route("/v1/products/{sku}", put(put_product).get(get_product).delete(withdraw_product))
        .route("/v1/imports/products", post(import_products))
        .route("/v1/imports/inventory", post(import_inventory))
}

/// How a bulk upload runs: the command line's `import` flags.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ImportParams {
    /// Say what would change; change nothing.
    #[serde(default)]
    dry_run: bool,
    /// Products only: withdraw the catalogue's products the feed does not name.
    #[serde(default)]
    prune: bool,
    /// Apply nothing when any row is bad.
    #[serde(default)]
    all_or_nothing: bool,
    /// `utf-8` (default) or `windows-1250`.
    #[param(pattern = "^(utf-8|windows-1250)$")]
    encoding: Option<String>,
}

impl ImportParams {
    fn options(&self) -> Result<ImportOptions, ApiFailure> {
        let encoding = match &self.encoding {
            None => Encoding::default(),
            Some(e) => e.parse().map_err(|e: String| HubError::BadRequest(e))?,
        };
        Ok(ImportOptions { dry_run: self.dry_run, prune: self.prune, all_or_nothing: self.all_or_nothing, encoding })
    }
}

/// The request body as a blocking reader for the importer, streamed: a feed of any size
/// is read a buffer at a time.
fn streamed(body: axum::body::Body) -> impl std::io::Read + Send + 'static {
    use futures_util::TryStreamExt;
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream))
}

#[utoipa::path(
    post, path = "/v1/imports/products", tag = "master data", security(("channel_token" = [])), params(ImportParams),
    request_body(content = String, content_type = "text/tab-separated-values", description = "A Google Merchant Center product data file, TSV or CSV"),
    responses((status = 200, description = "What the import did (or would do), and each row not applied with its line, column and why", body = ImportReport))
)]
async fn import_products(s: State<AppState>, headers: HeaderMap, params: Result<Query<ImportParams>, QueryRejection>, body: axum::body::Body) -> ApiResult<ImportReport> {
    upload(s, headers, params, body, Feed::Products).await
}

#[utoipa::path(
    post, path = "/v1/imports/inventory", tag = "master data", security(("channel_token" = [])), params(ImportParams),
    request_body(content = String, content_type = "text/tab-separated-values", description = "A Google local inventory file (store_code, id, quantity, price, …, aisle), TSV or CSV"),
    responses((status = 200, description = "What the import did (or would do), and each row not applied with its line, column and why", body = ImportReport))
)]
async fn import_inventory(s: State<AppState>, headers: HeaderMap, params: Result<Query<ImportParams>, QueryRejection>, body: axum::body::Body) -> ApiResult<ImportReport> {
    upload(s, headers, params, body, Feed::Inventory).await
}

/// Which of Google's two feeds an upload is.
enum Feed {
    Products,
    Inventory,
}

/// A bulk upload: the body streamed into the importer, as `omnikiosk-hub import` reads a file.
async fn upload(
    State(s): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<ImportParams>, QueryRejection>,
    body: axum::body::Body,
    feed: Feed,
) -> ApiResult<ImportReport> {
    channel_auth(&s, &headers).await?;
    let Query(p) = params.map_err(|e| HubError::BadRequest(format!("bad query: {}", e.body_text())))?;
    let (opts, input) = (p.options()?, streamed(body));
    Ok(Json(
        on_hub(&s, move |hub| match feed {
            Feed::Products => hub.import_products(input, opts),
            Feed::Inventory => hub.import_inventory(input, opts),
        })
        .await?,
    ))
}

/// A catalogue write of `sku` on the hub, answered with what it did.
async fn product_written(
    s: &AppState,
    sku: String,
    write: impl FnOnce(&crate::Hub, &str) -> Result<crate::store::catalogue::Outcome, HubError> + Send + 'static,
) -> ApiResult<ProductWritten> {
    let key = sku.clone();
    let outcome = on_hub(s, move |hub| write(hub, &key)).await?;
    Ok(Json(ProductWritten { sku, outcome }))
}

/// A store id from the path: 1 to 2147483647, else 400.
pub(super) fn store_id(raw: &str) -> Result<i64, ApiFailure> {
    match raw.parse::<i64>() {
        Ok(id) if (1..=i64::from(i32::MAX)).contains(&id) => Ok(id),
        _ => Err(HubError::BadRequest(format!("store id must be a number from 1 to {}, not {raw:?}", i32::MAX)).into()),
    }
}

#[utoipa::path(
    get, path = "/v1/stores", tag = "master data", security(("channel_token" = [])),
    responses((status = 200, description = "Every store of the chain, by id", body = Vec<StoreRecord>))
)]
async fn list_stores(State(s): State<AppState>, headers: HeaderMap) -> ApiResult<Vec<StoreRecord>> {
    channel_auth(&s, &headers).await?;
    Ok(Json(on_hub(&s, |hub| hub.stores()).await?))
}

#[utoipa::path(
    put, path = "/v1/stores/{id}", tag = "master data", security(("channel_token" = [])),
    params(("id" = i64, Path, minimum = 1, maximum = 2147483647, description = "The hub's store id")),
    request_body = StorePut,
    responses(
        (status = 200, description = "The store as it now stands; its devices learn of it at their next pull", body = StoreRecord),
        (status = 409, description = "Another store has this code (`conflict`)", body = ApiError),
    )
)]
async fn put_store(State(s): State<AppState>, headers: HeaderMap, Path(id): Path<String>, b: Body<StorePut>) -> ApiResult<StoreRecord> {
    channel_auth(&s, &headers).await?;
    let (id, b) = (store_id(&id)?, body(b)?);
    Ok(Json(on_hub(&s, move |hub| hub.put_store(id, &b)).await?.0))
}

#[utoipa::path(
    get, path = "/v1/stores/{id}", tag = "master data", security(("channel_token" = [])),
    params(("id" = i64, Path, minimum = 1, maximum = 2147483647, description = "The hub's store id")),
    responses(
        (status = 200, description = "The store", body = StoreRecord),
        (status = 404, description = "No such store (`not_found`)", body = ApiError),
    )
)]
async fn get_store(State(s): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> ApiResult<StoreRecord> {
    channel_auth(&s, &headers).await?;
    let id = store_id(&id)?;
    let store = on_hub(&s, move |hub| hub.store(id)).await?;
    Ok(Json(store.ok_or_else(|| HubError::NotFound(format!("store {id} does not exist")))?))
}

#[utoipa::path(
    put, path = "/v1/products/{sku}", tag = "master data", security(("channel_token" = [])),
    params(("sku" = String, Path, pattern = "^[A-Za-z0-9._-]{1,64}$", description = "The retailer's product id")),
    request_body = ProductPut,
    responses(
        (status = 200, description = "What the write did; every store's devices get the product as that store sells it", body = ProductWritten),
        (status = 409, description = "A GTIN belongs to another product (`conflict`)", body = ApiError),
    )
)]
async fn put_product(State(s): State<AppState>, headers: HeaderMap, Path(sku): Path<String>, b: Body<ProductPut>) -> ApiResult<ProductWritten> {
    channel_auth(&s, &headers).await?;
    let b = body(b)?;
    product_written(&s, sku, move |hub, sku| hub.put_product(sku, &b)).await
}

#[utoipa::path(
    get, path = "/v1/products/{sku}", tag = "master data", security(("channel_token" = [])),
    params(("sku" = String, Path, pattern = "^[A-Za-z0-9._-]{1,64}$", description = "The retailer's product id")),
    responses(
        (status = 200, description = "The catalogue entry", body = CatalogueProduct),
        (status = 404, description = "Not in the catalogue (`not_found`)", body = ApiError),
    )
)]
async fn get_product(State(s): State<AppState>, headers: HeaderMap, Path(sku): Path<String>) -> ApiResult<CatalogueProduct> {
    channel_auth(&s, &headers).await?;
    Ok(Json(on_hub(&s, move |hub| hub.product(&sku)).await?))
}

#[utoipa::path(
    delete, path = "/v1/products/{sku}", tag = "master data", security(("channel_token" = [])),
    params(("sku" = String, Path, pattern = "^[A-Za-z0-9._-]{1,64}$", description = "The retailer's product id")),
    responses(
        (status = 200, description = "Withdrawn (or already was): no till sells it from its next pull; past receipts keep it", body = ProductWritten),
        (status = 404, description = "Not in the catalogue (`not_found`)", body = ApiError),
    )
)]
async fn withdraw_product(State(s): State<AppState>, headers: HeaderMap, Path(sku): Path<String>) -> ApiResult<ProductWritten> {
    channel_auth(&s, &headers).await?;
    product_written(&s, sku, |hub, sku| hub.withdraw_product(sku)).await
}

#[utoipa::path(
    put, path = "/v1/stores/{id}/prices/{sku}", tag = "master data", security(("channel_token" = [])),
    params(
        ("id" = i64, Path, minimum = 1, maximum = 2147483647, description = "The hub's store id"),
        ("sku" = String, Path, pattern = "^[A-Za-z0-9._-]{1,64}$", description = "The retailer's product id"),
    ),
    request_body = StorePricePut,
    responses(
        (status = 200, description = "What the write did; the store's devices get the new price", body = ProductWritten),
        (status = 404, description = "No such store, or the product is not in the catalogue (`not_found`)", body = ApiError),
    )
)]
async fn put_store_price(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((id, sku)): Path<(String, String)>,
    b: Body<StorePricePut>,
) -> ApiResult<ProductWritten> {
    channel_auth(&s, &headers).await?;
    let (id, b) = (store_id(&id)?, body(b)?);
    product_written(&s, sku, move |hub, sku| hub.put_store_price(id, sku, &b)).await
}

#[utoipa::path(
    put, path = "/v1/price-lists/{list}/prices/{sku}", tag = "master data", security(("channel_token" = [])),
    params(
        ("list" = String, Path, pattern = "^[A-Za-z0-9._-]{1,64}$", description = "The price list, as stores name it (`price_list`)"),
        ("sku" = String, Path, pattern = "^[A-Za-z0-9._-]{1,64}$", description = "The retailer's product id"),
    ),
    request_body = StorePricePut,
    responses(
        (status = 200, description = "What the write did; the list's stores in that currency without their own price get it", body = ProductWritten),
        (status = 404, description = "The product is not in the catalogue (`not_found`)", body = ApiError),
    )
)]
async fn put_list_price(State(s): State<AppState>, headers: HeaderMap, Path((list, sku)): Path<(String, String)>, b: Body<StorePricePut>) -> ApiResult<ProductWritten> {
    channel_auth(&s, &headers).await?;
    let b = body(b)?;
    product_written(&s, sku, move |hub, sku| hub.put_list_price(&list, sku, &b)).await
}

#[utoipa::path(
    put, path = "/v1/stores/{id}/stock/{sku}", tag = "master data", security(("channel_token" = [])),
    params(
        ("id" = i64, Path, minimum = 1, maximum = 2147483647, description = "The hub's store id"),
        ("sku" = String, Path, pattern = "^[A-Za-z0-9._-]{1,64}$", description = "The retailer's product id"),
    ),
    request_body = StockPut,
    responses(
        (status = 200, description = "The stock as it now stands", body = StockRecord),
        (status = 404, description = "No such store or product (`not_found`)", body = ApiError),
    )
)]
async fn put_stock(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((id, sku)): Path<(String, String)>,
    b: Body<StockPut>,
) -> ApiResult<StockRecord> {
    channel_auth(&s, &headers).await?;
    let (id, b) = (store_id(&id)?, body(b)?);
    Ok(Json(on_hub(&s, move |hub| hub.put_stock(id, &sku, &b)).await?))
}

#[utoipa::path(
    post, path = "/v1/stores/{id}/stock/{sku}/adjustments", tag = "master data", security(("channel_token" = [])),
    params(
        ("id" = i64, Path, minimum = 1, maximum = 2147483647, description = "The hub's store id"),
        ("sku" = String, Path, pattern = "^[A-Za-z0-9._-]{1,64}$", description = "The retailer's product id"),
    ),
    request_body = StockAdjust,
    responses(
        (status = 200, description = "The stock as it now stands; `counted` is false for a key counted before", body = StockAdjusted),
        (status = 404, description = "No such store or product (`not_found`)", body = ApiError),
        (status = 409, description = "The key was used for another adjustment (`conflict`)", body = ApiError),
    )
)]
async fn adjust_stock(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((id, sku)): Path<(String, String)>,
    b: Body<StockAdjust>,
) -> ApiResult<StockAdjusted> {
    channel_auth(&s, &headers).await?;
    let (id, b) = (store_id(&id)?, body(b)?);
    let (stock, counted) = on_hub(&s, move |hub| hub.adjust_stock(id, &sku, &b)).await?;
    Ok(Json(StockAdjusted { stock, counted }))
}
