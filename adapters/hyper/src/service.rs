use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderName, HeaderValue, ACCEPT, CONTENT_LENGTH, TRANSFER_ENCODING};
use hyper::{HeaderMap, StatusCode};
use steward_core::http::{Endpoints, Request, Respond};

/// The probe endpoints as a hyper 1 [`Service`](hyper::service::Service).
///
/// Serve it on any connection with hyper's `http1::Builder`, or let
/// [`Server`](crate::Server) do it with the listener limits on. It answers
/// every request itself (404, 405 and 400 included), exactly as
/// [`Endpoints::respond`] does.
///
/// # Examples
///
/// ```
/// use http_body_util::{BodyExt, Empty};
/// use hyper::service::Service;
/// use steward_core::health::Health;
/// use steward_core::http::Endpoints;
/// use steward_core::probes::Probes;
/// use steward_hyper::ProbeService;
///
/// let rt = steward_core::testing::TestRuntime::new();
/// let probes = Probes::new(Health::new(rt.handle()), steward_core::Shutdown::new());
/// let service = ProbeService::new(Endpoints::new(probes));
///
/// let request = hyper::Request::get("/livez").body(Empty::<bytes::Bytes>::new()).unwrap();
/// let response = rt.block_on(service.call(request)).unwrap();
/// assert_eq!(response.status(), 200);
/// let body = rt.block_on(response.into_body().collect()).unwrap().to_bytes();
/// assert_eq!(body, "ok");
/// ```
#[derive(Clone)]
pub struct ProbeService {
    endpoints: Endpoints,
}

impl ProbeService {
    /// The service of `endpoints`.
    ///
    /// # Examples
    ///
    /// See [`ProbeService`].
    #[must_use]
    pub fn new(endpoints: Endpoints) -> Self {
        Self { endpoints }
    }

    /// The endpoints served.
    ///
    /// # Examples
    ///
    /// ```
    /// # let rt = steward_core::testing::TestRuntime::new();
    /// # let probes = steward_core::probes::Probes::new(steward_core::health::Health::new(rt.handle()), steward_core::Shutdown::new());
    /// let service = steward_hyper::ProbeService::new(steward_core::http::Endpoints::new(probes.clone()));
    /// assert!(service.endpoints().probes().health().ptr_eq(probes.health()));
    /// ```
    #[must_use]
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }
}

impl<B> hyper::service::Service<hyper::Request<B>> for ProbeService {
    type Response = hyper::Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn call(&self, request: hyper::Request<B>) -> ResponseFuture {
        let uri = request.uri();
        let target = uri
            .path_and_query()
            .map_or_else(|| uri.path(), |pq| pq.as_str());
        let accept = joined(request.headers(), &ACCEPT);
        let probe = Request::new(request.method().as_str(), target)
            .accept(accept.as_deref())
            .with_body(has_body(request.headers()));
        ResponseFuture {
            respond: self.endpoints.respond(&probe),
        }
    }
}

impl fmt::Debug for ProbeService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProbeService")
            .field("endpoints", &self.endpoints)
            .finish()
    }
}

/// Every value of a header, comma-joined (as HTTP allows for list headers).
fn joined(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

/// Whether the request announces a body: a `Transfer-Encoding`, or a
/// `Content-Length` other than zero.
fn has_body(headers: &HeaderMap) -> bool {
    headers.contains_key(TRANSFER_ENCODING)
        || headers
            .get_all(CONTENT_LENGTH)
            .iter()
            .any(|v| v.as_bytes() != b"0")
}

/// Converts a core response into a hyper one.
fn to_hyper(response: steward_core::http::Response) -> hyper::Response<Full<Bytes>> {
    let (status, headers, body) = response.into_parts();
    let mut out = hyper::Response::new(Full::new(Bytes::from(body)));
    *out.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in headers {
        // Core's header names are static lower-case tokens and its values
        // plain ASCII; a value that is not is dropped, never sent broken.
        if let Ok(value) = HeaderValue::from_str(&value) {
            out.headers_mut()
                .append(HeaderName::from_static(name), value);
        }
    }
    out
}

/// Future returned by [`ProbeService`]'s `call`.
#[must_use = "futures do nothing unless you .await or poll them"]
pub struct ResponseFuture {
    respond: Respond,
}

impl Future for ResponseFuture {
    type Output = Result<hyper::Response<Full<Bytes>>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let response = ready!(Pin::new(&mut self.respond).poll(cx));
        Poll::Ready(Ok(to_hyper(response)))
    }
}

impl fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
