//! What the open-model benchmarks share: an offerer over real websocket clients of the endpoint double.

use harness::experiment::Protocol;
use harness::load::bank::Account;
use harness::load::client::Client;
use harness::load::open::{Offerer, Ring};

/// An offerer over `connections` clients of `url`, moving money between 96 made-up accounts (the double takes any).
pub async fn offerer(url: &str, protocol: Protocol, connections: u32) -> anyhow::Result<Offerer<Client>> {
    let mut clients = Vec::new();
    for _ in 0..connections {
        clients.push(Client::connect(url, protocol).await?);
    }
    let accounts = (0..96)
        .map(|i| Account { username: format!("u{i}"), iban: format!("NL{i}"), token: format!("t{i}") })
        .collect();
    Ok(Offerer::new(clients, Ring::new(accounts)))
}
