//! The bank's topics (docs/bank.md): name, default partitions and replication, records, configs.

/// Namespace of every record.
pub const NAMESPACE: &str = "nl.openweb.data";

/// One topic of the topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Topic {
    pub name: &'static str,
    pub partitions: i32,
    pub replication: i32,
    /// Record names (without namespace) this topic carries.
    pub records: &'static [&'static str],
    pub configs: &'static [(&'static str, &'static str)],
}

const KEEP_FOREVER: &[(&str, &str)] = &[("retention.ms", "-1")];

pub const COMMANDS: &str = "commands";
pub const ACCOUNT_CREATION_FEEDBACK: &str = "account_creation_feedback";
pub const MONEY_TRANSFER_FEEDBACK: &str = "money_transfer_feedback";
pub const BALANCE_CHANGED: &str = "balance_changed";

/// Every topic of the bank.
pub const TOPICS: &[Topic] = &[
    Topic {
        name: COMMANDS,
        partitions: 24,
        replication: 3,
        records: &["ConfirmAccountCreation", "ConfirmMoneyTransfer"],
        configs: KEEP_FOREVER,
    },
    Topic {
        name: ACCOUNT_CREATION_FEEDBACK,
        partitions: 24,
        replication: 3,
        records: &["AccountCreationConfirmed", "AccountCreationFailed"],
        configs: KEEP_FOREVER,
    },
    Topic {
        name: MONEY_TRANSFER_FEEDBACK,
        partitions: 24,
        replication: 3,
        records: &["MoneyTransferConfirmed", "MoneyTransferFailed"],
        configs: KEEP_FOREVER,
    },
    Topic {
        name: BALANCE_CHANGED,
        partitions: 24,
        replication: 3,
        records: &["BalanceChanged"],
        configs: KEEP_FOREVER,
    },
];

/// The subject of a record on a topic (TopicRecordNameStrategy): `<topic>-<namespace>.<record>`.
pub fn subject(topic: &str, record: &str) -> String {
    format!("{topic}-{NAMESPACE}.{record}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_follow_topic_record_name_strategy() {
        assert_eq!(subject(COMMANDS, "ConfirmMoneyTransfer"), "commands-nl.openweb.data.ConfirmMoneyTransfer");
        let records: usize = TOPICS.iter().map(|t| t.records.len()).sum();
        assert_eq!(records, 7);
    }
}
