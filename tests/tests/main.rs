//! The flows across functions: in one process, and through a running emulator.

mod child;
mod child_stock;
mod emulator_flow;
mod payment_flow;
