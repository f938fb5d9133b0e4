//! A plan made for loopback, moved onto a pod network: every `127.0.0.1:PORT` in a part's settings becomes the
//! Service of the part listening on PORT (`kgb-kafka-2:19093`), and each part listens on every address of its
//! pod instead of loopback.

use crate::plan::{Part, Role, StackPlan};

const LOOPBACK: &str = "127.0.0.1:";

/// `plan` with its parts' addresses on a pod network (its endpoints stay as they were: bench reaches the
/// stack through Services or port-forwards, not these names).
pub fn rewrite(plan: &StackPlan) -> StackPlan {
    let mut moved = plan.clone();
    let owners = plan.ports.clone();
    let parts = moved
        .infrastructure
        .iter_mut()
        .chain(std::iter::once(&mut moved.synchronizer))
        .chain(moved.services.iter_mut());
    for part in parts {
        for (key, value) in part.spec.env.iter_mut() {
            *value = by_name(value, &owners);
            if let Some(listen) = listen_everywhere(key, value) {
                *value = listen;
            }
        }
        part.spec.env.extend(bind_everywhere(part));
    }
    moved
}

/// `text` with each `127.0.0.1:PORT` of a known port named by its part.
fn by_name(text: &str, owners: &[(u16, String)]) -> String {
    readdress(text, |port| owners.iter().find(|(p, _)| *p == port).map(|(_, name)| format!("{name}:{port}")))
}

/// `text` with each `127.0.0.1:PORT` for which `to(PORT)` has an address replaced by that address.
pub(super) fn readdress(text: &str, mut to: impl FnMut(u16) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(LOOPBACK) {
        out.push_str(&rest[..at]);
        let after = &rest[at + LOOPBACK.len()..];
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        // Not the tail of another address (`10.127.0.0.1:...` is not loopback).
        let inside = out.ends_with(|c: char| c.is_ascii_digit() || c == '.');
        match after[..digits].parse::<u16>().ok().filter(|_| !inside).and_then(&mut to) {
            Some(address) => {
                out.push_str(&address);
                rest = &after[digits..];
            }
            None => {
                out.push_str(LOOPBACK);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A broker's `listeners=` line binds every address (its `advertised.listeners` keep the Service names).
fn listen_everywhere(key: &str, value: &str) -> Option<String> {
    if key != "KAFKA_SERVER_PROPERTIES" {
        return None;
    }
    let lines = value.lines().map(|line| match line.strip_prefix("listeners=") {
        Some(listeners) => {
            let bound: Vec<String> = listeners
                .split(',')
                .map(|l| match l.split_once("://") {
                    Some((name, address)) => {
                        format!("{name}://0.0.0.0:{}", address.rsplit(':').next().unwrap_or_default())
                    }
                    None => l.to_string(),
                })
                .collect();
            format!("listeners={}", bound.join(","))
        }
        None => line.to_string(),
    });
    Some(lines.collect::<Vec<_>>().join("\n"))
}

/// The settings that make a part listen beyond loopback.
fn bind_everywhere(part: &Part) -> Vec<(String, String)> {
    let kv = |k: &str, v: &str| (k.to_string(), v.to_string());
    match part.role {
        Role::SchemaRegistry => vec![kv("QUARKUS_HTTP_HOST", "0.0.0.0"), kv("QUARKUS_MANAGEMENT_HOST", "0.0.0.0")],
        Role::DbCh | Role::DbGe => vec![kv("POSTGRES_LISTEN", "*")],
        Role::CommandHandler | Role::GraphqlEndpoint | Role::Frontend => {
            vec![kv(topology::env::BIND_ADDRESS, "0.0.0.0")]
        }
        Role::Kafka | Role::Synchronizer => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_addresses_become_the_names_of_their_parts() {
        let owners = vec![
            (19092, "kgb-kafka-1".to_string()),
            (19093, "kgb-kafka-2".to_string()),
            (25432, "kgb-db-ch".to_string()),
        ];
        assert_eq!(by_name("127.0.0.1:19092,127.0.0.1:19093", &owners), "kgb-kafka-1:19092,kgb-kafka-2:19093");
        assert_eq!(
            by_name("postgres://postgres:pw@127.0.0.1:25432/postgres", &owners),
            "postgres://postgres:pw@kgb-db-ch:25432/postgres"
        );
        // A port nobody plans stays where it was; so does text without an address.
        assert_eq!(by_name("127.0.0.1:1,x", &owners), "127.0.0.1:1,x");
        assert_eq!(by_name("1@127.0.0.1:190921", &owners), "1@127.0.0.1:190921");
        assert_eq!(by_name("10.127.0.0.1:19092", &owners), "10.127.0.0.1:19092", "not loopback");
    }

    #[test]
    fn brokers_listen_everywhere_and_advertise_their_names() {
        let props = "listeners=PLAINTEXT://kgb-kafka-1:19092,CONTROLLER://kgb-kafka-1:19192\nadvertised.listeners=PLAINTEXT://kgb-kafka-1:19092";
        let moved = listen_everywhere("KAFKA_SERVER_PROPERTIES", props).unwrap();
        assert_eq!(moved, "listeners=PLAINTEXT://0.0.0.0:19092,CONTROLLER://0.0.0.0:19192\nadvertised.listeners=PLAINTEXT://kgb-kafka-1:19092");
        assert_eq!(listen_everywhere("OTHER", props), None);
    }
}
