//! # Serving your own server
//!
//! A service that accepts connections (TCP, HTTP with hyper or axum, a
//! long-lived stream such as server-sent events or a WebSocket) must, on
//! SIGTERM: go on serving while the load balancers take it out of rotation
//! (the pre-stop delay), then stop accepting, let the requests in flight
//! finish, tell long-lived streams to end, and be gone within the grace.
//! With steward this is a matter of which stop signal each piece watches.
//!
//! ## Which signal to watch
//!
//! | signal | fires | watch it to |
//! |---|---|---|
//! | the service's [`Shutdown`](crate::Shutdown) (`cx.shutdown()`) | at the trigger (the first SIGTERM) | nothing connection-related: readiness already fails by itself at this moment |
//! | a task's own `stop` (the argument of [`Tasks::start`](crate::Tasks::start)'s closure) | after the pre-stop delay, when the tasks are stopped | stop accepting, and end each connection after the request in hand |
//! | the grace's deadline | grace minus the teardown reserve, after the trigger | nothing: a task still running then is dropped (aborted) and reported |
//!
//! So: run the accept loop as a named task of [`Tasks`](crate::Tasks);
//! race each `accept` against the task's `stop`; run each connection as an
//! unnamed task ([`Tasks::spawn`](crate::Tasks::spawn)) that holds a clone
//! of the same `stop`. During the pre-stop delay `stop` has not fired:
//! connections are still accepted and served while `/readyz` answers 503.
//! Once it fires, the loop returns (dropping the listener: new connections
//! are refused), each connection finishes the request in hand, and a
//! long-lived stream sends its last event and ends. The tasks' shutdown
//! waits for all of them, unnamed ones included, up to the deadline.
//!
//! ## In the report
//!
//! A connection that ended in time is not listed (there may be thousands).
//! One still running at the deadline is dropped (its destructors run,
//! closing the socket) and listed as aborted, under the place that spawned
//! it (`task at src/http.rs:42:13: aborted`); the exit code is then 1. The
//! accept loop is listed by its name, as every named task is. A connection
//! that panics or returns an error is logged at once and counted in the
//! report's [`unnamed_failures`](crate::Report::unnamed_failures).
//!
//! ## An accept loop, its connections and a long-lived stream
//!
//! Runnable here on the virtual-time runtime, with an in-memory listener
//! (connections arrive on a channel; a service's is a `TcpListener`): a
//! stream that sends one event a second to each client. A client connects
//! 2.2 s into the 5.5 s pre-stop delay, and is still served.
//!
//! ```
//! # #[cfg(feature = "test-util")] {
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//! use steward_core::{App, Reason, StartError};
//!
//! let rt = steward_core::testing::TestRuntime::new();
//! let (connect, listener) = async_channel::unbounded::<&'static str>();
//! let sent = Arc::new(Mutex::new(Vec::new())); // what each client received
//!
//! let (log, clock) = (sent.clone(), rt.handle());
//! let app = App::new().grace(Duration::from_secs(10)).pre_stop(Duration::from_millis(5500));
//! let report = rt.block_on(app.serve(rt.handle(), move |cx| async move {
//!     let tasks = cx.tasks().clone();
//!     cx.tasks().start("listener", move |stop| async move {
//!         // Accept until this task is stopped: after the pre-stop delay.
//!         while let Some(Ok(client)) = stop.run_until_triggered(listener.recv()).await {
//!             let (stop, log, clock) = (stop.clone(), log.clone(), clock.clone());
//!             // One connection, as an unnamed task that holds the same stop.
//!             tasks.spawn(async move {
//!                 let mut events = 0;
//!                 // A long-lived stream: an event a second until stopped.
//!                 loop {
//!                     let tick = clock.sleep(Duration::from_secs(1));
//!                     if stop.run_until_triggered(tick).await.is_none() {
//!                         break;
//!                     }
//!                     events += 1; // write the event to the client
//!                 }
//!                 // Stopped: a last event ("retry later"), then the close.
//!                 log.lock().unwrap().push((client, events));
//!             })?;
//!         }
//!         Ok::<_, StartError>(()) // returning drops the listener
//!     })?;
//!
//!     // The rest of this body plays the world: SIGTERM now, and a client
//!     // that connects 2.2 s into the pre-stop delay.
//!     let (rt, world) = (cx.runtime().clone(), connect.clone());
//!     cx.runtime().spawn(async move {
//!         rt.sleep(Duration::from_millis(2200)).await;
//!         world.send("late client").await.unwrap();
//!     });
//!     connect.send("early client").await.unwrap();
//!     cx.shutdown().trigger(Reason::Signal(15));
//!     Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//! }));
//!
//! // Both served until the end of the pre-stop delay, then ended in time.
//! let mut sent = sent.lock().unwrap().clone();
//! sent.sort();
//! assert_eq!(sent, [("early client", 5), ("late client", 3)]);
//! assert_eq!(report.exit_code(), 0, "{report}");
//! assert_eq!(report.took(), Duration::from_millis(5500)); // the pre-stop delay, then at once
//! # }
//! ```
//!
//! ## With hyper, axum, a TCP listener
//!
//! The same shape on a runtime (here the names of `steward-tokio`; on smol,
//! `smol::net::TcpListener` and `steward_smol::App`):
//!
//! ```text
//! cx.tasks().start("http", move |stop| async move {
//!     let listener = tokio::net::TcpListener::bind(addr).await?;
//!     // axum: its graceful shutdown begins when this task is stopped.
//!     axum::serve(listener, router).with_graceful_shutdown(stop.triggered_owned()).await
//! })?;
//! ```
//!
//! With hyper's own connection API, each connection is a task holding the
//! stop; on it, `graceful_shutdown` lets the request in flight finish and
//! closes a keep-alive connection:
//!
//! ```text
//! while let Some(Ok((io, _peer))) = stop.run_until_triggered(listener.accept()).await {
//!     let stop = stop.clone();
//!     tasks.spawn(async move {
//!         let conn = http1::Builder::new().serve_connection(TokioIo::new(io), service);
//!         let mut conn = std::pin::pin!(conn);
//!         if stop.run_until_triggered(conn.as_mut()).await.is_none() {
//!             conn.as_mut().graceful_shutdown();
//!             conn.await
//!         } else { Ok(()) }
//!     })?;
//! }
//! ```
//!
//! The probe endpoints themselves need none of this: `App::probe_addr`
//! serves them on their own listener, which keeps answering (503 on
//! `/readyz`) until the service has drained. To serve them from your own
//! router instead, mount `steward_tokio::axum::router`, or hyper's
//! `steward_hyper::ProbeService`.
