//! Idle subscriptions held by the endpoint in its container (memory limit of the 2019 profile, 400 MiB):
//! 500 websocket connections, 10 `stream_transactions` subscriptions each, half of them legacy `graphql-ws`.
//! Prints the endpoint's memory (usage minus page cache) before and with them open.
//!
//! `cargo bench -p graphql-endpoint --bench subscriptions` (needs scripts/setup: engine and images).

#[path = "../tests/suite/common.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{WsClient, STREAM};
use futures_util::future::join_all;
use serde_json::json;
use stack::docker::{container, stats};

const CONNECTIONS: usize = 500;
const PER_CONNECTION: usize = 10;

async fn open_subscriptions(url: &str) -> usize {
    let stats_url = url.replace("ws://", "http://").replace("/graphql", "/stats");
    let response: serde_json::Value = reqwest::get(&stats_url).await.expect("stats").json().await.expect("json");
    response["stream_subscriptions"].as_u64().expect("count") as usize
}

#[tokio::main]
async fn main() {
    let stack = stack::testing::stack("").await;
    let docker = stack::docker::connect().await.expect("engine");
    let part = stack.plan.services.iter().find(|p| p.spec.name == "kgb-graphql-endpoint").expect("planned").clone();
    container::start(&docker, &part.spec).await.expect("endpoint container (scripts/setup builds its image)");
    stack.wait_for(&part.wait).await.expect("endpoint ready");
    let url = stack.plan.endpoints.graphql_ws.clone();
    let idle = stats::sample(&docker, &part.spec.name).await.expect("stats").expect("sample");

    let start = Instant::now();
    let clients = join_all((0..CONNECTIONS).map(|c| {
        let url = url.clone();
        async move {
            let mut client = WsClient::connect(&url, c % 2 == 1).await;
            for s in 0..PER_CONNECTION {
                client.subscribe(STREAM, json!({"iban": format!("NL00OPEN{:010}", c * PER_CONNECTION + s)})).await;
            }
            client
        }
    }))
    .await;
    let wanted = CONNECTIONS * PER_CONNECTION;
    while open_subscriptions(&url).await < wanted {
        assert!(start.elapsed() < Duration::from_secs(120), "subscriptions not open after 2 minutes");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let opened = start.elapsed();
    let held = stats::sample(&docker, &part.spec.name).await.expect("stats").expect("sample");
    println!("endpoint memory idle: {:.1} MiB", idle.mem_mib);
    println!(
        "{wanted} idle subscriptions on {CONNECTIONS} connections opened in {:.1} s; endpoint memory {:.1} MiB ({:.1} KiB per subscription)",
        opened.as_secs_f64(),
        held.mem_mib,
        (held.mem_mib - idle.mem_mib) * 1024.0 / wanted as f64
    );
    drop(clients);
    drop(stack);
}
