//! The flows across functions: in one process, through a running emulator, and through
//! `conveyor up` as a child process.

#[path = "../../emulator/tests/support/checkout/mod.rs"]
mod checkout;
mod child;
mod child_stock;
mod compensation_flow;
mod embedded_durability;
mod emulator_flow;
mod event_store;
mod faults;
mod instances;
mod payment_flow;
mod saga_crash;
mod saga_flow;
mod stock_holds;
mod tls_postgres;
mod tls_redis_postgres;
