//! Writes the avro target's seeds: one valid wire-format payload per bank record, made by topology's encoder
//! (`cargo run --manifest-path fuzz/Cargo.toml --example avro_seeds -- fuzz/seeds/avro`).

use std::path::PathBuf;

use topology::records::{schema, Record};
use topology::registry::encode_with;
use uuid::Uuid;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::args().nth(1).ok_or("usage: avro_seeds <folder>")?);
    std::fs::create_dir_all(&dir)?;
    let id = Uuid::from_u64_pair(0x0102_0304_0506_0708, 0x090a_0b0c_0d0e_0f10);
    let (iban, other) = ("NL66OPEN0000000000".to_string(), "NL11OPEN0000000001".to_string());
    let records = [
        Record::ConfirmAccountCreation { id, username: "alice".into() },
        Record::AccountCreationConfirmed { id, iban: iban.clone(), token: "abcdefghijklmnopqrst".into() },
        Record::AccountCreationFailed { id, reason: "username taken".into() },
        Record::ConfirmMoneyTransfer {
            id,
            token: "cash".into(),
            amount: 12_345,
            from: "cash".into(),
            to: iban.clone(),
            description: "deposit".into(),
        },
        Record::MoneyTransferConfirmed { id },
        Record::MoneyTransferFailed { id, reason: "insufficient funds".into() },
        Record::BalanceChanged {
            iban,
            new_balance: -50_000,
            changed_by: i64::MIN,
            from_to: other,
            description: "ünïcode ✓".into(),
        },
    ];
    for (n, record) in (1u32..).zip(&records) {
        let schema = schema(record.name()).ok_or("a bank record without a schema")?;
        let bytes = encode_with(n, &schema, record)?;
        std::fs::write(dir.join(format!("{}.bin", record.name())), bytes)?;
    }
    Ok(())
}
