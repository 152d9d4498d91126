use std::error::Error;
use std::future::Future;
use std::sync::Arc;

/// Where a [`Batcher`](super::Batcher)'s batches go: a database table, a log
/// shipper, a message broker, a file.
///
/// A sink is the user's code, on the user's runtime: the batcher only awaits
/// the future it returns, under the batcher's write timeout.
///
/// # Examples
///
/// ```
/// use std::convert::Infallible;
/// use std::sync::Mutex;
/// use steward_examples::batch::Sink;
///
/// /// Keeps what it is given (a test double).
/// #[derive(Default)]
/// struct Memory(Mutex<Vec<String>>);
///
/// impl Sink for Memory {
///     type Item = String;
///     type Error = Infallible;
///
///     async fn write(&self, batch: &[String]) -> Result<(), Infallible> {
///         self.0.lock().unwrap().extend_from_slice(batch);
///         Ok(())
///     }
/// }
/// # futures_lite::future::block_on(async {
/// let memory = Memory::default();
/// memory.write(&["a".into(), "b".into()]).await.unwrap();
/// assert_eq!(memory.0.lock().unwrap().len(), 2);
/// # });
/// ```
pub trait Sink: Send + Sync + 'static {
    /// What is batched.
    type Item: Send + Sync + 'static;
    /// Why a write failed.
    type Error: Error + Send + Sync + 'static;

    /// Writes one batch, in order, all or nothing.
    ///
    /// On an error or a timeout the batcher writes the same batch again at
    /// its next flush, before anything newer: delivery is at least once, in
    /// order. A sink that can apply half a batch should make its writes
    /// idempotent (a batch key, an upsert).
    ///
    /// # Cancel safety
    ///
    /// The batcher drops the future when the write timeout runs out, and when
    /// the flush that awaits it is dropped (its task aborted at the end of a
    /// shutdown's grace); the batch is then written again later, if there is
    /// a later.
    fn write(&self, batch: &[Self::Item]) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// A shared sink is a sink: the user keeps a handle to it (to read what it
/// holds, or to close it after the batcher is done).
impl<S: Sink> Sink for Arc<S> {
    type Item = S::Item;
    type Error = S::Error;

    fn write(&self, batch: &[Self::Item]) -> impl Future<Output = Result<(), Self::Error>> + Send {
        S::write(self, batch)
    }
}
