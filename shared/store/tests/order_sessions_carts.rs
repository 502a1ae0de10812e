//! Contract tests of the session and cart repositories on both backends: round trips, and the
//! cleanups delete exactly what the domain calls expired or abandoned, within the limit,
//! disjointly when two runs overlap on PostgreSQL.

use conveyor_domain::order::{Cart, CartItem, CartRepository, Session, SessionRepository};
use conveyor_domain::{CartId, CustomerId, ProductId, Quantity, SessionId, Timestamp};
use conveyor_store::testing::on_both_backends;
use conveyor_store::{Backend, Store};

fn now() -> Timestamp {
    Timestamp::parse_rfc3339("2026-11-22T10:00:00Z").unwrap()
}

/// A 30-minute session that expired `minutes_ago` (negative: still valid).
fn session(id: &str, minutes_ago: i64) -> Session {
    let start = now().add_minutes(-minutes_ago - 30);
    Session::start(
        SessionId::parse(id).unwrap(),
        Some(CustomerId::parse("cus-1").unwrap()),
        start,
        30,
    )
}

fn cart(id: &str, untouched_minutes: i64, converted: bool) -> Cart {
    let at = now().add_minutes(-untouched_minutes);
    let mut cart = Cart::open(
        CartId::parse(id).unwrap(),
        CustomerId::parse("cus-1").unwrap(),
        at.sub_days(1),
    );
    cart.items = vec![
        CartItem {
            product_id: ProductId::parse("sku-mug").unwrap(),
            quantity: Quantity::new(2),
        },
        CartItem {
            product_id: ProductId::parse("sku-tee").unwrap(),
            quantity: Quantity::new(1),
        },
    ];
    if converted {
        assert!(cart.convert(at));
    }
    cart.updated_at = at;
    cart
}

async fn count(store: &Store, table: &str) -> i64 {
    conveyor_store::sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn sessions_round_trip_and_only_long_expired_ones_are_deleted() {
    on_both_backends(|store| async move {
        let day = 24 * 60;
        let all = [
            session("valid", -10),
            session("expired-1h", 60),
            session("expired-23h59", day - 1),
            session("expired-24h", day),
            session("expired-24h01", day + 1),
            session("expired-3d", 3 * day),
            Session {
                customer_id: None,
                ..session("guest-2d", 2 * day)
            },
        ];
        let mut tx = store.begin().await.unwrap();
        for s in &all {
            assert!(tx.insert_session(s).await.unwrap());
        }
        assert!(!tx.insert_session(&all[0]).await.unwrap(), "no-op");
        assert_eq!(
            tx.get_session(&all[6].id).await.unwrap().as_ref(),
            Some(&all[6])
        );
        tx.commit().await.unwrap();

        // Limit 1 takes the longest expired first.
        let cutoff = Session::purge_before(now());
        let mut tx = store.begin().await.unwrap();
        assert_eq!(tx.delete_expired_sessions(cutoff, 1).await.unwrap(), 1);
        assert!(tx.get_session(&all[5].id).await.unwrap().is_none());
        assert_eq!(tx.delete_expired_sessions(cutoff, 100).await.unwrap(), 2);
        assert_eq!(tx.delete_expired_sessions(cutoff, 100).await.unwrap(), 0);
        for s in &all {
            let kept = tx.get_session(&s.id).await.unwrap().is_some();
            assert_eq!(kept, !s.is_purgeable(now()), "{}", s.id);
        }
        tx.commit().await.unwrap();
        assert_eq!(count(&store, "sessions").await, 4);
    })
    .await;
}

#[tokio::test]
async fn overlapping_session_cleanups_delete_disjoint_rows() {
    on_both_backends(|store| async move {
        if store.backend() != Backend::Postgres {
            return; // SQLite has one writer: runs cannot overlap there.
        }
        let mut tx = store.begin().await.unwrap();
        for i in 0..3 {
            tx.insert_session(&session(&format!("s-{i}"), 3 * 24 * 60 - i))
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        let cutoff = Session::purge_before(now());
        let mut first = store.begin().await.unwrap();
        let mut second = store.begin().await.unwrap();
        assert_eq!(first.delete_expired_sessions(cutoff, 1).await.unwrap(), 1);
        assert_eq!(second.delete_expired_sessions(cutoff, 10).await.unwrap(), 2);
        first.commit().await.unwrap();
        second.commit().await.unwrap();
        assert_eq!(count(&store, "sessions").await, 0);
    })
    .await;
}

#[tokio::test]
async fn carts_round_trip_and_only_abandoned_active_ones_go_with_their_items() {
    on_both_backends(|store| async move {
        let day = 24 * 60;
        let all = [
            cart("active-1d", day, false),
            cart("active-6d", 6 * day, false),
            cart("active-7d", 7 * day, false),
            cart("active-8d", 8 * day, false),
            cart("active-30d", 30 * day, false),
            cart("converted-30d", 30 * day, true),
        ];
        let mut tx = store.begin().await.unwrap();
        for c in &all {
            assert!(tx.insert_cart(c).await.unwrap());
        }
        assert!(!tx.insert_cart(&all[0]).await.unwrap(), "no-op");
        for c in &all {
            assert_eq!(tx.get_cart(&c.id).await.unwrap().as_ref(), Some(c));
        }
        tx.commit().await.unwrap();
        assert_eq!(count(&store, "cart_items").await, 12);

        let cutoff = Cart::abandoned_before(now());
        let mut tx = store.begin().await.unwrap();
        assert_eq!(tx.delete_abandoned_carts(cutoff, 1).await.unwrap(), 1);
        assert!(
            tx.get_cart(&all[4].id).await.unwrap().is_none(),
            "oldest first"
        );
        assert_eq!(tx.delete_abandoned_carts(cutoff, 100).await.unwrap(), 1);
        assert_eq!(tx.delete_abandoned_carts(cutoff, 100).await.unwrap(), 0);
        for c in &all {
            let kept = tx.get_cart(&c.id).await.unwrap().is_some();
            assert_eq!(kept, !c.is_abandoned(now()), "{}", c.id);
        }
        tx.commit().await.unwrap();
        assert_eq!(count(&store, "carts").await, 4);
        assert_eq!(
            count(&store, "cart_items").await,
            8,
            "items went with their carts"
        );
    })
    .await;
}

#[tokio::test]
async fn overlapping_cart_cleanups_delete_disjoint_carts() {
    on_both_backends(|store| async move {
        if store.backend() != Backend::Postgres {
            return; // SQLite has one writer: runs cannot overlap there.
        }
        let mut tx = store.begin().await.unwrap();
        for i in 0..3 {
            tx.insert_cart(&cart(&format!("c-{i}"), 10 * 24 * 60 - i, false))
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        let cutoff = Cart::abandoned_before(now());
        let mut first = store.begin().await.unwrap();
        let mut second = store.begin().await.unwrap();
        assert_eq!(first.delete_abandoned_carts(cutoff, 1).await.unwrap(), 1);
        assert_eq!(second.delete_abandoned_carts(cutoff, 10).await.unwrap(), 2);
        first.commit().await.unwrap();
        second.commit().await.unwrap();
        assert_eq!(count(&store, "carts").await, 0);
        assert_eq!(count(&store, "cart_items").await, 0);
    })
    .await;
}
