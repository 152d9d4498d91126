//! The probe endpoints as an [`axum::Router`], to merge into an axum app
//! (feature `axum`), and [`serve`]: that app served with the probe
//! server's limits.
//!
//! # What your own server cannot enforce
//!
//! Mounted on a server of your own (`axum::serve`, hyper-util's builder),
//! the probe routes answer the same, but the listener's limits are that
//! server's, and `axum::serve` has none of them: no header-read timeout, no
//! limit of connections or of a head's size, no write timeout. Slow clients,
//! a flood or clients that never read their answers then hold the probes away
//! from the kubelet, which restarts a healthy pod. [`serve`] runs the same
//! router on [`steward_hyper::Server`], with its limits and its eviction of
//! idle connections when the table is full (see its docs, *Under pressure*).

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::Request;
use axum::routing::any;
use axum::Router;
use hyper::body::Incoming;
use hyper::service::Service;
use steward_core::http::Endpoints;
use steward_hyper::{ProbeService, Serve};

use crate::ProbeServer;

/// The probe paths.
const PATHS: [&str; 10] = [
    "/livez",
    "/livez/{name}",
    "/readyz",
    "/readyz/{name}",
    "/startupz",
    "/startupz/{name}",
    "/healthz",
    "/healthz/{name}",
    "/health",
    "/metrics",
];

/// A router answering the probe paths exactly as the probe server does
/// (every method reaches the endpoints, so a `POST` gets their 405 with
/// `Allow: GET, HEAD`); merge it into an app with [`Router::merge`].
///
/// The listener limits (header-read timeout, connections) are then the
/// app's server's to set: serve the app with [`serve`] to get the probe
/// server's (see the [module docs](self) for what is lost otherwise).
///
/// # Examples
///
/// ```
/// use axum::body::Body;
/// use axum::http::Request;
/// use steward_core::health::Health;
/// use steward_core::http::Endpoints;
/// use steward_core::probes::Probes;
/// use tower::ServiceExt;
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() {
///     let rt = steward_tokio::TokioRuntime::current().handle();
///     let probes = Probes::new(Health::new(rt), steward_core::Shutdown::new());
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

/// Serves `app` (a router with the probe routes merged in, see [`router`])
/// on the probe server's listener, with all of [`steward_hyper::Server`]'s
/// limits and its graceful close, as [`ProbeServer::run`] serves the probe
/// endpoints alone.
///
/// # Cancel safety
///
/// As [`ProbeServer::run`]: dropping it stops accepting.
///
/// # Examples
///
/// ```
/// use steward_core::health::Health;
/// use steward_core::http::Endpoints;
/// use steward_core::probes::Probes;
/// use steward_core::{Reason, Shutdown};
/// use steward_hyper::Server;
/// use steward_tokio::ProbeServer;
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> std::io::Result<()> {
///     let rt = steward_tokio::TokioRuntime::current().handle();
///     let shutdown = Shutdown::new();
///     let probes = Probes::new(Health::new(rt), shutdown.clone());
///     probes.set_running();
///     let app: axum::Router = axum::Router::new()
///         .route("/", axum::routing::get(|| async { "hello" }))
///         .merge(steward_tokio::axum::router(Endpoints::new(probes.clone())));
///     let server = Server::new(Endpoints::new(probes)).close_on(shutdown.clone());
///     let server = ProbeServer::bind("127.0.0.1:0", server)?;
///     let addr = server.local_addr()?;
///     let serving = tokio::spawn(steward_tokio::axum::serve(server, app));
///
///     let mut stream = tokio::net::TcpStream::connect(addr).await?;
///     use tokio::io::{AsyncReadExt, AsyncWriteExt};
///     stream.write_all(b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await?;
///     let mut answer = String::new();
///     stream.read_to_string(&mut answer).await?;
///     assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
///
///     shutdown.trigger(Reason::Requested); // drained at once: no guard
///     serving.await.unwrap();
///     Ok(())
/// }
/// ```
pub fn serve(server: ProbeServer, app: Router) -> Serve {
    let (server, listener) = server.into_parts();
    server.serve_with(listener, RouterService(app))
}

/// An axum router as a hyper service.
#[derive(Clone)]
struct RouterService(Router);

impl Service<hyper::Request<Incoming>> for RouterService {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = axum::routing::future::RouteFuture<Infallible>;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        // A router is always ready (its `poll_ready` is `Ready` at once),
        // and a clone of it is an `Arc`'s.
        tower_service::Service::call(&mut self.0.clone(), request.map(Body::new))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{Method, StatusCode};
    use steward_core::health::{Check, CheckOutcome, Health};
    use steward_core::probes::Probes;
    use tower::ServiceExt;

    async fn send(
        app: &Router,
        method: Method,
        uri: &str,
    ) -> (StatusCode, axum::http::HeaderMap, String) {
        let request = axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        (
            parts.status,
            parts.headers,
            String::from_utf8(bytes.to_vec()).unwrap(),
        )
    }

    #[tokio::test]
    async fn the_router_answers_as_the_probe_server() {
        let rt = crate::TokioRuntime::current().handle();
        let health = Health::new(rt);
        let down = || async { CheckOutcome::unhealthy("refused") };
        health
            .register(
                Check::new("db", down)
                    .ready()
                    .inline(std::time::Duration::ZERO),
            )
            .unwrap();
        let probes = Probes::new(health, steward_core::Shutdown::new());
        probes.set_running();
        let app: Router = Router::new()
            .route("/", axum::routing::get(|| async { "app" }))
            .merge(router(Endpoints::new(probes.clone())));

        let (status, headers, body) = send(&app, Method::GET, "/livez").await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));
        assert_eq!(headers["x-content-type-options"], "nosniff");

        let (status, _, body) = send(&app, Method::GET, "/readyz?verbose").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            body,
            "[+]startup ok\n[+]shutdown ok\n[-]db failed: reason withheld\nreadyz check failed\n"
        );

        let (status, headers, _) = send(&app, Method::POST, "/readyz/db").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(headers["allow"], "GET, HEAD");
        assert_eq!(headers["cache-control"], "no-store");

        let (status, _, body) = send(&app, Method::GET, "/readyz/nope").await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::NOT_FOUND, "no such check\n")
        );

        let (status, headers, body) = send(&app, Method::GET, "/health").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(headers["content-type"], "application/health+json");
        assert!(body.contains("\"db:responseTime\""), "{body}");

        let (status, _, body) = send(&app, Method::GET, "/").await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "app"));

        // `/metrics`: 404 without a render function, its text with one.
        let (status, _, _) = send(&app, Method::GET, "/metrics").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let with_metrics: Router =
            router(Endpoints::new(probes).metrics(|| "steward_up 1\n".to_owned()));
        let (status, _, body) = send(&with_metrics, Method::GET, "/metrics").await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "steward_up 1\n"));
    }
}
