//! The endpoint's settings, read by clap from arguments or, in its container, from the environment (see
//! [`topology::env`]); the librdkafka properties come from the environment alone.

use std::time::Duration;

use axum::http::HeaderValue;
use clap::Parser;
use rdkafka::ClientConfig;
pub use topology::settings::WithKafkaProperties;
use topology::settings::{self, KafkaProperties, ServiceSettings};

/// The port of GraphQL, websockets, `/health` and `/stats` unless `HTTP_PORT` says otherwise.
pub const DEFAULT_PORT: u16 = 8888;

/// The bank's GraphQL API: queries and subscriptions over HTTP and websockets. Every setting is an argument
/// or the environment variable named in its help.
#[derive(Parser, Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    #[command(flatten)]
    pub service: ServiceSettings<DEFAULT_PORT>,
    #[command(flatten)]
    pub https: topology::https::HttpsSettings,
    #[command(flatten)]
    pub limits: topology::server::Limits,
    /// Names this instance's consumer group; every instance needs its own to see all feedback.
    #[arg(long, env = "INSTANCE_ID", default_value = "1")]
    pub instance_id: String,
    /// The origins browsers may call from, comma-separated.
    #[arg(long, env = "CORS_ORIGINS", default_value = "http://localhost:8181,http://127.0.0.1:8181", value_parser = origins)]
    pub cors_origins: Origins,
    /// Milliseconds a command (`get_account`, `money_transfer`) may take in all, Kafka's acknowledgement and the
    /// bank's answer included, before the client is answered with a reason.
    #[arg(long, env = "COMMAND_TIMEOUT_MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub command_timeout_ms: u64,
    /// Milliseconds one use of db-ge (waiting for a connection and its statements) may take before the query,
    /// login or stored event fails with a reason (stored events are retried).
    #[arg(long, env = "STORE_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub store_timeout_ms: u64,
    /// Commands (`get_account`, `money_transfer`) the endpoint holds at once, each until it is answered; a further
    /// one is answered at once as overloaded, without being sent. Bounds the endpoint's memory under any load.
    #[arg(long, env = "MAX_COMMANDS_IN_FLIGHT", default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_commands_in_flight: u32,
    /// Milliseconds a new websocket may take to send its first message (`connection_init`, or a legacy
    /// client's `start`) before it is closed.
    #[arg(long, env = "CONNECTION_INIT_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub connection_init_timeout_ms: u64,
    /// Milliseconds a websocket with no operation open may stay silent before it is closed; one following a
    /// subscription is never idle.
    #[arg(long, env = "WS_IDLE_TIMEOUT_MS", default_value_t = 300_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub ws_idle_timeout_ms: u64,
    /// Subscriptions one websocket may have open at once; a further one is refused with a GraphQL error.
    #[arg(long, env = "MAX_SUBSCRIPTIONS_PER_SOCKET", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_subscriptions_per_socket: u32,
}

/// The producer properties that bound how long librdkafka keeps a message; `delivery.timeout.ms` is an alias.
const MESSAGE_TIMEOUTS: [&str; 2] = ["message.timeout.ms", "delivery.timeout.ms"];

impl Settings {
    pub fn command_timeout(&self) -> Duration {
        Duration::from_millis(self.command_timeout_ms)
    }

    pub fn store_timeout(&self) -> Duration {
        Duration::from_millis(self.store_timeout_ms)
    }

    /// The experiment's producer properties with the message timeout held within the command timeout: by
    /// default librdkafka keeps an undeliverable message queued for 5 minutes, long after its client was
    /// answered. A shorter timeout an experiment sets is kept.
    pub fn producer_config(&self) -> ClientConfig {
        let mut config = self.service.producer_config();
        let set = MESSAGE_TIMEOUTS.iter().filter_map(|k| config.get(k).and_then(|v| v.trim().parse::<u64>().ok()));
        let timeout = set.chain([self.command_timeout_ms]).min().unwrap_or(self.command_timeout_ms);
        for key in MESSAGE_TIMEOUTS {
            config.remove(key);
        }
        config.set("message.timeout.ms", timeout.to_string());
        config
    }
}

/// The origins of `CORS_ORIGINS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origins(pub Vec<HeaderValue>);

fn origins(list: &str) -> Result<Origins, String> {
    list.split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|o| o.parse().map_err(|_| format!("{o:?} is not an origin")))
        .collect::<Result<_, _>>()
        .map(Origins)
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
        let s = Settings::from_vars(vars(&[
            ("DATABASE_URL", "postgres://db-ge"),
            ("KAFKA_CONSUMER_FETCH_WAIT_MAX_MS", "5"),
        ]))
        .unwrap();
        assert_eq!(s.service.database_url, "postgres://db-ge");
        assert_eq!(s.service.http.address(), "127.0.0.1:8888".parse().unwrap());
        assert_eq!(s.instance_id, "1");
        assert_eq!(s.command_timeout(), Duration::from_secs(30));
        assert_eq!(s.store_timeout(), Duration::from_secs(10));
        assert_eq!(s.max_subscriptions_per_socket, 10_000);
        let frontend =
            [HeaderValue::from_static("http://localhost:8181"), HeaderValue::from_static("http://127.0.0.1:8181")];
        assert_eq!(s.cors_origins, Origins(frontend.to_vec()));
        assert_eq!(s.service.consumer_config("g").get("fetch.wait.max.ms"), Some("5"));
    }

    #[test]
    fn origins_are_a_trimmed_list() {
        let s =
            Settings::from_vars(vars(&[("DATABASE_URL", "d"), ("CORS_ORIGINS", " http://a:1 ,, http://b ")])).unwrap();
        assert_eq!(
            s.cors_origins,
            Origins(vec![HeaderValue::from_static("http://a:1"), HeaderValue::from_static("http://b")])
        );
        let bad = Settings::from_vars(vars(&[("DATABASE_URL", "d"), ("CORS_ORIGINS", "http://a,\u{7f}")]))
            .unwrap_err()
            .to_string();
        assert!(bad.contains("CORS_ORIGINS") && bad.contains("is not an origin"), "{bad}");
    }

    #[test]
    fn the_message_timeout_is_held_within_the_command_timeout() {
        let timeout = |pairs: &[(&str, &str)]| {
            let mut all = vec![("DATABASE_URL", "d")];
            all.extend_from_slice(pairs);
            let s = Settings::from_vars(vars(&all)).unwrap();
            let config = s.producer_config();
            assert_eq!(
                config.get("delivery.timeout.ms"),
                None,
                "one name for the timeout, so none is overridden unseen"
            );
            config.get("message.timeout.ms").map(str::to_string)
        };
        assert_eq!(timeout(&[]).as_deref(), Some("30000"), "librdkafka's own default is 300000");
        assert_eq!(timeout(&[("COMMAND_TIMEOUT_MS", "3000")]).as_deref(), Some("3000"));
        assert_eq!(timeout(&[("KAFKA_PRODUCER_MESSAGE_TIMEOUT_MS", "600000")]).as_deref(), Some("30000"));
        assert_eq!(timeout(&[("KAFKA_PRODUCER_DELIVERY_TIMEOUT_MS", "600000")]).as_deref(), Some("30000"));
        assert_eq!(
            timeout(&[("KAFKA_PRODUCER_MESSAGE_TIMEOUT_MS", "2000")]).as_deref(),
            Some("2000"),
            "a shorter one is kept"
        );
    }

    #[test]
    fn timeouts_and_limits_must_be_positive() {
        for name in ["COMMAND_TIMEOUT_MS", "STORE_TIMEOUT_MS", "MAX_SUBSCRIPTIONS_PER_SOCKET"] {
            let err = Settings::from_vars(vars(&[("DATABASE_URL", "d"), (name, "0")])).unwrap_err().to_string();
            assert!(err.contains(name), "{err}");
        }
    }

    #[test]
    fn a_missing_database_names_the_variable() {
        let missing = Settings::from_vars(Vec::new()).unwrap_err().to_string();
        assert!(missing.contains("DATABASE_URL"), "{missing}");
    }
}
