//! gRPC health checking (`grpc.health.v1.Health`) served from steward's
//! [`Probes`]: the readiness a load balancer or Kubernetes' `grpc` probe
//! sees, from the same state as `/readyz`.
//!
//! | service name | `SERVING` when |
//! |---|---|
//! | `""` (the whole server) | readiness passes: running, not draining, every check tagged ready passes |
//! | a readiness check's name (`"db"`), or `startup` / `shutdown` | running, not draining, and that check passes |
//! | any other name | never: `Check` answers `NOT_FOUND`; `Watch` streams `SERVICE_UNKNOWN` and stays open |
//!
//! From the moment the service's [`Shutdown`] is triggered every service
//! reads `NOT_SERVING`, and every open `Watch` stream is told at once (it
//! follows [`Probes::phase_changed`]); check results are looked at again
//! every [`HealthService::interval`]. A degraded check still serves. The
//! streams end when the scope given to [`HealthService::close_on`] is
//! triggered, so that the server's graceful stop does not wait for them.
//!
//! Unlike `tonic_health::server`, a `Watch` on an unknown service does not
//! fail with `NOT_FOUND`: the protocol says it streams `SERVICE_UNKNOWN` and
//! follows the service if it appears later (a check registered later).
//! The protobuf types are `tonic_health`'s generated [`pb`] module, so no
//! `protoc` is needed.
//!
//! # Examples
//!
//! A service on steward's tokio `App`, gRPC health on a port of its own,
//! stopped with the service's tasks:
//!
//! ```no_run
//! # // no_run: it waits for SIGTERM.
//! use std::process::ExitCode;
//! use steward_tonic::HealthService;
//!
//! fn main() -> ExitCode {
//!     steward_tokio::App::new().run(|cx| async move {
//!         let health = HealthService::new(cx.probes().clone());
//!         cx.tasks().start("grpc", move |stop| async move {
//!             let health = health.close_on(stop.clone()).into_server();
//!             tonic::transport::Server::builder()
//!                 .add_service(health)
//!                 .serve_with_shutdown(([127, 0, 0, 1], 50051).into(), stop.triggered_owned())
//!                 .await
//!         })?;
//!         Ok::<_, steward_core::StartError>(())
//!     })
//! }
//! ```

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// Where other crates' docs link to this one's items when its own pages are
// not beside theirs (rustdoc otherwise prints such a link as plain text).
#![doc(html_root_url = "https://docs.rs/steward-tonic/0.1")]

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_lite::{FutureExt as _, Stream, StreamExt as _};
use steward_core::health::{Select, Status as Health};
use steward_core::probes::{Phase, Probe, Probes};
use steward_core::Shutdown;
use tonic::{Request, Response, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_server::{Health as HealthApi, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

pub use tonic_health::pb;

/// How often an open `Watch` looks at the checks again, by default.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);

/// `grpc.health.v1.Health` from a service's [`Probes`]. See [the crate
/// docs](crate) for what each service name reads.
///
/// # Examples
///
/// ```
/// use steward_core::probes::Probes;
/// use steward_tonic::HealthService;
///
/// let rt = steward_core::testing::TestRuntime::new();
/// let probes = Probes::new(steward_core::Health::new(rt.handle()), steward_core::Shutdown::new());
/// let server = HealthService::new(probes).into_server(); // add it to a tonic Server
/// # drop(server);
/// ```
#[derive(Clone)]
pub struct HealthService {
    probes: Probes,
    close: Shutdown,
    interval: Duration,
}

impl HealthService {
    /// The health service of these probes: `Watch` streams never end by
    /// themselves, and look at the checks every [`DEFAULT_INTERVAL`].
    ///
    /// # Examples
    ///
    /// See [`HealthService`].
    #[must_use]
    pub fn new(probes: Probes) -> Self {
        Self {
            probes,
            close: Shutdown::new(),
            interval: DEFAULT_INTERVAL,
        }
    }

    /// Ends every `Watch` stream when `stop` is triggered (trigger it when
    /// the server stops: tonic's graceful stop waits for open streams).
    ///
    /// # Examples
    ///
    /// ```
    /// # let rt = steward_core::testing::TestRuntime::new();
    /// # let probes = steward_core::Probes::new(steward_core::Health::new(rt.handle()), steward_core::Shutdown::new());
    /// let stop = steward_core::Shutdown::new();
    /// let health = steward_tonic::HealthService::new(probes).close_on(stop.clone());
    /// # drop(health);
    /// ```
    #[must_use]
    pub fn close_on(mut self, stop: Shutdown) -> Self {
        self.close = stop;
        self
    }

    /// How often an open `Watch` stream looks at the checks again (phase
    /// changes are sent at once, whatever this is).
    ///
    /// # Examples
    ///
    /// ```
    /// # let rt = steward_core::testing::TestRuntime::new();
    /// # let probes = steward_core::Probes::new(steward_core::Health::new(rt.handle()), steward_core::Shutdown::new());
    /// use std::time::Duration;
    /// let health = steward_tonic::HealthService::new(probes).interval(Duration::from_millis(250));
    /// assert_eq!(health.watch_interval(), Duration::from_millis(250));
    /// ```
    #[must_use]
    pub fn interval(mut self, every: Duration) -> Self {
        self.interval = every;
        self
    }

    /// The interval set with [`HealthService::interval`].
    ///
    /// # Examples
    ///
    /// See [`HealthService::interval`].
    #[must_use]
    pub fn watch_interval(&self) -> Duration {
        self.interval
    }

    /// The tonic service to add to a `tonic::transport::Server`.
    ///
    /// # Examples
    ///
    /// See [`HealthService`].
    #[must_use]
    pub fn into_server(self) -> HealthServer<Self> {
        HealthServer::new(self)
    }

    /// The status of `service` now; `None` when no such service is known.
    ///
    /// Dropping the future midway loses nothing: it only reads the probes.
    async fn status(&self, service: &str) -> Option<ServingStatus> {
        let probes = &self.probes;
        if !service.is_empty() && !probes.has_check(Probe::Ready, service) {
            return None;
        }
        let phase = probes.phase();
        let select = if service.is_empty() {
            Select::all()
        } else {
            Select::all().only(service)
        };
        let report = probes.report(Probe::Ready, &select).await;
        // Read again after the checks: a trigger during them counts.
        let serving = phase == Phase::Running
            && probes.phase() == Phase::Running
            && report.status() != Health::Unhealthy;
        Some(if serving {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        })
    }
}

fn response(status: ServingStatus) -> HealthCheckResponse {
    HealthCheckResponse {
        status: status as i32,
    }
}

#[tonic::async_trait]
impl HealthApi for HealthService {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        let service = request.into_inner().service;
        match self.status(&service).await {
            Some(status) => Ok(Response::new(response(status))),
            None => Err(Status::not_found(format!("unknown service {service:?}"))),
        }
    }

    type WatchStream = WatchStream;

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<WatchStream>, Status> {
        let service = request.into_inner().service;
        Ok(Response::new(WatchStream::new(self.clone(), service)))
    }
}

/// The stream of a `Watch` call: the service's status now, then each change,
/// until the scope given to [`HealthService::close_on`] is triggered.
///
/// # Examples
///
/// ```
/// use futures_lite::StreamExt as _;
/// use steward_tonic::pb::health_check_response::ServingStatus;
/// use steward_tonic::WatchStream;
///
/// let rt = steward_core::testing::TestRuntime::new();
/// let shutdown = steward_core::Shutdown::new();
/// let probes = steward_core::Probes::new(steward_core::Health::new(rt.handle()), shutdown.clone());
/// let health = steward_tonic::HealthService::new(probes.clone());
/// let mut watch = WatchStream::new(health, String::new());
/// let next = |w: &mut WatchStream| rt.block_on(w.next()).unwrap().unwrap().status;
///
/// assert_eq!(next(&mut watch), ServingStatus::NotServing as i32);
/// probes.set_running();
/// assert_eq!(next(&mut watch), ServingStatus::Serving as i32);
/// shutdown.trigger(steward_core::Reason::Requested);
/// assert_eq!(next(&mut watch), ServingStatus::NotServing as i32);
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct WatchStream {
    // Boxed: the stream tonic stores must be named, and this one holds
    // `async` blocks.
    inner: Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, Status>> + Send>>,
    service: String,
}

impl WatchStream {
    /// Watches `service` (`""` for the whole server) on `health`.
    ///
    /// # Examples
    ///
    /// See [`WatchStream`].
    pub fn new(health: HealthService, service: String) -> Self {
        let state = (health, service.clone(), None::<ServingStatus>);
        let inner = futures_lite::stream::unfold(state, |(health, service, last)| async move {
            let close = health.close.clone();
            let next = async {
                loop {
                    let phase = health.probes.phase();
                    let now = health
                        .status(&service)
                        .await
                        .unwrap_or(ServingStatus::ServiceUnknown);
                    if last != Some(now) {
                        return Some(now);
                    }
                    let rt = health.probes.health().runtime().clone();
                    let changed = async {
                        health.probes.phase_changed(phase).await;
                    };
                    changed.or(rt.sleep(health.interval)).await;
                }
            };
            let now = close.run_until_triggered(next).await.flatten()?;
            Some((Ok(response(now)), (health, service, Some(now))))
        });
        Self {
            inner: Box::pin(inner),
            service,
        }
    }
}

impl Stream for WatchStream {
    type Item = Result<HealthCheckResponse, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next(cx)
    }
}

impl fmt::Debug for WatchStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchStream")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for HealthService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthService")
            .field("probes", &self.probes)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_service_is_send_and_sync_and_its_stream_send() {
        fn assert_send_sync<T: Send + Sync>() {}
        fn assert_send<T: Send>() {}
        assert_send_sync::<super::HealthService>();
        // Not Sync: tonic asks a response stream to be Send only.
        assert_send::<super::WatchStream>();
    }
}
