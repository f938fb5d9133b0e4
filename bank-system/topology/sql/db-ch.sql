-- Command handler state (db-ch). Applied at start by the command handler and by bench; idempotent.
CREATE TABLE IF NOT EXISTS account (
    iban     TEXT PRIMARY KEY,
    username TEXT   NOT NULL,
    token    TEXT   NOT NULL,
    balance  BIGINT NOT NULL DEFAULT 0,
    lmt      BIGINT NOT NULL DEFAULT -50000
);

-- One row per handled command: a replay answers from here instead of applying the command again.
CREATE TABLE IF NOT EXISTS command_outcome (
    command_id  UUID PRIMARY KEY,
    kind        TEXT    NOT NULL CHECK (kind IN ('account_creation', 'money_transfer')),
    command_key TEXT    NOT NULL,
    success     BOOLEAN NOT NULL,
    reason      TEXT,
    iban        TEXT,
    token       TEXT,
    amount      BIGINT,
    from_party  TEXT,
    to_party    TEXT,
    handled_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The BalanceChanged events a transfer produced, re-emitted with the same event_id on a replay.
CREATE TABLE IF NOT EXISTS balance_event (
    command_id  UUID   NOT NULL REFERENCES command_outcome (command_id),
    n           INT    NOT NULL,
    username    TEXT   NOT NULL,
    iban        TEXT   NOT NULL,
    new_balance BIGINT NOT NULL,
    changed_by  BIGINT NOT NULL,
    from_to     TEXT   NOT NULL,
    description TEXT   NOT NULL,
    PRIMARY KEY (command_id, n)
);

INSERT INTO account (iban, username, token, balance, lmt)
VALUES ('NL66OPEN0000000000', 'open_web', '00000000000000000000', 100000000000000000, -50000)
ON CONFLICT (iban) DO NOTHING;
