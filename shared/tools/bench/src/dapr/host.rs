//! The worker under measurement: `conveyor worker`'s own [`Worker`], started in this process on
//! a Tokio runtime of its own (two worker threads, as the worker binary has on this 2-core
//! machine), every thread of it named [`THREAD`]. Its CPU time is the sum of those threads'
//! user and system time from `/proc/self/task/<tid>/stat`: the load generator and the fake
//! sidecar run on the bench's own threads and are not counted. The runtime keeps idle
//! blocking threads for an hour, so none exits (taking its CPU time with it) during a run.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use conveyor_dapr::{Worker, WorkerConfig};
use conveyor_runtime::Function;
use tokio::sync::oneshot;

use crate::CpuTime;

/// The name of every thread of the worker's runtime.
pub const THREAD: &str = "dapr-worker";

/// A worker serving on 127.0.0.1, on its own runtime.
#[derive(Debug)]
pub struct Hosted {
    /// Where daprd (the load generator) calls it.
    pub address: SocketAddr,
    runtime: tokio::runtime::Runtime,
    stop: oneshot::Sender<()>,
    served: tokio::task::JoinHandle<Result<(), String>>,
}

impl Hosted {
    /// Starts a worker for `functions` with `config` and serves it on a free loopback port.
    ///
    /// # Errors
    /// When the runtime cannot be built or the worker cannot start or listen.
    pub async fn start(
        config: WorkerConfig,
        functions: Vec<Arc<dyn Function>>,
    ) -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(THREAD)
            .thread_keep_alive(Duration::from_secs(3600))
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        // Started on the worker's runtime from a blocking thread: the start's future is not
        // one the compiler lets a task hold across threads.
        let handle = runtime.handle().clone();
        let (worker, listener, address) = tokio::task::spawn_blocking(move || {
            handle.block_on(async move {
                let worker = Worker::start(config, &functions)
                    .await
                    .map_err(|e| e.to_string())?;
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .map_err(|e| e.to_string())?;
                let address = listener.local_addr().map_err(|e| e.to_string())?;
                Ok::<_, String>((worker, listener, address))
            })
        })
        .await
        .map_err(|e| e.to_string())??;
        let (stop, stopped) = oneshot::channel::<()>();
        let served = runtime.spawn(async move {
            worker
                .serve(listener, async move {
                    let _ = stopped.await;
                })
                .await
                .map_err(|e| e.to_string())
        });
        Ok(Self {
            address,
            runtime,
            stop,
            served,
        })
    }

    /// Stops the worker gracefully (the relay's last pass included) and its runtime.
    ///
    /// # Errors
    /// The worker's serving error.
    pub async fn stop(self) -> Result<(), String> {
        let _ = self.stop.send(());
        let served = self.served.await.map_err(|e| e.to_string());
        self.runtime.shutdown_background();
        served?
    }
}

/// CPU time used so far by the threads named [`THREAD`] (zero where `/proc` cannot be read).
#[must_use]
pub fn worker_cpu() -> CpuTime {
    threads_cpu(THREAD)
}

/// CPU time used so far by this process's threads named `name`.
#[must_use]
pub fn threads_cpu(name: &str) -> CpuTime {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return CpuTime::default();
    };
    let mut total = CpuTime::default();
    for task in tasks.flatten() {
        let path = task.path();
        let named = std::fs::read_to_string(path.join("comm")).is_ok_and(|c| c.trim() == name);
        if !named {
            continue;
        }
        if let Ok(stat) = std::fs::read_to_string(path.join("stat")) {
            let cpu = CpuTime::parse(&stat);
            total.user += cpu.user;
            total.system += cpu.system;
        }
    }
    total
}
