//! The GraphQL schema of docs/bank.md, names as in 2019 so old clients keep working.

use async_graphql::{Context, Enum, Object, Result, Schema, SimpleObject, Subscription};
use futures_util::{Stream, StreamExt};
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;
use topology::money::euros;

use crate::answers::{AccountResult, MoneyTransferResult};
use crate::commands::{check_text, Commands, TransferRequest, MAX_DESCR_BYTES, MAX_IBAN_BYTES};
use crate::store::{Store, StoreError, StoredTransaction};

pub type BankSchema = Schema<Query, async_graphql::EmptyMutation, SubscriptionRoot>;

/// Deeper documents are refused before they run: the bank's own queries nest 3 levels, introspection by GraphiQL
/// about 13.
pub const MAX_DEPTH: usize = 16;
/// The work a document may ask for: each field counts 1, and a list's fields once per row it may return
/// (`max_items` of `transactions_by_iban`, [`ALL_LAST_ROWS`] for `all_last_transactions`), so aliasing a large
/// page many times is refused. One full page of 1,000 transactions with every field costs 7,001; introspection
/// by GraphiQL a few hundred.
pub const MAX_COMPLEXITY: usize = 10_000;
/// The rows `all_last_transactions` is weighed as: one per account, which a document cannot bound.
pub const ALL_LAST_ROWS: usize = 1000;
/// Nesting the parser follows (values and selections alike), so a document cannot exhaust its stack.
pub const MAX_RECURSIVE_DEPTH: usize = 32;

/// Direction of a transaction as seen from its account.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "dtype")]
pub enum Direction {
    #[graphql(name = "DEBIT")]
    Debit,
    #[graphql(name = "CREDIT")]
    Credit,
}

#[derive(SimpleObject, Clone, Debug, PartialEq)]
#[graphql(rename_fields = "snake_case")]
pub struct Transaction {
    pub id: i32,
    pub iban: Option<String>,
    pub new_balance: Option<String>,
    pub changed_by: Option<String>,
    pub from_to: Option<String>,
    pub descr: Option<String>,
    pub direction: Option<Direction>,
}

impl From<&StoredTransaction> for Transaction {
    fn from(t: &StoredTransaction) -> Self {
        Transaction {
            id: t.id,
            iban: Some(t.iban.clone()),
            new_balance: Some(euros(t.new_balance)),
            changed_by: Some(euros(t.changed_by.saturating_abs())),
            from_to: Some(t.from_to.clone()),
            descr: Some(t.descr.clone()),
            direction: Some(if t.changed_by < 0 { Direction::Debit } else { Direction::Credit }),
        }
    }
}

/// Largest page of `transactions_by_iban`.
const MAX_ITEMS: i32 = 1000;

pub struct Query;

/// A store result for a client: a failure becomes [`crate::store::STORE_FAILED`], its detail logged.
fn stored<T>(result: std::result::Result<T, StoreError>) -> Result<T> {
    result.map_err(|e| e.for_client().into())
}

#[Object(rename_fields = "snake_case", rename_args = "snake_case")]
impl Query {
    async fn transaction_by_id(&self, ctx: &Context<'_>, id: i32) -> Result<Option<Transaction>> {
        Ok(stored(ctx.data::<Store>()?.transaction_by_id(id).await)?.as_ref().map(Transaction::from))
    }

    /// Newest first, at most `max_items` (0 to 1000).
    #[graphql(complexity = "(max_items.clamp(1, MAX_ITEMS) as usize) * child_complexity")]
    async fn transactions_by_iban(
        &self,
        ctx: &Context<'_>,
        iban: String,
        max_items: i32,
    ) -> Result<Option<Vec<Option<Transaction>>>> {
        if !(0..=MAX_ITEMS).contains(&max_items) {
            return Err(format!("max_items must be between 0 and {MAX_ITEMS}, got {max_items}").into());
        }
        let rows = stored(ctx.data::<Store>()?.transactions_by_iban(&iban, max_items.into()).await)?;
        Ok(Some(rows.iter().map(|t| Some(t.into())).collect()))
    }

    /// The newest transaction of every IBAN.
    #[graphql(complexity = "ALL_LAST_ROWS * child_complexity")]
    async fn all_last_transactions(&self, ctx: &Context<'_>) -> Result<Option<Vec<Option<Transaction>>>> {
        let rows = stored(ctx.data::<Store>()?.all_last_transactions().await)?;
        Ok(Some(rows.iter().map(|t| Some(t.into())).collect()))
    }
}

/// The filters of `stream_transactions`; `descr_includes` is kept in lower case (see [`Filter::new`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub iban: Option<String>,
    pub min_amount: Option<i64>,
    pub max_amount: Option<i64>,
    pub direction: Option<Direction>,
    pub descr_includes: Option<String>,
}

impl Filter {
    /// The filter of a subscription's arguments: texts bounded as a command's are, the substring lower-cased once.
    pub fn new(
        iban: Option<String>,
        min_amount: Option<i64>,
        max_amount: Option<i64>,
        direction: Option<Direction>,
        descr_includes: Option<String>,
    ) -> std::result::Result<Filter, String> {
        let too_long = iban.as_deref().and_then(|i| check_text("iban", i, MAX_IBAN_BYTES));
        if let Some(reason) = too_long
            .or_else(|| descr_includes.as_deref().and_then(|d| check_text("descr_includes", d, MAX_DESCR_BYTES)))
        {
            return Err(reason);
        }
        Ok(Filter { iban, min_amount, max_amount, direction, descr_includes: descr_includes.map(|d| d.to_lowercase()) })
    }

    /// min_amount ≤ signed change ≤ max_amount (cents), direction, and a case-insensitive description substring.
    pub fn matches(&self, t: &StoredTransaction) -> bool {
        let direction = if t.changed_by < 0 { Direction::Debit } else { Direction::Credit };
        self.iban.as_ref().is_none_or(|i| *i == t.iban)
            && self.min_amount.is_none_or(|m| t.changed_by >= m)
            && self.max_amount.is_none_or(|m| t.changed_by <= m)
            && self.direction.is_none_or(|d| d == direction)
            && self.descr_includes.as_ref().is_none_or(|s| t.descr.to_lowercase().contains(s.as_str()))
    }
}

pub struct SubscriptionRoot;

/// How many `stream_transactions` subscriptions are open (served on `/stats`).
#[derive(Clone, Default)]
pub struct LiveSubscriptions(std::sync::Arc<std::sync::atomic::AtomicUsize>);

/// Counts one open subscription until dropped with its stream.
pub struct LiveGuard(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl LiveSubscriptions {
    pub fn enter(&self) -> LiveGuard {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        LiveGuard(self.0.clone())
    }

    pub fn count(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

#[Subscription(rename_fields = "snake_case", rename_args = "snake_case")]
impl SubscriptionRoot {
    async fn stream_transactions(
        &self,
        ctx: &Context<'_>,
        iban: Option<String>,
        min_amount: Option<i32>,
        max_amount: Option<i32>,
        direction: Option<Direction>,
        descr_includes: Option<String>,
    ) -> Result<impl Stream<Item = Option<Transaction>>> {
        let filter =
            Filter::new(iban, min_amount.map(i64::from), max_amount.map(i64::from), direction, descr_includes)?;
        let receiver = ctx.data::<broadcast::Sender<StoredTransaction>>()?.subscribe();
        let live = ctx.data::<LiveSubscriptions>()?.enter();
        let stream = BroadcastStream::new(receiver).filter_map(move |item| {
            let _live = &live;
            let out = match item {
                Ok(t) if filter.matches(&t) => Some(Some(Transaction::from(&t))),
                Ok(_) => None,
                Err(e) => {
                    tracing::warn!("a slow subscription missed transactions: {e}");
                    None
                }
            };
            async move { out }
        });
        Ok(stream)
    }

    async fn get_account(
        &self,
        ctx: &Context<'_>,
        username: String,
        password: String,
    ) -> Result<impl Stream<Item = Option<AccountResult>>> {
        let commands = ctx.data::<Commands>()?.clone();
        Ok(futures_util::stream::once(async move { Some(commands.get_account(&username, &password).await) }))
    }

    #[allow(clippy::too_many_arguments)]
    async fn money_transfer(
        &self,
        ctx: &Context<'_>,
        uuid: String,
        username: String,
        token: String,
        amount: i32,
        from: String,
        to: String,
        descr: String,
    ) -> Result<impl Stream<Item = Option<MoneyTransferResult>>> {
        let commands = ctx.data::<Commands>()?.clone();
        let request = TransferRequest { uuid, username, token, amount: amount.into(), from, to, descr };
        Ok(futures_util::stream::once(async move { Some(commands.money_transfer(request).await) }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(changed_by: i64, descr: &str) -> StoredTransaction {
        StoredTransaction {
            id: 1,
            iban: "NL66OPEN0000000000".into(),
            new_balance: 0,
            changed_by,
            from_to: "x".into(),
            descr: descr.into(),
        }
    }

    #[test]
    fn filters_follow_the_design() {
        let debit = t(-500, "Groceries at the market");
        let credit = t(1000, "deposit");
        assert!(Filter::default().matches(&debit));
        let positive_min = Filter { min_amount: Some(1), ..Filter::default() };
        assert!(!positive_min.matches(&debit), "a positive min_amount excludes debits");
        assert!(positive_min.matches(&credit));
        assert!(Filter { max_amount: Some(-500), ..Filter::default() }.matches(&debit), "bounds are inclusive");
        assert!(Filter { direction: Some(Direction::Debit), ..Filter::default() }.matches(&debit));
        assert!(!Filter { direction: Some(Direction::Debit), ..Filter::default() }.matches(&credit));
        let including = |s: &str| Filter::new(None, None, None, None, Some(s.into())).unwrap();
        assert!(including("GROCER").matches(&debit));
        assert!(!including("fine").matches(&debit));
        let long = "x".repeat(MAX_DESCR_BYTES + 1);
        assert!(Filter::new(None, None, None, None, Some(long))
            .unwrap_err()
            .contains("descr_includes must be at most"));
        assert!(Filter::new(Some("NL\0".into()), None, None, None, None).unwrap_err().contains("control characters"));
        assert!(!Filter { iban: Some("NL00".into()), ..Filter::default() }.matches(&debit));
    }

    #[test]
    fn transactions_show_absolute_changes_and_direction() {
        let shown = Transaction::from(&t(-1111, "drinks"));
        assert_eq!(shown.changed_by.as_deref(), Some("€11,11"));
        assert_eq!(shown.direction, Some(Direction::Debit));
    }
}
