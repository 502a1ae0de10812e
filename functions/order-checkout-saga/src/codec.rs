//! How the checkout saga reads what it consumes and writes what it sends: every command is
//! built from the stored start payload and the ids the earlier steps returned, so every send
//! of one command carries the same content (only `attempt` differs). For the same reason every
//! command's `timestamp` is the checkout request's, the refund request's included.

use conveyor_domain::events::checkout::{
    CHECKOUT_REQUESTED, CheckoutCommand, CheckoutFinishedEvent, CheckoutOutcome, CheckoutReply,
    CheckoutRequestedEvent,
};
use conveyor_domain::events::payment::{
    PAYMENT_CONFIRMED, PAYMENT_FAILED, PAYMENT_PROCESS_REQUESTED, PAYMENT_REFUND_REQUESTED,
    PAYMENT_REFUNDED, PaymentConfirmedEvent, PaymentFailedEvent, PaymentRefundedEvent,
    ProcessPaymentRequestedEvent, RefundRequestedEvent,
};
use conveyor_domain::events::{DomainEvent, Validate};
use conveyor_domain::{OrderId, PaymentId, SagaId};
use conveyor_runtime::HandlerError;
use conveyor_runtime::saga::{
    Command, Incoming, Outcome, Outgoing, Phase, Reply, SagaCodec, SagaDefinition, SagaState,
    SagaStatus,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::definition::PAYMENT;

/// The checkout saga's definition and wire code.
#[derive(Debug, Clone)]
pub struct CheckoutCodec {
    definition: SagaDefinition,
}

impl CheckoutCodec {
    /// The codec of `definition` (see [`crate::definition::checkout`]).
    #[must_use]
    pub fn new(definition: SagaDefinition) -> Self {
        Self { definition }
    }
}

/// The payment id the saga asks the payment service to capture under: fixed by the order, so
/// a payment step that timed out without a reply can still be refunded by it.
///
/// # Errors
/// [`HandlerError::Drop`] when the order id is too long to make one.
pub fn payment_id_of(order: &OrderId) -> Result<PaymentId, HandlerError> {
    PaymentId::parse(format!("pay-{order}")).map_err(HandlerError::drop)
}

fn decode<T: DeserializeOwned + Validate>(data: &Value) -> Result<T, HandlerError> {
    let typed = T::deserialize(data).map_err(HandlerError::drop)?;
    typed.validate().map_err(HandlerError::drop)?;
    Ok(typed)
}

fn saga_of(order: &OrderId) -> Result<SagaId, HandlerError> {
    SagaId::parse(order.as_str()).map_err(HandlerError::drop)
}

fn outgoing<T: DomainEvent>(event: &T) -> Result<Outgoing, HandlerError> {
    Ok(Outgoing {
        topic: event.topic(),
        payload: serde_json::to_value(event).map_err(HandlerError::drop)?,
    })
}

fn request(state: &SagaState) -> Result<CheckoutRequestedEvent, HandlerError> {
    decode(&state.data)
}

impl SagaCodec for CheckoutCodec {
    fn definition(&self) -> &SagaDefinition {
        &self.definition
    }

    fn read(&self, topic: &str, data: &Value) -> Result<Incoming, HandlerError> {
        let (order, reply) = match topic {
            CHECKOUT_REQUESTED => {
                let start: CheckoutRequestedEvent = decode(data)?;
                return Ok(Incoming::Start {
                    saga: saga_of(&start.order_id)?,
                    data: data.clone(),
                });
            }
            PAYMENT_CONFIRMED => {
                let e: PaymentConfirmedEvent = decode(data)?;
                (e.order_id, Reply::on(topic).with_result(e.payment_id))
            }
            PAYMENT_FAILED => {
                let e: PaymentFailedEvent = decode(data)?;
                (e.order_id, Reply::on(topic).with_reason(e.failure_reason))
            }
            PAYMENT_REFUNDED => {
                let e: PaymentRefundedEvent = decode(data)?;
                (e.order_id, Reply::on(topic).with_result(e.refund_id))
            }
            _ => {
                let e: CheckoutReply = decode(data)?;
                let mut reply = Reply::on(topic);
                reply.result = e.result;
                reply.reason = e.reason;
                (e.order_id, reply)
            }
        };
        Ok(Incoming::Reply {
            saga: saga_of(&order)?,
            reply,
        })
    }

    fn command(&self, state: &SagaState, command: &Command) -> Result<Outgoing, HandlerError> {
        let start = request(state)?;
        let step = state.step(command.step);
        match command.topic {
            PAYMENT_PROCESS_REQUESTED => outgoing(&ProcessPaymentRequestedEvent {
                payment_id: payment_id_of(&start.order_id)?,
                order_id: start.order_id,
                amount: start.total.to_major_f64(),
                currency: start.currency,
                attempt: command.attempt,
                timestamp: start.timestamp,
            }),
            PAYMENT_REFUND_REQUESTED => {
                // The id the payment service returned, else the one the saga asked it to use.
                let payment_id = match &state.step(PAYMENT).result {
                    Some(id) => PaymentId::parse(id.as_str()).map_err(HandlerError::drop)?,
                    None => payment_id_of(&start.order_id)?,
                };
                outgoing(&RefundRequestedEvent {
                    order_id: start.order_id,
                    payment_id,
                    amount: start.total.to_major_f64(),
                    currency: start.currency,
                    reason: undo_reason(state),
                    timestamp: start.timestamp,
                })
            }
            topic => {
                let compensating = command.phase == Phase::Compensate;
                let payload = CheckoutCommand {
                    command_id: command.id(),
                    attempt: command.attempt,
                    target: if compensating {
                        step.result.clone()
                    } else {
                        None
                    },
                    reason: compensating.then(|| undo_reason(state)),
                    order_id: start.order_id,
                    customer_id: start.customer_id,
                    items: start.items,
                    total: start.total,
                    currency: start.currency,
                    timestamp: start.timestamp,
                };
                Ok(Outgoing {
                    topic,
                    payload: serde_json::to_value(&payload).map_err(HandlerError::drop)?,
                })
            }
        }
    }

    fn finished(
        &self,
        state: &SagaState,
        outcome: &Outcome,
    ) -> Result<Option<Outgoing>, HandlerError> {
        let start = request(state)?;
        let (outcome_kind, payment_id) = if outcome.status == SagaStatus::Completed {
            // The id the payment service confirmed, which is the one the saga asked for.
            let paid = match state.step(PAYMENT).result.as_deref() {
                Some(id) => PaymentId::parse(id).map_err(HandlerError::drop)?,
                None => payment_id_of(&start.order_id)?,
            };
            (CheckoutOutcome::Completed, Some(paid))
        } else {
            (CheckoutOutcome::Compensated, None)
        };
        outgoing(&CheckoutFinishedEvent {
            order_id: start.order_id,
            customer_id: start.customer_id,
            outcome: outcome_kind,
            reason: outcome.reason.clone(),
            payment_id,
            timestamp: state.updated_at,
        })
        .map(Some)
    }
}

/// Why the saga is undone, as every compensation says it.
fn undo_reason(state: &SagaState) -> String {
    state
        .failure
        .clone()
        .unwrap_or_else(|| "checkout compensated".to_owned())
}
