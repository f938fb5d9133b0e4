//! The seven Avro records of the bank (namespace `nl.openweb.data`), as the 2019 schemas define them,
//! and their conversion to and from Avro values.

use apache_avro::types::Value;
use apache_avro::Schema;
use uuid::Uuid;

use crate::topics::NAMESPACE;

const UUID_FIXED: &str = r#"{"type":"fixed","name":"Uuid","size":16}"#;

/// Schema JSON of a record; `Uuid` is defined inline where a record uses it, so every schema stands alone.
pub fn schema_json(record: &str) -> Option<String> {
    let uuid_field = format!(r#"{{"name":"id","type":{UUID_FIXED}}}"#);
    let s = |name: &str| format!(r#"{{"name":"{name}","type":"string"}}"#);
    let l = |name: &str| format!(r#"{{"name":"{name}","type":"long"}}"#);
    let fields: Vec<String> = match record {
        "ConfirmAccountCreation" => vec![uuid_field, s("username")],
        "AccountCreationConfirmed" => vec![uuid_field, s("iban"), s("token")],
        "AccountCreationFailed" => vec![uuid_field, s("reason")],
        "ConfirmMoneyTransfer" => vec![uuid_field, s("token"), l("amount"), s("from"), s("to"), s("description")],
        "MoneyTransferConfirmed" => vec![uuid_field],
        "MoneyTransferFailed" => vec![uuid_field, s("reason")],
        "BalanceChanged" => vec![s("iban"), l("new_balance"), l("changed_by"), s("from_to"), s("description")],
        _ => return None,
    };
    Some(format!(r#"{{"type":"record","name":"{record}","namespace":"{NAMESPACE}","fields":[{}]}}"#, fields.join(",")))
}

/// The parsed schema of a record.
pub fn schema(record: &str) -> Option<Schema> {
    schema_json(record).and_then(|json| Schema::parse_str(&json).ok())
}

/// Every record name.
pub const RECORD_NAMES: &[&str] = &[
    "ConfirmAccountCreation",
    "AccountCreationConfirmed",
    "AccountCreationFailed",
    "ConfirmMoneyTransfer",
    "MoneyTransferConfirmed",
    "MoneyTransferFailed",
    "BalanceChanged",
];

/// A bank record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    ConfirmAccountCreation { id: Uuid, username: String },
    AccountCreationConfirmed { id: Uuid, iban: String, token: String },
    AccountCreationFailed { id: Uuid, reason: String },
    ConfirmMoneyTransfer { id: Uuid, token: String, amount: i64, from: String, to: String, description: String },
    MoneyTransferConfirmed { id: Uuid },
    MoneyTransferFailed { id: Uuid, reason: String },
    BalanceChanged { iban: String, new_balance: i64, changed_by: i64, from_to: String, description: String },
}

/// A value that does not fit the record it claims to be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{record}: {problem}")]
pub struct ShapeError {
    pub record: String,
    pub problem: String,
}

impl Record {
    /// The record's name without namespace.
    pub fn name(&self) -> &'static str {
        match self {
            Record::ConfirmAccountCreation { .. } => "ConfirmAccountCreation",
            Record::AccountCreationConfirmed { .. } => "AccountCreationConfirmed",
            Record::AccountCreationFailed { .. } => "AccountCreationFailed",
            Record::ConfirmMoneyTransfer { .. } => "ConfirmMoneyTransfer",
            Record::MoneyTransferConfirmed { .. } => "MoneyTransferConfirmed",
            Record::MoneyTransferFailed { .. } => "MoneyTransferFailed",
            Record::BalanceChanged { .. } => "BalanceChanged",
        }
    }

    /// The Avro value, fields in schema order.
    pub fn to_value(&self) -> Value {
        let id = |u: &Uuid| ("id".to_string(), Value::Fixed(16, u.as_bytes().to_vec()));
        let s = |k: &str, v: &str| (k.to_string(), Value::String(v.to_string()));
        let l = |k: &str, v: i64| (k.to_string(), Value::Long(v));
        Value::Record(match self {
            Record::ConfirmAccountCreation { id: i, username } => vec![id(i), s("username", username)],
            Record::AccountCreationConfirmed { id: i, iban, token } => vec![id(i), s("iban", iban), s("token", token)],
            Record::AccountCreationFailed { id: i, reason } => vec![id(i), s("reason", reason)],
            Record::ConfirmMoneyTransfer { id: i, token, amount, from, to, description } => vec![
                id(i),
                s("token", token),
                l("amount", *amount),
                s("from", from),
                s("to", to),
                s("description", description),
            ],
            Record::MoneyTransferConfirmed { id: i } => vec![id(i)],
            Record::MoneyTransferFailed { id: i, reason } => vec![id(i), s("reason", reason)],
            Record::BalanceChanged { iban, new_balance, changed_by, from_to, description } => vec![
                s("iban", iban),
                l("new_balance", *new_balance),
                l("changed_by", *changed_by),
                s("from_to", from_to),
                s("description", description),
            ],
        })
    }

    /// Reads a decoded Avro value as the record `name`.
    ///
    /// # Errors
    /// [`ShapeError`] naming the record and the missing or mistyped field.
    pub fn from_value(name: &str, value: Value) -> Result<Record, ShapeError> {
        let shape = |problem: String| ShapeError { record: name.to_string(), problem };
        let Value::Record(fields) = value else { return Err(shape("not a record".to_string())) };
        let mut fields: std::collections::HashMap<String, Value> = fields.into_iter().collect();
        let mut take = |k: &str| fields.remove(k).ok_or_else(|| shape(format!("field {k} is missing")));
        fn string(v: Value, k: &str) -> Result<String, String> {
            match v {
                Value::String(s) => Ok(s),
                other => Err(format!("field {k} is not a string: {other:?}")),
            }
        }
        fn long(v: Value, k: &str) -> Result<i64, String> {
            match v {
                Value::Long(n) => Ok(n),
                Value::Int(n) => Ok(n.into()),
                other => Err(format!("field {k} is not a long: {other:?}")),
            }
        }
        fn uuid(v: Value) -> Result<Uuid, String> {
            match v {
                Value::Fixed(16, bytes) => Uuid::from_slice(&bytes).map_err(|e| e.to_string()),
                other => Err(format!("field id is not a 16-byte fixed: {other:?}")),
            }
        }
        let record = match name {
            "ConfirmAccountCreation" => Record::ConfirmAccountCreation {
                id: uuid(take("id")?).map_err(shape)?,
                username: string(take("username")?, "username").map_err(shape)?,
            },
            "AccountCreationConfirmed" => Record::AccountCreationConfirmed {
                id: uuid(take("id")?).map_err(shape)?,
                iban: string(take("iban")?, "iban").map_err(shape)?,
                token: string(take("token")?, "token").map_err(shape)?,
            },
            "AccountCreationFailed" => Record::AccountCreationFailed {
                id: uuid(take("id")?).map_err(shape)?,
                reason: string(take("reason")?, "reason").map_err(shape)?,
            },
            "ConfirmMoneyTransfer" => Record::ConfirmMoneyTransfer {
                id: uuid(take("id")?).map_err(shape)?,
                token: string(take("token")?, "token").map_err(shape)?,
                amount: long(take("amount")?, "amount").map_err(shape)?,
                from: string(take("from")?, "from").map_err(shape)?,
                to: string(take("to")?, "to").map_err(shape)?,
                description: string(take("description")?, "description").map_err(shape)?,
            },
            "MoneyTransferConfirmed" => Record::MoneyTransferConfirmed { id: uuid(take("id")?).map_err(shape)? },
            "MoneyTransferFailed" => Record::MoneyTransferFailed {
                id: uuid(take("id")?).map_err(shape)?,
                reason: string(take("reason")?, "reason").map_err(shape)?,
            },
            "BalanceChanged" => Record::BalanceChanged {
                iban: string(take("iban")?, "iban").map_err(shape)?,
                new_balance: long(take("new_balance")?, "new_balance").map_err(shape)?,
                changed_by: long(take("changed_by")?, "changed_by").map_err(shape)?,
                from_to: string(take("from_to")?, "from_to").map_err(shape)?,
                description: string(take("description")?, "description").map_err(shape)?,
            },
            other => return Err(shape(format!("{other} is not a bank record"))),
        };
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Record> {
        let id = Uuid::new_v4();
        vec![
            Record::ConfirmAccountCreation { id, username: "u".into() },
            Record::AccountCreationConfirmed { id, iban: "NL66OPEN0000000000".into(), token: "1".repeat(20) },
            Record::AccountCreationFailed { id, reason: "r".into() },
            Record::ConfirmMoneyTransfer {
                id,
                token: "cash".into(),
                amount: i64::MAX,
                from: "cash".into(),
                to: "NL66OPEN0000000000".into(),
                description: "deposit".into(),
            },
            Record::MoneyTransferConfirmed { id },
            Record::MoneyTransferFailed { id, reason: "insufficient funds".into() },
            Record::BalanceChanged {
                iban: "x".into(),
                new_balance: -50_000,
                changed_by: -1,
                from_to: "y".into(),
                description: "z".into(),
            },
        ]
    }

    #[test]
    fn every_record_round_trips_through_avro_binary() {
        for record in samples() {
            let schema = schema(record.name()).expect("schema parses");
            let bytes = apache_avro::to_avro_datum(&schema, record.to_value()).expect("encodes");
            let value = apache_avro::from_avro_datum(&schema, &mut bytes.as_slice(), None).expect("decodes");
            assert_eq!(Record::from_value(record.name(), value).unwrap(), record);
        }
        assert_eq!(samples().len(), RECORD_NAMES.len());
    }

    #[test]
    fn uuid_is_big_endian_msb_then_lsb() {
        let id = Uuid::from_u64_pair(0x0102030405060708, 0x090a0b0c0d0e0f10);
        let Value::Record(fields) = Record::MoneyTransferConfirmed { id }.to_value() else { panic!() };
        assert_eq!(fields[0].1, Value::Fixed(16, (1..=16).collect()));
    }
}
