//! The port through which the bench starts what it measures: the emulator, in this process.
//! The `conveyor` binary implements it with `conveyor up`'s own start, so the bench times the
//! code users run, while this crate stays below the emulator (the binary links the bench, the
//! bench does not link the binary).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use conveyor_embedded::consumer::ConsumerSettings;
use conveyor_redis::RedisSettings;
use conveyor_runtime::Function;
use conveyor_transport::broker::Broker;
use conveyor_transport::metrics::Stats;
use tokio::net::TcpListener;

/// A future the port returns, awaited where it is made (the bench's runs are not spawned).
pub type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// A future the bench spawns on the runtime.
pub type Spawned = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// What one run starts.
#[derive(Debug)]
pub struct Setup {
    /// The database URL.
    pub database: String,
    /// The functions to run.
    pub functions: Vec<Arc<dyn Function>>,
    /// The embedded broker's consumer settings.
    pub consumer: ConsumerSettings,
    /// Redis Streams instead of the embedded broker.
    pub redis: Option<RedisSettings>,
    /// Append published events to the event store.
    pub event_store: bool,
}

/// Starts the emulator the bench measures.
pub trait Emulator: Send + Sync + fmt::Debug {
    /// Starts `setup`'s functions on its transport.
    fn start(&self, setup: Setup) -> Boxed<'_, Result<Box<dyn Running>, String>>;
}

/// A started emulator.
pub trait Running: Send + Sync {
    /// Its transport, to publish as its API does.
    fn broker(&self) -> &Arc<dyn Broker>;

    /// Its metrics.
    fn stats(&self) -> &Arc<Stats>;

    /// Serves its HTTP API (the dashboard included) on `listener` until `until` resolves.
    fn serve(&self, listener: TcpListener, until: Spawned) -> Spawned;

    /// Stops it: in-flight handlers finish first.
    fn shutdown(self: Box<Self>) -> Boxed<'static, ()>;
}
