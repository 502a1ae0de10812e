//! `conveyor`: the local emulator (`up`, the default), the catalog, operator commands that talk
//! to a running emulator or to Redis directly, and the generators of checked-in files.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use conveyor_catalog as catalog;
use conveyor_dapr as dapr;
use conveyor_emulator::cli::action::{self, Action};
use conveyor_emulator::cli::args::{
    Cli, Command, CronCommand, DlqCommand, EventsCommand, GenCommand, LogFormat, Transport, UpArgs,
    WorkerArgs,
};
use conveyor_emulator::cli::{client, commands, migrate, start};
use conveyor_emulator::{api, up};
use conveyor_gen as r#gen;
use conveyor_redis::RedisSettings;
use conveyor_runtime::Function;
use conveyor_runtime::maintenance::Retention;
use conveyor_transport::maintenance::MaintenanceSettings;

// Many small, short-lived allocations cross the runtime's worker threads (one per delivered
// event); mimalloc's per-thread heaps keep them off a shared lock.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Up(UpArgs::default())) {
        Command::Up(args) => run_up(args),
        Command::Worker(args) => run_worker(&args),
        Command::Migrate {
            database,
            embedded_broker,
        } => run_async(async move {
            let database =
                dapr::config::database_url(database.as_deref(), &|name| std::env::var(name).ok())?;
            let applied = migrate::run(&database, embedded_broker).await?;
            print!("{}", migrate::report(&database, embedded_broker, &applied));
            Ok(())
        }),
        Command::Functions => {
            commands::print_functions(&catalog::specs());
            Ok(())
        }
        Command::Publish {
            topic,
            data_file,
            to,
        } => client::read(&data_file)
            .and_then(|body| action::perform(&to, Action::Publish { topic, body }))
            .map(|answer| commands::print_json(&answer))
            .map_err(Into::into),
        Command::Invoke {
            function,
            data_file,
            api,
        } => data_file
            .map(|f| client::read(&f))
            .transpose()
            .and_then(|body| client::post(&api, &format!("/invoke/{function}"), body))
            .and_then(|a| commands::outcome(&a))
            .map_err(Into::into),
        Command::Cron {
            command: CronCommand::Run { job, api },
        } => client::post(&api, &format!("/invoke/{job}"), None)
            .and_then(|a| commands::outcome(&a))
            .map_err(Into::into),
        Command::Dlq { command } => match command {
            DlqCommand::List { function, to } => {
                action::perform(&to, Action::DeadLetters { function })
                    .map(|letters| commands::print_dead_letters(&letters))
                    .map_err(Into::into)
            }
            DlqCommand::Show { function, to } => action::perform(
                &to,
                Action::DeadLetters {
                    function: Some(function),
                },
            )
            .map(|l| commands::print_json(&l))
            .map_err(Into::into),
            DlqCommand::Redrive {
                function,
                ids,
                sqs: true,
                queues,
                ..
            } => run_async(async move {
                let answer = conveyor_emulator::cli::sqs::redrive(&queues, &function, &ids).await?;
                commands::print_json(&answer);
                Ok(())
            }),
            DlqCommand::Redrive {
                function, ids, to, ..
            } => action::perform(&to, Action::Redrive { function, ids })
                .map(|a| commands::print_json(&a))
                .map_err(Into::into),
        },
        Command::Saga { command } => conveyor_emulator::cli::saga::run(command).map_err(Into::into),
        Command::Bench {
            runs,
            events,
            latency_events,
            rate,
            redis,
            only,
            postgres,
            flow_events,
            sagas,
            lambda_dir,
        } => {
            let plan = conveyor_bench::report::BenchPlan {
                runs,
                events,
                latency_events,
                rate,
                redis,
                only,
                postgres,
                flow_events,
                sagas,
                lambda_dir,
            };
            run_bench(&plan)
        }
        Command::Events {
            command: EventsCommand::Replay(args),
        } => run_async(async move {
            let outcome = conveyor_emulator::cli::replay::run(&args, &catalog::all()).await?;
            commands::print_json(&conveyor_emulator::cli::replay::report(
                &outcome,
                args.dry_run,
            ));
            if outcome.more
                && let Some(id) = &outcome.id
            {
                eprintln!("more events remain: run the same command again, or add --resume {id}");
            }
            Ok(())
        }),
        Command::Gen {
            what: GenCommand::Events { dir, check },
        } => commands::generate(&dir, check, r#gen::events::check, |d| {
            r#gen::events::write(d).map_err(|e| e.to_string())
        }),
        Command::Gen {
            what: GenCommand::Terraform { dir, check },
        } => commands::generate(&dir, check, r#gen::terraform::check, |d| {
            r#gen::terraform::write(d).map_err(|e| e.to_string())
        }),
        Command::Gen {
            what:
                GenCommand::Dapr {
                    dir,
                    check,
                    redis_host,
                    redis_tls,
                    app_protocol,
                    schedules,
                    bulk_max_messages,
                    bulk_max_await_ms,
                },
        } => {
            let options = r#gen::dapr::Options {
                redis_host,
                redis_tls,
                app_protocol,
                schedules,
                bulk_subscribe: (bulk_max_messages > 0).then_some(conveyor_dapr::BulkSubscribe {
                    max_messages: bulk_max_messages,
                    max_await_ms: bulk_max_await_ms,
                }),
            };
            commands::generate(
                &dir,
                check,
                |d| r#gen::dapr::check(d, &options),
                |d| r#gen::dapr::write(d, &options).map_err(|e| e.to_string()),
            )
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_bench(plan: &conveyor_bench::report::BenchPlan) -> Result<(), commands::CommandError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(commands::CommandError::Io)?;
    let report = runtime
        .block_on(conveyor_bench::report::run(
            plan,
            &conveyor_emulator::benched::Up,
        ))
        .map_err(commands::CommandError::Gen)?;
    println!("{report}");
    Ok(())
}

fn run_async(
    work: impl Future<Output = Result<(), commands::CommandError>>,
) -> Result<(), commands::CommandError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(commands::CommandError::Io)?
        .block_on(work)
}

fn init_logs(format: LogFormat) {
    conveyor_dapr::cli::run::init_logs(format);
}

fn run_worker(args: &WorkerArgs) -> Result<(), commands::CommandError> {
    Ok(conveyor_dapr::cli::run::run(args, catalog::all())?)
}

fn run_up(args: UpArgs) -> Result<(), commands::CommandError> {
    init_logs(args.log_format);
    let functions: Vec<Arc<dyn Function>> =
        commands::select(catalog::all(), &args.functions, args.service.as_deref())?;
    let access = start::access(&args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(commands::CommandError::Io)?;
    runtime.block_on(async move {
        let redis = args.redis.as_deref().map(|url| args.redis_tls.load(url).map(|tls| RedisSettings {
            tls,
            prefix: args.redis_prefix.clone(),
            maxlen: args.redis_maxlen,
            max_age: (args.redis_retention_days > 0).then(|| std::time::Duration::from_secs(u64::from(args.redis_retention_days) * 86_400)),
            claim_after: args.redis_claim_after_ms.map(std::time::Duration::from_millis),
            reclaim_every: std::time::Duration::from_millis(args.redis_reclaim_every_ms.max(10)),
            max_waiting: args.redis_max_waiting.max(1),
            lease_ttl: std::time::Duration::from_millis(args.redis_lease_ms),
            tx_batch: usize::from(args.redis_tx_batch),
            ..RedisSettings::new(url)
        })).transpose()?;
        let transport = args.transport.unwrap_or(if redis.is_some() { Transport::Redis } else { Transport::Embedded });
        if transport == Transport::Redis && redis.is_none() {
            return Err(commands::CommandError::Selection("--transport redis needs a Redis URL: set --redis or CONVEYOR_REDIS_URL".to_owned()));
        }
        let sqs = (transport == Transport::Sqs).then(|| conveyor_emulator::cli::sqs::settings(&args.sqs));
        let redis = redis.filter(|_| transport == Transport::Redis);
        let transport = match (&sqs, transport) {
            (Some(s), _) => format!("SQS queues {}<function> ({}), events via {}", s.queue_prefix, s.sqs.endpoint_url.as_deref().unwrap_or("AWS"), s.event_bus.as_deref().map_or_else(|| "direct sends to the queues".to_owned(), |b| format!("EventBridge bus {b}"))),
            (None, Transport::Redis) => "Redis Streams".to_owned(),
            (None, _) => "embedded broker".to_owned(),
        };
        let target = match (&sqs, &redis) {
            (Some(s), _) => start::Target::Sqs(s.sqs.endpoint_url.clone()),
            (None, Some(r)) => start::Target::Redis(r.url.clone()),
            (None, None) => start::Target::Embedded,
        };
        let mut retention = Retention::from_env()?;
        if let Some(days) = args.event_retention_days {
            retention.events = std::time::Duration::from_secs(u64::from(days) * 86_400);
        }
        let maintenance = MaintenanceSettings { retention, ..MaintenanceSettings::default() };
        let config = up::UpConfig { database: args.database.clone(), pool: args.pool.options(), functions, subscribers: catalog::all(), redis, sqs, maintenance, event_store: args.event_store, ..up::UpConfig::default() };
        // Bound first: a taken port is reported before anything is opened.
        let listener = tokio::net::TcpListener::bind(args.http).await.map_err(|source| commands::CommandError::Listen { address: args.http, source })?;
        let address = listener.local_addr().map_err(commands::CommandError::Io)?;
        let access = access.listening_on(address);
        let running = up::start(config).await.map_err(|e| start::failed(e, &args.database, &target))?;
        println!("conveyor up: {} function(s), database {}, {transport}", running.functions.len(), commands::redact(&args.database));
        print!("{}", running.summary());
        println!("HTTP API on http://{address} (GET /functions, POST /publish/<topic>, GET /dlq, GET /metrics)");
        if access.needs_token() {
            println!("Dashboard on http://{address}/ (open http://{address}/?token=<the API token> once in the browser)");
        } else {
            println!("Dashboard on http://{address}/");
        }
        if args.demo {
            commands::start_demo(&running).await?;
        }
        let router = api::router(running.api_state(), access);
        let server = axum::serve(listener, router).with_graceful_shutdown(commands::ctrl_c());
        server.await.map_err(commands::CommandError::Io)?;
        println!("shutting down: finishing in-flight handlers");
        running.shutdown().await;
        Ok(())
    })
}
