//! The endpoint's settings, read by clap from arguments or, in its container, from the environment (see
//! [`topology::env`]); the librdkafka properties come from the environment alone.

use axum::http::HeaderValue;
use clap::Parser;
use topology::settings::{self, KafkaProperties, ServiceSettings};
pub use topology::settings::WithKafkaProperties;

/// The port of GraphQL, websockets, `/health` and `/stats` unless `HTTP_PORT` says otherwise.
pub const DEFAULT_PORT: u16 = 8888;

/// The bank's GraphQL API: queries and subscriptions over HTTP and websockets. Every setting is an argument
/// or the environment variable named in its help.
#[derive(Parser, Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    #[command(flatten)]
    pub service: ServiceSettings<DEFAULT_PORT>,
    /// Names this instance's consumer group; every instance needs its own to see all feedback.
    #[arg(long, env = "INSTANCE_ID", default_value = "1")]
    pub instance_id: String,
    /// The origins browsers may call from, comma-separated.
    #[arg(long, env = "CORS_ORIGINS", default_value = "http://localhost:8181,http://127.0.0.1:8181", value_parser = origins)]
    pub cors_origins: Origins,
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
        let s = Settings::from_vars(vars(&[("DATABASE_URL", "postgres://db-ge"), ("KAFKA_CONSUMER_FETCH_WAIT_MAX_MS", "5")])).unwrap();
        assert_eq!(s.service.database_url, "postgres://db-ge");
        assert_eq!(s.service.http.address(), "127.0.0.1:8888".parse().unwrap());
        assert_eq!(s.instance_id, "1");
        let frontend = [HeaderValue::from_static("http://localhost:8181"), HeaderValue::from_static("http://127.0.0.1:8181")];
        assert_eq!(s.cors_origins, Origins(frontend.to_vec()));
        assert_eq!(s.service.consumer_config("g").get("fetch.wait.max.ms"), Some("5"));
    }

    #[test]
    fn origins_are_a_trimmed_list() {
        let s = Settings::from_vars(vars(&[("DATABASE_URL", "d"), ("CORS_ORIGINS", " http://a:1 ,, http://b ")])).unwrap();
        assert_eq!(s.cors_origins, Origins(vec![HeaderValue::from_static("http://a:1"), HeaderValue::from_static("http://b")]));
        let bad = Settings::from_vars(vars(&[("DATABASE_URL", "d"), ("CORS_ORIGINS", "http://a,\u{7f}")])).unwrap_err().to_string();
        assert!(bad.contains("CORS_ORIGINS") && bad.contains("is not an origin"), "{bad}");
    }

    #[test]
    fn a_missing_database_names_the_variable() {
        let missing = Settings::from_vars(Vec::new()).unwrap_err().to_string();
        assert!(missing.contains("DATABASE_URL"), "{missing}");
    }
}
