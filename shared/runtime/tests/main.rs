//! The Lambda host against a fake Runtime API and fake AWS endpoints (feature `lambda`).

mod lambda_aws;
mod lambda_fifo;
mod lambda_pool;
mod lambda_schedule;
mod lambda_sqs;
mod support;
