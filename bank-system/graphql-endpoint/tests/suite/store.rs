//! db-ge against a real PostgreSQL: a batch of BalanceChanged events is stored once per `event_id`, in batch
//! order, whether the copies come in one batch or in a re-delivered one.

use graphql_endpoint::store::{Store, StoredTransaction};

fn event(iban: &str, new_balance: i64) -> StoredTransaction {
    StoredTransaction {
        id: 0,
        iban: iban.into(),
        new_balance,
        changed_by: 100,
        from_to: "cash".into(),
        descr: "test".into(),
    }
}

#[tokio::test]
async fn events_are_stored_once_per_event_id_in_batch_order() {
    let stack = stack::testing::stack("").await;
    let pool = topology::db::connect(&stack.plan.endpoints.db_ge, 2, topology::sql::DB_GE_SCHEMA, "db-ge", None)
        .await
        .expect("db-ge");
    let store = Store::new(pool);
    let batch: Vec<(String, StoredTransaction)> = vec![
        ("c1:0".into(), event("NL01", 100)),
        ("c1:1".into(), event("NL02", 200)),
        ("c1:0".into(), event("NL01", 100)),
        ("c2:0".into(), event("NL01", 300)),
    ];
    let first = store.insert_transactions(&batch).await.expect("stored");
    let new: Vec<bool> = first.iter().map(|(_, new)| *new).collect();
    assert_eq!(new, [true, true, false, true], "the second copy within the batch is a re-delivery");
    assert_eq!(first[0].0, first[2].0, "both copies answer with the one stored row");
    assert!(first[0].0.id < first[1].0.id && first[1].0.id < first[3].0.id, "ids follow the batch order: {first:?}");
    assert_eq!((first[3].0.iban.as_str(), first[3].0.new_balance), ("NL01", 300));

    // Delivered again after a crash, with one new event behind it.
    let mut again = batch.clone();
    again.push(("c3:0".into(), event("NL02", 50)));
    let second = store.insert_transactions(&again).await.expect("stored");
    assert_eq!(second.iter().map(|(_, new)| *new).collect::<Vec<_>>(), [false, false, false, false, true]);
    assert_eq!(second[1].0, first[1].0);
    let rows = store.transactions_by_iban("NL01", 100).await.expect("rows");
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(store.transactions_by_iban("NL02", 100).await.expect("rows").len(), 2);
}
