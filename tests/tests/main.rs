//! The flows across functions: in one process, and through a running emulator.

mod compensation_flow;
mod emulator_flow;
mod payment_flow;
