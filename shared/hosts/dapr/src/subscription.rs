//! The subscriptions the worker asks daprd for: one per (topic function, topic), routed to
//! `/<function>`, its dead letters to `<function>.dlq`, with the worker's bulk subscribe
//! settings when it has any. One list answers both protocols: `GET /dapr/subscribe` renders it
//! as JSON ([`Subscription`] serialises to daprd's `SubscriptionJSON`), `ListTopicSubscriptions`
//! as `TopicSubscription` messages ([`crate::grpc`]).

use serde::Serialize;

use super::config::BulkSubscribe;

/// One subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subscription {
    /// The pub/sub component.
    pub pubsubname: String,
    /// The topic.
    pub topic: String,
    /// The path daprd delivers to (HTTP), or sends as the event's `path` (gRPC).
    pub route: String,
    /// Where daprd writes what the worker drops.
    #[serde(rename = "deadLetterTopic")]
    pub dead_letter_topic: String,
    /// Bulk delivery, when asked for.
    #[serde(rename = "bulkSubscribe", skip_serializing_if = "Option::is_none")]
    pub bulk_subscribe: Option<BulkJson>,
}

/// daprd's `bulkSubscribe` object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BulkJson {
    /// Always `true` when present.
    pub enabled: bool,
    /// Most events per call.
    #[serde(rename = "maxMessagesCount")]
    pub max_messages_count: u32,
    /// Longest wait for a call to fill, in milliseconds.
    #[serde(rename = "maxAwaitDurationMs")]
    pub max_await_duration_ms: u32,
}

impl From<BulkSubscribe> for BulkJson {
    fn from(bulk: BulkSubscribe) -> Self {
        Self {
            enabled: true,
            max_messages_count: bulk.max_messages,
            max_await_duration_ms: bulk.max_await_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serialises_as_daprd_reads_it() {
        let mut s = Subscription {
            pubsubname: "pubsub-redis".to_owned(),
            topic: "payment.confirmed".to_owned(),
            route: "/order-payment-confirmed".to_owned(),
            dead_letter_topic: "order-payment-confirmed.dlq".to_owned(),
            bulk_subscribe: None,
        };
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            json!({
                "pubsubname": "pubsub-redis",
                "topic": "payment.confirmed",
                "route": "/order-payment-confirmed",
                "deadLetterTopic": "order-payment-confirmed.dlq",
            })
        );
        s.bulk_subscribe = Some(
            BulkSubscribe {
                max_messages: 50,
                max_await_ms: 20,
            }
            .into(),
        );
        assert_eq!(
            serde_json::to_value(&s).unwrap()["bulkSubscribe"],
            json!({ "enabled": true, "maxMessagesCount": 50, "maxAwaitDurationMs": 20 })
        );
    }
}
