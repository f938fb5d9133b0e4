//! Whether db-ge holds each of db-ch's events exactly once, showing what the event says. Both sides are read in
//! event-id order (byte order, `COLLATE "C"`, the same in both databases whatever their locale) and merged as they
//! stream in, so the audit holds one event and one row at a time, not the millions of a run of hours.

use futures_util::{pin_mut, Stream, TryStreamExt};

use super::{sql, Db};

/// How db-ge's rows compare with db-ch's events.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Stored {
    /// Events without a row.
    pub missing: usize,
    /// Rows without an event, and second copies of a row.
    pub extra: usize,
    /// Rows of an event that show something else than the event (another account, balance, amount, party or
    /// description): what a client reads from db-ge is not what the bank did.
    pub differing: usize,
}

/// What a client is shown of an event: (account, new balance, amount, other party, description).
type Shown<'a> = (&'a str, i64, i64, &'a str, &'a str);

/// `shown` as one hash: the merge compares a number per row, not its text.
fn fingerprint(shown: Shown<'_>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    shown.hash(&mut hasher);
    hasher.finish()
}

/// (event id, fingerprint) of a row whose columns are the event id and then those of [`Shown`].
fn identified(row: tokio_postgres::Row) -> (String, u64) {
    (row.get(0), fingerprint((row.get(1), row.get(2), row.get(3), row.get(4), row.get(5))))
}

const EVENTS: &str = "SELECT command_id::text || ':' || n, iban, new_balance, changed_by, from_to, description \
                      FROM balance_event ORDER BY (command_id::text || ':' || n) COLLATE \"C\"";
const ROWS: &str =
    "SELECT event_id, iban, new_balance, changed_by, from_to, descr FROM transaction ORDER BY event_id COLLATE \"C\"";

/// Compares db-ge's rows with db-ch's events, by event id and by what they show.
pub async fn stored_once(ch: &Db, ge: &Db) -> Result<Stored, String> {
    let none: [&str; 0] = [];
    let events = ch
        .query_raw(EVENTS, none)
        .await
        .map_err(sql("reading events"))?
        .map_ok(identified)
        .map_err(sql("reading events"));
    let rows = ge
        .query_raw(ROWS, none)
        .await
        .map_err(sql("reading db-ge rows"))?
        .map_ok(identified)
        .map_err(sql("reading db-ge rows"));
    merge(events, rows).await
}

/// The next item of `stream`, which must come in id order (anything else would miscount, so it is an error).
async fn next<S>(stream: &mut S, last: &mut Option<String>, what: &str) -> Result<Option<(String, u64)>, String>
where
    S: Stream<Item = Result<(String, u64), String>> + Unpin,
{
    let item = stream.try_next().await?;
    if let Some((id, _)) = &item {
        if last.as_deref().is_some_and(|l| l > id.as_str()) {
            return Err(format!(
                "{what} did not come in id order ({id} after {})",
                last.as_deref().unwrap_or_default()
            ));
        }
        *last = Some(id.clone());
    }
    Ok(item)
}

/// Merges events (unique ids) and rows, both in id order: a row of an event already matched is a second copy.
pub async fn merge(
    events: impl Stream<Item = Result<(String, u64), String>>,
    rows: impl Stream<Item = Result<(String, u64), String>>,
) -> Result<Stored, String> {
    pin_mut!(events, rows);
    let (mut last_event, mut last_row) = (None, None);
    let mut result = Stored::default();
    let mut event = next(&mut events, &mut last_event, "events").await?;
    let mut matched = false;
    while let Some((id, content)) = next(&mut rows, &mut last_row, "db-ge rows").await? {
        while event.as_ref().is_some_and(|(e, _)| *e < id) {
            result.missing += usize::from(!matched);
            event = next(&mut events, &mut last_event, "events").await?;
            matched = false;
        }
        match &event {
            Some((e, shown)) if *e == id => {
                result.extra += usize::from(matched);
                result.differing += usize::from(*shown != content);
                matched = true;
            }
            _ => result.extra += 1,
        }
    }
    while event.is_some() {
        result.missing += usize::from(!matched);
        event = next(&mut events, &mut last_event, "events").await?;
        matched = false;
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    fn stream(items: &[(&str, u64)]) -> impl Stream<Item = Result<(String, u64), String>> {
        futures_util::stream::iter(items.iter().map(|(id, c)| Ok((id.to_string(), *c))).collect::<Vec<_>>())
    }

    async fn merged(events: &[(&str, u64)], rows: &[(&str, u64)]) -> Result<Stored, String> {
        merge(stream(events), stream(rows)).await
    }

    const EVENTS: [(&str, u64); 3] = [("a:0", 1), ("a:1", 2), ("b:0", 3)];

    #[tokio::test]
    async fn rows_are_compared_with_their_events_by_id_and_content() {
        assert_eq!(merged(&EVENTS, &EVENTS).await, Ok(Stored::default()));
        assert_eq!(merged(&EVENTS, &[("a:0", 1), ("b:0", 3)]).await, Ok(Stored { missing: 1, ..Stored::default() }));
        let copied = [("a:0", 1), ("a:1", 2), ("a:1", 2), ("b:0", 3)];
        assert_eq!(merged(&EVENTS, &copied).await, Ok(Stored { extra: 1, ..Stored::default() }), "a second copy");
        let made_up = [("a:0", 1), ("a:1", 2), ("a:2", 9), ("b:0", 3), ("c:0", 3)];
        assert_eq!(merged(&EVENTS, &made_up).await, Ok(Stored { extra: 2, ..Stored::default() }), "rows of no event");
        let changed = [("a:0", 1), ("a:1", 7), ("b:0", 3)];
        assert_eq!(
            merged(&EVENTS, &changed).await,
            Ok(Stored { differing: 1, ..Stored::default() }),
            "a balance changed"
        );
        assert_eq!(merged(&EVENTS, &[]).await, Ok(Stored { missing: 3, ..Stored::default() }));
        assert_eq!(merged(&[], &EVENTS).await, Ok(Stored { extra: 3, ..Stored::default() }));
    }

    #[tokio::test]
    async fn out_of_order_input_is_an_error_not_a_miscount() {
        let err = merged(&EVENTS, &[("b:0", 3), ("a:0", 1)]).await.unwrap_err();
        assert!(err.contains("db-ge rows did not come in id order"), "{err}");
    }

    /// What the merge must count, by sets: every row looked up among the events.
    fn by_sets(events: &[(String, u64)], rows: &[(String, u64)]) -> Stored {
        let produced: HashMap<&String, u64> = events.iter().map(|(id, c)| (id, *c)).collect();
        let mut seen = HashSet::new();
        let mut s = Stored::default();
        for (id, content) in rows {
            match produced.get(id) {
                None => s.extra += 1,
                Some(event) => {
                    s.extra += usize::from(!seen.insert(id));
                    s.differing += usize::from(event != content);
                }
            }
        }
        s.missing = produced.keys().filter(|id| !seen.contains(*id)).count();
        s
    }

    #[tokio::test]
    async fn the_merge_counts_what_sets_count() {
        // Pseudo-random books over 40 ids: each event is stored 0, 1 or 2 times, sometimes changed; some rows of no
        // event. Ids sort as strings ("id10" < "id2"), as they do under COLLATE "C".
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut draw = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        for _ in 0..200 {
            let mut events: Vec<(String, u64)> =
                (0..40).filter(|_| draw(4) > 0).map(|i| (format!("id{i}"), i)).collect();
            let mut rows: Vec<(String, u64)> = Vec::new();
            for (id, c) in &events {
                for _ in 0..draw(3) {
                    rows.push((id.clone(), if draw(5) == 0 { c + 100 } else { *c }));
                }
            }
            rows.extend((0..draw(4)).map(|k| (format!("id{}", 40 + k), 0)));
            events.sort();
            rows.sort();
            let ev: Vec<(&str, u64)> = events.iter().map(|(i, c)| (i.as_str(), *c)).collect();
            let rw: Vec<(&str, u64)> = rows.iter().map(|(i, c)| (i.as_str(), *c)).collect();
            assert_eq!(merged(&ev, &rw).await, Ok(by_sets(&events, &rows)), "{ev:?} {rw:?}");
        }
    }

    #[test]
    fn fingerprints_tell_apart_rows_that_differ_in_one_column() {
        let row = ("NL01OPEN0000000001", 7000, -3000, "NL02OPEN0000000002", "rent");
        assert_eq!(fingerprint(row), fingerprint(row));
        assert_ne!(fingerprint(row), fingerprint(("NL01OPEN0000000001", 8234, -3000, "NL02OPEN0000000002", "rent")));
        assert_ne!(
            fingerprint(row),
            fingerprint(("NL01OPEN0000000001", 7000, -3000, "NL02OPEN0000000002r", "ent")),
            "column boundaries count"
        );
    }
}
