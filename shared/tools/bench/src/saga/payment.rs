//! The external payment service the checkout saga talks to, played inside the bench's emulator
//! as it is outside conveyor: `payment.process_requested` is answered with `payment.confirmed`
//! (or `payment.failed` for an order whose id ends in [`DECLINED`]), `payment.refund_requested`
//! with `payment.refunded`. It keeps no state and touches no database (declared stateless: its
//! answers are published directly), so the database work measured is the saga's and its
//! services'; its CPU is in the process's figure, as a real service's would not be.

use conveyor_domain::events::payment::{
    PAYMENT_PROCESS_REQUESTED, PAYMENT_REFUND_REQUESTED, ProcessPaymentRequestedEvent,
    RefundRequestedEvent,
};
use conveyor_runtime::saga::SagaMessage;
use conveyor_runtime::{Context, FunctionSpec, HandlerError, Service, TopicHandler};

/// The end of the id of an order whose payment is declined.
pub const DECLINED: &str = "-declined";

/// The played payment service.
#[derive(Debug, Clone, Copy, Default)]
pub struct PaymentService;

impl TopicHandler for PaymentService {
    type Payload = SagaMessage;
    const SPEC: FunctionSpec = FunctionSpec::on_topics(
        "bench-payment-service",
        Service::Order,
        &[PAYMENT_PROCESS_REQUESTED, PAYMENT_REFUND_REQUESTED],
    )
    .stateless();

    async fn handle(&self, message: SagaMessage, cx: &mut Context<'_>) -> Result<(), HandlerError> {
        let now = cx.now();
        if cx.topic() == PAYMENT_REFUND_REQUESTED {
            let r: RefundRequestedEvent =
                serde_json::from_value(message.0).map_err(HandlerError::drop)?;
            return cx.publish(&r.refunded(now));
        }
        let p: ProcessPaymentRequestedEvent =
            serde_json::from_value(message.0).map_err(HandlerError::drop)?;
        if p.order_id.as_str().ends_with(DECLINED) {
            return cx.publish(&p.failed("card declined", now));
        }
        cx.publish(&p.confirmed(now))
    }
}
