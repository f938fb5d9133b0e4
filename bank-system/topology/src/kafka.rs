//! Kafka client configurations with the properties an experiment sets in the environment (see [`crate::env`]
//! and [`crate::settings::KafkaProperties`]), so it can set any librdkafka property (linger.ms, acks,
//! batch.size, compression.type, ...) for every service at once.

use std::collections::BTreeMap;

use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::ClientConfig;
use uuid::Uuid;

/// The header carrying an event's id, `<command uuid>:<n>`.
pub const EVENT_ID_HEADER: &str = "event_id";

/// The id of the `n`-th event of a command's outcome.
pub fn event_id(command: Uuid, n: u32) -> String {
    format!("{command}:{n}")
}

/// Headers holding an event id.
pub fn event_id_headers(id: &str) -> OwnedHeaders {
    OwnedHeaders::new().insert(Header { key: EVENT_ID_HEADER, value: Some(id) })
}

/// The event id header of a message, if present and UTF-8.
pub fn event_id_of(headers: Option<&rdkafka::message::BorrowedHeaders>) -> Option<String> {
    headers?
        .iter()
        .find(|h| h.key == EVENT_ID_HEADER)
        .and_then(|h| h.value)
        .and_then(|v| std::str::from_utf8(v).ok())
        .map(str::to_string)
}

fn base(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap);
    config
}

/// Producer properties every service starts from; an experiment may override them.
///
/// The 2019 services used the Java client, which sends at most 5 requests per broker connection before
/// waiting for an answer; librdkafka's default is 1,000,000. With linger.ms=0 the Java limit is what gathers
/// the records that arrive while requests are in flight into the next request. Without it librdkafka sends
/// about one record per request, and with acks=all every request costs the brokers a replication round: on
/// this project's 2-core machine that capped the command handler near 250 commands/s, with the limit ~700.
///
/// Producers are idempotent: a retry after a lost answer (a broker restarting, say) neither writes a record twice
/// nor lets a later record of the same partition pass an earlier one, so an account's events stay in order.
pub const PRODUCER_DEFAULTS: &[(&str, &str)] = &[("max.in.flight.requests.per.connection", "5"), (IDEMPOTENCE, "true")];

const IDEMPOTENCE: &str = "enable.idempotence";

/// A producer configuration: `bootstrap` servers, [`PRODUCER_DEFAULTS`], then every property of `properties`
/// (the `KAFKA_PRODUCER_*` ones of the environment).
pub fn producer_config(bootstrap: &str, properties: &BTreeMap<String, String>) -> ClientConfig {
    let mut config = base(bootstrap);
    for (k, v) in PRODUCER_DEFAULTS {
        config.set(*k, *v);
    }
    for (k, v) in properties {
        config.set(k, v);
    }
    if !properties.contains_key(IDEMPOTENCE) && !idempotence_possible(&config) {
        // An experiment that lowers acks (or raises the requests in flight) measures a producer that cannot be
        // idempotent, and librdkafka refuses the pair: the default gives way to what the experiment asked for.
        config.set(IDEMPOTENCE, "false");
    }
    config
}

/// Whether librdkafka accepts `config` with idempotence: acks=all and at most 5 requests in flight.
fn idempotence_possible(config: &ClientConfig) -> bool {
    let acks_all = config.get("acks").is_none_or(|a| matches!(a.trim(), "all" | "-1"));
    let in_flight = config.get("max.in.flight.requests.per.connection").or_else(|| config.get("max.in.flight"));
    acks_all && in_flight.is_none_or(|n| n.trim().parse::<u32>().is_ok_and(|n| n <= 5))
}

/// Whether `config` makes an idempotent producer.
pub fn is_idempotent(config: &ClientConfig) -> bool {
    config.get(IDEMPOTENCE).is_some_and(|v| v.trim() == "true")
}

/// A consumer configuration of `bootstrap` servers for `group_id` with at-least-once defaults (offsets are
/// stored by the service only after its work is done), then every property of `properties` (the
/// `KAFKA_CONSUMER_*` ones of the environment).
pub fn consumer_config(bootstrap: &str, properties: &BTreeMap<String, String>, group_id: &str) -> ClientConfig {
    let mut config = base(bootstrap);
    config
        .set("group.id", group_id)
        .set("enable.auto.commit", "true")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest");
    for (k, v) in properties {
        config.set(k, v);
    }
    config
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    #[test]
    fn experiment_properties_reach_the_client_config() {
        let producer = BTreeMap::from([("linger.ms".to_string(), "25".to_string())]);
        let consumer = BTreeMap::from([("auto.offset.reset".to_string(), "latest".to_string())]);
        let producer = super::producer_config("127.0.0.1:1", &producer);
        assert_eq!(producer.get("linger.ms"), Some("25"));
        assert_eq!(producer.get("bootstrap.servers"), Some("127.0.0.1:1"));
        assert_eq!(producer.get("max.in.flight.requests.per.connection"), Some("5"), "the Java client's limit");
        assert_eq!(producer.get("enable.idempotence"), Some("true"));
        let consumer = super::consumer_config("127.0.0.1:1", &consumer, "g");
        assert_eq!(consumer.get("auto.offset.reset"), Some("latest"));
        assert_eq!(consumer.get("enable.auto.offset.store"), Some("false"));
        assert_eq!(consumer.get("linger.ms"), None);
    }

    #[test]
    fn idempotence_gives_way_only_to_settings_it_cannot_have() {
        let config = |pairs: &[(&str, &str)]| {
            let properties = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            super::producer_config("127.0.0.1:1", &properties).get("enable.idempotence").map(str::to_string)
        };
        assert_eq!(config(&[("acks", "all")]).as_deref(), Some("true"));
        assert_eq!(config(&[("acks", "-1")]).as_deref(), Some("true"));
        assert_eq!(config(&[("acks", "1")]).as_deref(), Some("false"));
        assert_eq!(config(&[("acks", "0")]).as_deref(), Some("false"));
        assert_eq!(config(&[("max.in.flight.requests.per.connection", "6")]).as_deref(), Some("false"));
        assert_eq!(config(&[("max.in.flight.requests.per.connection", "1")]).as_deref(), Some("true"));
        assert_eq!(
            config(&[("enable.idempotence", "false")]).as_deref(),
            Some("false"),
            "an experiment may turn it off"
        );
        assert_eq!(
            config(&[("acks", "1"), ("enable.idempotence", "true")]).as_deref(),
            Some("true"),
            "asked for both: librdkafka says no"
        );
    }

    #[test]
    fn event_ids_name_the_command_and_the_position() {
        let id = uuid::Uuid::nil();
        assert_eq!(super::event_id(id, 2), "00000000-0000-0000-0000-000000000000:2");
    }
}
