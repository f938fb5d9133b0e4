-- GraphQL endpoint state (db-ge). Applied at start by the endpoint and by bench; idempotent.
CREATE TABLE IF NOT EXISTS cac (
    username      TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    uuid          UUID NOT NULL
);

-- One row per BalanceChanged event, keyed by its event_id header so a re-delivery stores nothing twice.
CREATE TABLE IF NOT EXISTS transaction (
    id          SERIAL PRIMARY KEY,
    event_id    TEXT   NOT NULL UNIQUE,
    iban        TEXT   NOT NULL,
    new_balance BIGINT NOT NULL,
    changed_by  BIGINT NOT NULL,
    from_to     TEXT   NOT NULL,
    descr       TEXT   NOT NULL
);
CREATE INDEX IF NOT EXISTS transaction_by_iban ON transaction (iban, id DESC);
