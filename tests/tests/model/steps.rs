//! The steps the model generates, and the reference state that decides which steps make sense
//! next (an order is paid only once it is placed, a product is ordered only once it exists).
//! The reference only tracks what generation needs; what the catalog does with each step is
//! checked on the real state by the invariants.

use proptest::prelude::*;
use proptest_state_machine::ReferenceStateMachine;

/// Most products a sequence creates.
pub(crate) const MAX_PRODUCTS: usize = 3;

/// One thing that happens to the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// The catalog announces a product with `stock` units (`product.created`).
    CreateProduct { stock: u32 },
    /// Goods received: `units` more of an existing product on hand.
    Restock { product: usize, units: u32 },
    /// The order service places an order (pending) and announces it; `lines` name products by
    /// index, quantities may exceed the stock.
    PlaceOrder { cod: bool, lines: Vec<(usize, u32)> },
    /// The payment service confirms the order's payment (again: a duplicate under a new id).
    Pay { order: usize },
    /// The payment service reports a failed payment attempt.
    FailPayment { order: usize },
    /// The customer cancels an order not paid yet.
    Cancel { order: usize },
    /// The warehouse floor reports the order's picklist `steps` steps further, one report each
    /// (in progress, picked, packed, shipped).
    Pick { order: usize, steps: u8 },
    /// The carrier reports a cash-on-delivery order delivered (cash collected).
    VerifyCodDelivery { order: usize },
    /// A return of everything the order shipped is completed, on either topic name.
    Return { order: usize, legacy_topic: bool },
    /// The clock moves on, then every job of the catalog ticks.
    Advance { minutes: i64 },
    /// An event seen earlier is delivered again to its subscribers, same id, with this attempt
    /// number (a crash before commit leaves nothing: the broker counts a delivery more).
    Redeliver { event: usize, attempt: u32 },
    /// An event the platform received from outside is sent again under a new id.
    Resend { event: usize },
    /// The next payment event is held back and delivered later, out of order.
    HoldNextPayment,
    /// A held event is delivered now.
    ReleaseHeld { which: usize },
    /// The next outside event's first handler commits but its events are not published (a
    /// crash between commit and publish); the outbox relay publishes them.
    CrashAfterCommit,
}

/// What generation knows.
#[derive(Debug, Clone, Default)]
pub(crate) struct Plan {
    /// Products created.
    pub(crate) products: usize,
    /// Orders placed: cash on delivery or not.
    pub(crate) orders: Vec<bool>,
    /// Events held back.
    pub(crate) held: usize,
    /// Steps taken (bounds the event indices a redelivery picks from).
    pub(crate) steps: usize,
}

fn order_step(orders: usize) -> BoxedStrategy<Step> {
    let order = 0..orders;
    prop_oneof![
        4 => order.clone().prop_map(|order| Step::Pay { order }),
        1 => order.clone().prop_map(|order| Step::FailPayment { order }),
        1 => order.clone().prop_map(|order| Step::Cancel { order }),
        4 => (order.clone(), 1..5_u8).prop_map(|(order, steps)| Step::Pick { order, steps }),
        2 => order.clone().prop_map(|order| Step::VerifyCodDelivery { order }),
        1 => (order, any::<bool>())
            .prop_map(|(order, legacy_topic)| Step::Return { order, legacy_topic }),
    ]
    .boxed()
}

fn clock_step() -> BoxedStrategy<Step> {
    // Past each job's window: a minute, the 5-minute jobs, the 30-minute hold, the hour, the
    // 24-hour unpaid-order limit, the 14-day COD limit and inbox retention.
    prop_oneof![
        Just(1_i64),
        Just(6),
        Just(31),
        Just(61),
        Just(25 * 60),
        Just(15 * 24 * 60)
    ]
    .prop_map(|minutes| Step::Advance { minutes })
    .boxed()
}

impl ReferenceStateMachine for Plan {
    type State = Self;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<Self> {
        Just(Self::default()).boxed()
    }

    fn transitions(state: &Self) -> BoxedStrategy<Step> {
        let create = (0..10_u32).prop_map(|stock| Step::CreateProduct { stock });
        if state.products == 0 {
            return create.boxed();
        }
        let products = state.products;
        let line = (0..products, 1..4_u32);
        let place = (any::<bool>(), prop::collection::vec(line, 1..3))
            .prop_map(|(cod, lines)| Step::PlaceOrder { cod, lines });
        let restock =
            (0..products, 1..4_u32).prop_map(|(product, units)| Step::Restock { product, units });
        let events = state.steps.max(1) * 8;
        let faults = prop_oneof![
            (0..events, 1..6_u32).prop_map(|(event, attempt)| Step::Redeliver { event, attempt }),
            (0..events).prop_map(|event| Step::Resend { event }),
            Just(Step::HoldNextPayment),
            Just(Step::CrashAfterCommit),
            (0..state.held.max(1)).prop_map(|which| Step::ReleaseHeld { which }),
        ];
        let mut steps = vec![
            (1, create.boxed()),
            (1, restock.boxed()),
            (2, place.boxed()),
            (3, clock_step()),
            (2, faults.boxed()),
        ];
        if !state.orders.is_empty() {
            steps.push((10, order_step(state.orders.len())));
        }
        prop::strategy::Union::new_weighted(steps).boxed()
    }

    fn preconditions(state: &Self, step: &Step) -> bool {
        let order = |o: &usize| *o < state.orders.len();
        match step {
            Step::CreateProduct { .. } => state.products < MAX_PRODUCTS,
            Step::Restock { product, .. } => *product < state.products,
            Step::PlaceOrder { lines, .. } => lines.iter().all(|(p, _)| *p < state.products),
            Step::Pay { order: o }
            | Step::FailPayment { order: o }
            | Step::Cancel { order: o }
            | Step::Pick { order: o, .. }
            | Step::VerifyCodDelivery { order: o }
            | Step::Return { order: o, .. } => order(o),
            Step::ReleaseHeld { which } => *which < state.held,
            Step::Advance { .. }
            | Step::Redeliver { .. }
            | Step::Resend { .. }
            | Step::HoldNextPayment
            | Step::CrashAfterCommit => true,
        }
    }

    fn apply(mut state: Self, step: &Step) -> Self {
        state.steps += 1;
        match step {
            Step::CreateProduct { .. } => state.products += 1,
            Step::PlaceOrder { cod, .. } => state.orders.push(*cod),
            Step::HoldNextPayment => state.held += 1,
            Step::ReleaseHeld { .. } => state.held -= 1,
            _ => {}
        }
        state
    }
}
