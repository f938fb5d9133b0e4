//! The endpoint's own share of a money transfer at 1,000 transfers/s: request received to command handed to
//! the producer, plus feedback handed over by the consumer to the answer (Kafka and the handler excluded).
//! 100 websocket connections start transfers evenly for 10 s (`BENCH_RATE` per second in all, default 1,000);
//! the endpoint runs in its container and reports its histogram on `/stats`.
//!
//! `cargo bench -p graphql-endpoint --bench overhead` (needs scripts/setup: engine and images).

#[path = "../tests/suite/common.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{WsClient, GET_ACCOUNT, TRANSFER};
use futures_util::future::join_all;
use serde_json::json;
use stack::docker::container;
use uuid::Uuid;

const CONNECTIONS: usize = 100;
const SECONDS: u64 = 10;

/// Transfers per second offered: `BENCH_RATE`, default 1,000.
fn rate() -> u64 {
    std::env::var("BENCH_RATE").ok().and_then(|r| r.parse().ok()).filter(|r| *r > 0).unwrap_or(1000)
}

#[tokio::main]
async fn main() {
    let stack = stack::testing::stack("").await;
    let docker = stack::docker::connect().await.expect("engine");
    for name in ["kgb-command-handler", "kgb-graphql-endpoint"] {
        let part = stack.plan.services.iter().find(|p| p.spec.name == name).expect("planned").clone();
        container::start(&docker, &part.spec).await.expect("service container (scripts/setup builds its image)");
        stack.wait_for(&part.wait).await.expect("service ready");
    }
    let url = stack.plan.endpoints.graphql_ws.clone();
    let mut opener = WsClient::connect(&url, false).await;
    let account =
        opener.one(GET_ACCOUNT, json!({"u": "overhead-bench", "p": "overhead-bench"})).await["get_account"].clone();
    let iban = account["iban"].as_str().expect("iban").to_string();

    let interval = Duration::from_micros(1_000_000 * CONNECTIONS as u64 / rate());
    let start = Instant::now();
    let per_connection = (rate() * SECONDS) as usize / CONNECTIONS;
    let answered = join_all((0..CONNECTIONS).map(|c| {
        let (url, iban) = (url.clone(), iban.clone());
        async move {
            let mut client = WsClient::connect(&url, false).await;
            let mut tick = tokio::time::interval(interval);
            // Spread the connections over the interval so the rate is even.
            tokio::time::sleep(interval * c as u32 / CONNECTIONS as u32).await;
            let mut ids = Vec::new();
            for _ in 0..per_connection {
                tick.tick().await;
                let vars = json!({"id": Uuid::new_v4().to_string(), "u": "overhead-bench", "t": "cash", "a": 100,
                                  "f": "cash", "to": iban, "d": "overhead"});
                ids.push(client.subscribe(TRANSFER, vars).await);
            }
            let mut ok = 0;
            for id in ids {
                if client.next_data(&id).await["money_transfer"]["success"] == true {
                    ok += 1;
                }
            }
            ok
        }
    }))
    .await;
    let sent = CONNECTIONS * per_connection;
    let ok: usize = answered.iter().sum();
    let stats: serde_json::Value = reqwest::get(url.replace("ws://", "http://").replace("/graphql", "/stats"))
        .await
        .expect("stats")
        .json()
        .await
        .expect("json");
    let o = &stats["transfer_overhead"];
    println!(
        "{sent} transfers offered at {:.0}/s, {ok} confirmed, all answered after {:.1} s",
        sent as f64 / (SECONDS as f64),
        start.elapsed().as_secs_f64()
    );
    println!(
        "endpoint overhead per transfer (n={}): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        o["n"],
        o["p50_us"].as_f64().unwrap_or(0.0) / 1000.0,
        o["p99_us"].as_f64().unwrap_or(0.0) / 1000.0,
        o["max_us"].as_f64().unwrap_or(0.0) / 1000.0
    );
    let ms = |half: &str, q: &str| o[half][q].as_f64().unwrap_or(0.0) / 1000.0;
    println!(
        "  request (received -> handed to the producer): p50 {:.2} ms, p99 {:.2} ms; answer (feedback handed over -> result): p50 {:.2} ms, p99 {:.2} ms",
        ms("request", "p50_us"),
        ms("request", "p99_us"),
        ms("answer", "p50_us"),
        ms("answer", "p99_us")
    );
    drop(stack);
}
