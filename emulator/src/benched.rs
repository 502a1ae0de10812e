//! `conveyor bench` measures this emulator: the bench's [`Emulator`] port, implemented with
//! `up`'s own start and the HTTP API's own router.

use std::sync::Arc;

use conveyor_bench::emulator::{Boxed, Emulator, Running, Setup, Spawned};
use conveyor_transport::broker::Broker;
use conveyor_transport::metrics::Stats;
use tokio::net::TcpListener;

use crate::access::Access;
use crate::api;
use crate::up::{self, UpConfig};

/// `conveyor up`, started in this process for each bench run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Up;

impl Emulator for Up {
    fn start(&self, setup: Setup) -> Boxed<'_, Result<Box<dyn Running>, String>> {
        Box::pin(async move {
            let running = up::start(UpConfig {
                database: setup.database,
                functions: setup.functions,
                consumer: setup.consumer,
                redis: setup.redis,
                event_store: setup.event_store,
                ..UpConfig::default()
            })
            .await
            .map_err(|e| e.to_string())?;
            Ok(Box::new(running) as Box<dyn Running>)
        })
    }
}

impl Running for up::Running {
    fn broker(&self) -> &Arc<dyn Broker> {
        &self.broker
    }

    fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    fn serve(&self, listener: TcpListener, until: Spawned) -> Spawned {
        let router = listener
            .local_addr()
            .map(|address| api::router(self.api_state(), Access::local(address)));
        Box::pin(async move {
            match router {
                Ok(router) => {
                    if let Err(e) = axum::serve(listener, router)
                        .with_graceful_shutdown(until)
                        .await
                    {
                        tracing::warn!(error = %e, "the bench's API server stopped");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "the bench's API listener has no address"),
            }
        })
    }

    fn shutdown(self: Box<Self>) -> Boxed<'static, ()> {
        Box::pin(up::Running::shutdown(*self))
    }
}
