//! The store's contract tests: every repository operation on SQLite and PostgreSQL.

mod checkpoints;
mod connect_errors;
mod event_store;
mod fulfillment_contract;
mod migrations;
mod order_compensation;
mod order_contract;
mod order_sessions_carts;
mod order_sweeps;
mod pool_budget;
mod queue_contract;
mod retention;
mod runtime_tables;
mod sagas;
mod warehouse_inventory;
mod warehouse_records;
mod warehouse_reservations;
