//! The fulfillment service's tables: fulfillments, picklists (with their lines), packages.

mod fulfillments;
mod packages;
mod picklists;
