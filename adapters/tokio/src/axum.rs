//! The probe endpoints as an [`axum::Router`], to merge into an axum app
//! (feature `axum`).

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::Request;
use axum::routing::any;
use axum::Router;
use hyper::service::Service;
use steward::http::Endpoints;
use steward_hyper::ProbeService;

/// The probe paths.
const PATHS: [&str; 9] = [
    "/livez",
    "/livez/{name}",
    "/readyz",
    "/readyz/{name}",
    "/startupz",
    "/startupz/{name}",
    "/healthz",
    "/healthz/{name}",
    "/health",
];

/// A router answering the probe paths exactly as the probe server does
/// (every method reaches the endpoints, so a `POST` gets their 405 with
/// `Allow: GET, HEAD`); merge it into an app with [`Router::merge`].
///
/// The listener limits (header-read timeout, connections) are then the
/// app's server's to set.
///
/// # Examples
///
/// ```
/// use axum::body::Body;
/// use axum::http::Request;
/// use steward::health::Health;
/// use steward::http::Endpoints;
/// use steward::probes::Probes;
/// use tower::ServiceExt;
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() {
///     let rt = steward_tokio::TokioRuntime::current().handle();
///     let probes = Probes::new(Health::new(rt), steward::Shutdown::new());
///     probes.set_running();
///     let app: axum::Router = axum::Router::new()
///         .route("/", axum::routing::get(|| async { "hello" }))
///         .merge(steward_tokio::axum::router(Endpoints::new(probes)));
///
///     let request = Request::get("/readyz").body(Body::empty()).unwrap();
///     let response = app.oneshot(request).await.unwrap();
///     assert_eq!(response.status(), 200);
///     assert_eq!(response.headers()["cache-control"], "no-store");
/// }
/// ```
pub fn router<S>(endpoints: Endpoints) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let service = ProbeService::new(endpoints);
    let handler = move |request: Request| {
        let answer = service.call(request);
        async move {
            let response: Result<_, Infallible> = answer.await;
            match response {
                Ok(response) => response.map(Body::new),
                Err(never) => match never {},
            }
        }
    };
    PATHS.iter().fold(Router::new(), |router, path| {
        router.route(path, any(handler.clone()))
    })
}
