//! The orchestrated checkout's payloads: what is valid, how a reply is addressed.

use conveyor_domain::Quantity;
use conveyor_domain::events::checkout::{CheckoutReply, INVENTORY_RESERVED};
use conveyor_domain::events::saga::TimerFired;
use conveyor_domain::events::{DomainEvent, Validate, samples};

#[test]
fn a_checkout_without_lines_or_with_an_empty_line_is_invalid() {
    let mut e = samples::checkout_requested();
    assert!(e.validate().is_ok());
    e.items[0].quantity = Quantity::new(0);
    assert!(e.validate().is_err());
    e.items.clear();
    assert!(e.validate().is_err());
}

#[test]
fn a_reply_serialises_as_its_payload_and_goes_to_its_topic() {
    let command = samples::checkout_command(None);
    let reply =
        CheckoutReply::to(&command, INVENTORY_RESERVED, command.timestamp).with_result("ord-1003");
    assert_eq!(reply.topic(), INVENTORY_RESERVED);
    let json = serde_json::to_value(&reply).unwrap();
    assert_eq!(json["result"], "ord-1003");
    assert_eq!(json["command_id"], command.command_id);
    assert!(json.get("reason").is_none());
    let mut blank = command;
    blank.command_id = " ".into();
    assert!(blank.validate().is_err());
}

#[test]
fn a_timer_without_its_definition_is_invalid() {
    assert!(samples::timer_fired().validate().is_ok());
    let blank = TimerFired {
        definition: String::new(),
        ..samples::timer_fired()
    };
    assert!(blank.validate().is_err());
}
