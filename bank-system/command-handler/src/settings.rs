//! The command handler's settings, read by clap from arguments or, in its container, from the environment
//! (see [`topology::env`]); the librdkafka properties come from the environment alone.

use clap::Parser;
pub use topology::settings::WithKafkaProperties;
use topology::settings::{self, KafkaProperties, ServiceSettings};

/// The port of `/health` and `/stats` unless `HTTP_PORT` says otherwise.
pub const DEFAULT_PORT: u16 = 8091;

/// Applies bank commands from Kafka to db-ch and emits feedback and BalanceChanged events. Every setting is an
/// argument or the environment variable named in its help.
#[derive(Parser, Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    #[command(flatten)]
    pub service: ServiceSettings<DEFAULT_PORT>,
    /// Messages handled at once; each partition stays with one worker, in order.
    #[arg(long, env = "WORKERS", default_value_t = 16)]
    pub workers: usize,
    /// The consumer group of the handlers.
    #[arg(long, env = "GROUP_ID", default_value = "command-handler")]
    pub group_id: String,
}

impl Settings {
    /// The experiment's producer properties, except that the handler never gives up on an event (librdkafka's
    /// `message.timeout.ms` = 0, whatever the experiment sets for the other producers) and, when idempotent,
    /// fails whole rather than leave a gap: a later event of an account then never lands before an earlier one
    /// (see [`crate::consumer`]). Nobody waits on the handler's events with a deadline of their own; the
    /// endpoint answers its clients by its command timeout.
    pub fn producer_config(&self) -> rdkafka::ClientConfig {
        let mut config = self.service.producer_config();
        config.remove("delivery.timeout.ms");
        config.set("message.timeout.ms", "0");
        if topology::kafka::is_idempotent(&config) {
            config.set("enable.gapless.guarantee", "true");
        }
        config
    }
}

impl settings::WithKafkaProperties for Settings {
    fn kafka_properties(&mut self) -> &mut KafkaProperties {
        &mut self.service.properties
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_need_only_the_database() {
        let s =
            Settings::from_vars(vars(&[("DATABASE_URL", "postgres://db-ch"), ("KAFKA_PRODUCER_ACKS", "all")])).unwrap();
        assert_eq!(s.service.database_url, "postgres://db-ch");
        assert_eq!(s.service.http.address(), "127.0.0.1:8091".parse().unwrap());
        assert_eq!((s.workers, s.group_id.as_str()), (16, "command-handler"));
        assert_eq!(s.service.producer_config().get("acks"), Some("all"));
        let s = Settings::from_vars(vars(&[("DATABASE_URL", "d"), ("WORKERS", "4"), ("GROUP_ID", "g")])).unwrap();
        assert_eq!((s.workers, s.group_id.as_str()), (4, "g"));
    }

    #[test]
    fn an_idempotent_producer_never_gives_up_and_never_leaves_a_gap() {
        let producer = |pairs: &[(&str, &str)]| {
            let mut all = vec![("DATABASE_URL", "d")];
            all.extend_from_slice(pairs);
            Settings::from_vars(vars(&all)).unwrap().producer_config()
        };
        let default = producer(&[]);
        assert_eq!(default.get("enable.idempotence"), Some("true"));
        assert_eq!(default.get("enable.gapless.guarantee"), Some("true"));
        assert_eq!(default.get("message.timeout.ms"), Some("0"), "0 is librdkafka's 'never'");
        let timed =
            producer(&[("KAFKA_PRODUCER_MESSAGE_TIMEOUT_MS", "5000"), ("KAFKA_PRODUCER_DELIVERY_TIMEOUT_MS", "5000")]);
        assert_eq!(timed.get("message.timeout.ms"), Some("0"), "an experiment's timeout is not the handler's");
        assert_eq!(timed.get("delivery.timeout.ms"), None, "nor its alias");
        let acks_one = producer(&[("KAFKA_PRODUCER_ACKS", "1")]);
        assert_eq!(acks_one.get("enable.idempotence"), Some("false"));
        assert_eq!(acks_one.get("enable.gapless.guarantee"), None, "librdkafka refuses it without idempotence");
    }

    #[test]
    fn missing_and_bad_values_name_the_variable() {
        let missing = Settings::from_vars(Vec::new()).unwrap_err().to_string();
        assert!(missing.contains("DATABASE_URL"), "{missing}");
        let bad = Settings::from_vars(vars(&[("DATABASE_URL", "d"), ("WORKERS", "many")])).unwrap_err().to_string();
        assert!(bad.contains("WORKERS") && bad.contains("many"), "{bad}");
    }
}
