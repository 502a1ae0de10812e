//! The delivery policy: after an attempt, acknowledge, retry after a delay, or dead-letter with
//! a reason. It is [`conveyor_runtime::delivery`] (the runtime holds it so the Lambda host, which
//! lives there, calls the same function); every host in this workspace reaches it through here.

pub use conveyor_runtime::delivery::*;
