//! Bad input against a real stack: poison records on every topic the endpoint consumes are skipped and counted
//! while good records keep flowing, and random GraphQL queries and variables get GraphQL errors, never a crash,
//! a 5xx or a hung socket. Bad conditions too: paused brokers, a broken database and a socket with too many
//! subscriptions get answers with reasons, in time and without the endpoint's internals.

use std::time::Duration;

use crate::common::{graphql_http, transfer, Endpoint, WsClient, GET_ACCOUNT, STREAM, TRANSFER};
use futures_util::{SinkExt, StreamExt};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use topology::records::Record;
use topology::topics::{ACCOUNT_CREATION_FEEDBACK, BALANCE_CHANGED, MONEY_TRANSFER_FEEDBACK};
use uuid::Uuid;

async fn skipped(base: &str) -> u64 {
    let stats: Value = reqwest::get(format!("{base}/stats")).await.expect("GET /stats").json().await.expect("json");
    stats["skipped_records"].as_u64().expect("skipped_records in /stats")
}

#[tokio::test]
async fn poison_records_on_every_topic_are_skipped_and_counted() {
    let stack = stack::testing::stack("").await;
    let endpoint = Endpoint::start(&stack).await;
    let e = &stack.plan.endpoints;
    let producer: FutureProducer =
        ClientConfig::new().set("bootstrap.servers", &e.bootstrap).create().expect("producer");
    let registry = topology::registry::Registry::new(&e.registry);
    let send = |topic: &'static str, payload: Option<Vec<u8>>| {
        let producer = producer.clone();
        async move {
            let mut record = FutureRecord::<str, [u8]>::to(topic).key("poison");
            if let Some(p) = payload.as_deref() {
                record = record.payload(p);
            }
            producer.send(record, Duration::from_secs(10)).await.expect("produced");
        }
    };
    let id = Uuid::new_v4();
    let valid: [(&'static str, Record); 3] = [
        (
            BALANCE_CHANGED,
            Record::BalanceChanged {
                iban: "NL07OPEN0123456789".into(),
                new_balance: 1,
                changed_by: 1,
                from_to: "cash".into(),
                description: "x".into(),
            },
        ),
        (
            ACCOUNT_CREATION_FEEDBACK,
            Record::AccountCreationConfirmed { id, iban: "NL07OPEN0123456789".into(), token: "t".into() },
        ),
        (MONEY_TRANSFER_FEEDBACK, Record::MoneyTransferConfirmed { id }),
    ];
    let before = skipped(&endpoint.base).await;
    let mut sent = 0;
    for (topic, record) in &valid {
        let mut cut = registry.encode(topic, record).await.expect("encode");
        cut.truncate(cut.len() - 3);
        for payload in
            [Some(vec![1, 0, 0, 0, 1, 2, 3]), Some(vec![0, 0, 0, 0x7f, 0x7f, 2]), Some(vec![0, 0, 0]), Some(cut), None]
        {
            send(topic, payload).await;
            sent += 1;
        }
    }
    // A well-formed BalanceChanged without its event_id header cannot be stored exactly once: skipped too.
    send(BALANCE_CHANGED, Some(registry.encode(BALANCE_CHANGED, &valid[0].1).await.expect("encode"))).await;
    sent += 1;
    // Well-formed events db-ge refuses to store (a NUL byte in a text), alone and beside a good one in a batch:
    // each is skipped and counted, the good one stored, and the writer goes on.
    let nul = |iban: &str, description: &str| Record::BalanceChanged {
        iban: iban.into(),
        new_balance: 1,
        changed_by: 1,
        from_to: "cash".into(),
        description: description.into(),
    };
    for (n, record) in
        [nul("NL07OPEN0123456789", "nul\0descr"), nul("NL07OPEN\0-1234", "x"), nul("NL07OPEN0123456789", "fine")]
            .iter()
            .enumerate()
    {
        let payload = registry.encode(BALANCE_CHANGED, record).await.expect("encode");
        let headers = topology::kafka::event_id_headers(&topology::kafka::event_id(id, n as u32));
        let record = FutureRecord::<str, [u8]>::to(BALANCE_CHANGED).key("poison").payload(&payload).headers(headers);
        producer.send(record, Duration::from_secs(10)).await.expect("produced");
    }
    sent += 2;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while skipped(&endpoint.base).await - before < sent {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {sent} poison records counted",
            skipped(&endpoint.base).await - before
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(skipped(&endpoint.base).await - before, sent);
    let query = "query($i: String!) { transactions_by_iban(iban: $i, max_items: 10) { descr } }";
    let stored = graphql_http(&endpoint.base, query, json!({"i": "NL07OPEN0123456789"})).await;
    let descrs: Vec<&str> = stored["data"]["transactions_by_iban"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|t| t["descr"].as_str())
        .collect();
    assert_eq!(descrs, ["fine"], "the good event of the batch is stored, the refused ones are not: {stored}");

    // Good records still flow on every partition the poison went to.
    let mut client = WsClient::connect(&format!("{}/graphql", endpoint.ws), false).await;
    let account = client.one(GET_ACCOUNT, json!({"u": "after-poison", "p": "pw"})).await["get_account"].clone();
    let iban = account["iban"].as_str().expect("an account after the poison").to_string();
    let r = transfer(&mut client, &Uuid::new_v4().to_string(), "after-poison", "cash", 500, ("cash", &iban), "deposit")
        .await;
    assert_eq!(r["success"], true, "{r}");
    endpoint.stop().await;
}

/// A deterministic pseudo-random sequence (the same inputs on every run, so a failure can be replayed).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

const SEEDS: &[&str] = &[
    "query { all_last_transactions { id iban new_balance changed_by from_to direction descr } }",
    "query($iban: String!) { transaction_by_id(id: 1) { id } transactions_by_iban(iban: $iban, max_items: 3) { id } }",
    "subscription($u: String!, $p: String!) { get_account(username: $u, password: $p) { iban token reason } }",
    "subscription($id: String!, $u: String!, $t: String!, $a: Int!, $f: String!, $to: String!, $d: String!) { money_transfer(uuid: $id, username: $u, token: $t, amount: $a, from: $f, to: $to, descr: $d) { uuid success reason } }",
    "{ __schema { types { name fields { name } } } }",
];

fn random_value(rng: &mut Lcg, depth: usize) -> Value {
    match rng.below(if depth > 2 { 7 } else { 9 }) {
        0 => Value::Null,
        1 => json!(rng.below(3) == 0),
        2 => json!(i64::MAX),
        3 => json!(-(rng.below(1_000_000) as i64)),
        4 => json!(1.5e308),
        5 => json!("x".repeat(rng.below(3) * 50_000)),
        6 => json!("NL66OPEN0000000000\u{0000}\u{202e}'; drop table transactions; --"),
        7 => Value::Array((0..rng.below(4)).map(|_| random_value(rng, depth + 1)).collect()),
        _ => Value::Object((0..rng.below(4)).map(|i| (format!("k{i}"), random_value(rng, depth + 1))).collect()),
    }
}

/// A query from the seeds, mutated: cut, spliced, nested deeply, or with a field renamed.
fn random_query(rng: &mut Lcg) -> String {
    let seed = SEEDS[rng.below(SEEDS.len())];
    match rng.below(6) {
        0 => seed[..rng.below(seed.len())].to_string(),
        1 => {
            let at = rng.below(seed.len());
            format!(
                "{}{}{}",
                &seed[..at],
                ["{", "}", "(", "$", "...", "@skip", "\"", "\\u0000"][rng.below(8)],
                &seed[at..]
            )
        }
        2 => {
            let depth = [10, 200, 20_000][rng.below(3)];
            format!("query {{ {}{} }}", "all_last_transactions { ".repeat(depth), "}".repeat(rng.below(depth + 1)))
        }
        3 => seed.replace("iban", "ibna").replace("uuid", "__typename"),
        4 => format!("{} {}", seed, SEEDS[rng.below(SEEDS.len())]),
        _ => seed.to_string(),
    }
}

fn random_variables(rng: &mut Lcg) -> Value {
    let names = ["u", "p", "id", "t", "a", "f", "to", "d", "iban"];
    let mut variables = serde_json::Map::new();
    for n in names {
        if rng.below(3) > 0 {
            variables.insert(n.to_string(), random_value(rng, 0));
        }
    }
    Value::Object(variables)
}

#[tokio::test]
async fn random_graphql_gets_graphql_errors_never_a_crash_or_a_hung_socket() {
    let stack = stack::testing::stack("").await;
    let endpoint = Endpoint::start(&stack).await;
    let http = reqwest::Client::new();
    let mut rng = Lcg(2019);

    for i in 0..300 {
        let body = if i % 25 == 24 {
            // Not even JSON.
            "{\"query\": \"{ __typename \", \"variables\": ".to_string()
        } else {
            json!({"query": random_query(&mut rng), "variables": random_variables(&mut rng)}).to_string()
        };
        let response = tokio::time::timeout(
            Duration::from_secs(20),
            http.post(format!("{}/graphql", endpoint.base))
                .header("content-type", "application/json")
                .body(body.clone())
                .send(),
        )
        .await
        .unwrap_or_else(|_| panic!("request {i} hung: {}", &body[..body.len().min(300)]))
        .expect("the endpoint answers");
        let status = response.status();
        assert!(status.as_u16() < 500, "request {i}: {status} for {}", &body[..body.len().min(300)]);
        let text = response.text().await.expect("body");
        if status.is_success() {
            let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("request {i}: not JSON: {text}"));
            assert!(v.get("errors").is_some() || v.get("data").is_some(), "request {i}: {v}");
        }
    }

    // The websocket protocols: random operations, then garbage frames; every operation is answered or the
    // socket is closed by the server (graphql-transport-ws closes on protocol violations), never left hanging.
    for legacy in [false, true] {
        let path = if legacy { "graphql-ws" } else { "graphql" };
        let mut request = format!("{}/{path}", endpoint.ws).into_client_request().expect("request");
        let protocol = if legacy { "graphql-ws" } else { "graphql-transport-ws" };
        request.headers_mut().insert("Sec-WebSocket-Protocol", protocol.parse().expect("header"));
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("connects");
        if !legacy {
            socket.send(Message::text(json!({"type": "connection_init"}).to_string())).await.expect("init");
        }
        for i in 0..60u32 {
            let kind = if legacy { "start" } else { "subscribe" };
            let message = json!({"id": i.to_string(), "type": kind, "payload": {"query": random_query(&mut rng), "variables": random_variables(&mut rng)}});
            // A message over 64 KiB (some variables are 100,000 bytes) closes the socket (1009): later sends fail.
            if socket.send(Message::text(message.to_string())).await.is_err() {
                break;
            }
        }
        for garbage in ["not json", "{\"type\": \"subscribe\"}", "{\"id\": 7, \"type\": \"start\", \"payload\": 3}"] {
            let _ = socket.send(Message::text(garbage)).await;
        }
        let mut frames = 0;
        loop {
            match tokio::time::timeout(Duration::from_secs(40), socket.next()).await {
                Err(_) => panic!("{protocol}: the socket went silent without closing after {frames} frames"),
                Ok(Some(Ok(Message::Close(Some(_))))) => {
                    frames += 1;
                    break;
                }
                Ok(None | Some(Err(_)) | Some(Ok(Message::Close(None)))) => break,
                Ok(Some(Ok(_))) => frames += 1,
            }
            if frames > 1000 {
                break;
            }
        }
        assert!(frames > 0, "{protocol}: no answer at all (not even a close frame with its reason)");
    }

    // Still healthy, still serving.
    let health = reqwest::get(format!("{}/health", endpoint.base)).await.expect("health");
    assert!(health.status().is_success());
    let v = graphql_http(&endpoint.base, "{ __typename }", json!({})).await;
    assert_eq!(v["data"]["__typename"], "Query", "{v}");
    endpoint.stop().await;
}

#[tokio::test]
async fn documents_and_passwords_beyond_their_limits_get_reasons() {
    let stack = stack::testing::stack("").await;
    let endpoint = Endpoint::start(&stack).await;
    // 20 levels of ofType under __schema: deeper than the 16 the schema allows.
    let deep = format!(
        "{{ __schema {{ types {{ fields {{ type {{ {} name {} }} }} }} }} }}",
        "ofType { ".repeat(20),
        "} ".repeat(20)
    );
    let answer = graphql_http(&endpoint.base, &deep, json!({})).await;
    let errors = answer["errors"].to_string();
    assert!(answer["data"].is_null() && errors.contains("nested too deep"), "{answer}");
    // The bank's own query still runs.
    let ok = graphql_http(&endpoint.base, "{ all_last_transactions { id } }", json!({})).await;
    assert!(ok.get("errors").is_none(), "{ok}");
    // A password over 256 bytes is refused with a reason, before any hashing (a megabyte one does not even reach
    // the schema: a websocket message may have 64 KiB, see bounds.rs).
    let mut client = WsClient::connect(&format!("{}/graphql", endpoint.ws), false).await;
    let long = "p".repeat(4096);
    let refused = client.one(GET_ACCOUNT, json!({"u": "long-password-user", "p": long})).await["get_account"].clone();
    assert!(refused["reason"].as_str().is_some_and(|r| r.contains("at most 256 bytes")), "{refused}");
    endpoint.stop().await;
}

/// Logs `user` in, trying again while the bank is warming up (the handler's consumer group may still be joining):
/// a login is idempotent. Returns the account's IBAN and token.
async fn account(client: &mut WsClient, user: &str) -> (String, String) {
    let mut last = Value::Null;
    for _ in 0..10 {
        last = client.one(GET_ACCOUNT, json!({"u": user, "p": "pw"})).await["get_account"].clone();
        if let (Some(iban), Some(token)) = (last["iban"].as_str(), last["token"].as_str()) {
            return (iban.to_string(), token.to_string());
        }
    }
    panic!("no account for {user}: {last}");
}

#[tokio::test]
async fn with_the_brokers_paused_commands_are_answered_within_their_deadline() {
    let stack = stack::testing::stack("").await;
    let endpoint = Endpoint::start_with(&stack, &[("COMMAND_TIMEOUT_MS", "5000")]).await;
    let mut client = WsClient::connect(&format!("{}/graphql", endpoint.ws), false).await;
    let (iban, token) = account(&mut client, "paused-user").await;

    let docker = stack::docker::connect().await.expect("engine");
    let brokers: Vec<String> = stack
        .plan
        .infrastructure
        .iter()
        .filter(|p| p.role == stack::Role::Kafka)
        .map(|p| p.spec.name.clone())
        .collect();
    for broker in &brokers {
        docker.pause_container(broker).await.expect("pause a broker");
    }
    let start = tokio::time::Instant::now();
    let vars = json!({"id": Uuid::new_v4().to_string(), "u": "paused-user", "t": token, "a": 100, "f": "cash", "to": iban, "d": "paused"});
    let transfer_id = client.subscribe(TRANSFER, vars).await;
    let login_id = client.subscribe(GET_ACCOUNT, json!({"u": "paused-user", "p": "pw"})).await;
    // Without one deadline the producer waits librdkafka's 5 minutes before the answer's own timer starts.
    let answers = tokio::time::timeout(Duration::from_secs(15), async {
        let transfer = client.next_data(&transfer_id).await["money_transfer"].clone();
        let login = client.next_data(&login_id).await["get_account"].clone();
        (transfer, login, start.elapsed())
    })
    .await;
    for broker in &brokers {
        docker.unpause_container(broker).await.expect("unpause a broker");
    }
    let (refused, login, elapsed) = answers.expect("both commands answered within 15 s with the brokers paused");
    assert!(elapsed < Duration::from_millis(6500), "answered after {elapsed:?}, the deadline is 5 s");
    assert_eq!(refused["success"], false, "{refused}");
    let reason = refused["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("no answer from the bank within 5 s: Kafka did not acknowledge the command"),
        "{refused}"
    );
    // The login may run out of time checking the password (argon2 in a debug build) or at Kafka: the same deadline.
    let reason = login["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("no answer from the bank within 5 s: "), "{login}");
    // The brokers back, the endpoint serves again.
    let again =
        transfer(&mut client, &Uuid::new_v4().to_string(), "paused-user", "cash", 100, ("cash", &iban), "after").await;
    assert_eq!(again["success"], true, "{again}");
    endpoint.stop().await;
}

/// What the endpoint tells a client about any database failure (the wording is docs/bank.md's).
const STORE_FAILED: &str = "internal error: the bank could not use its store";

fn assert_no_internals(message: &str) {
    for internal in ["relation", "db error", "connection refused", "ERROR", "SELECT", "db-ge", "cac"] {
        assert!(!message.contains(internal), "the client saw {internal:?} in {message:?}");
    }
}

#[tokio::test]
async fn a_store_at_a_closed_port_answers_queries_without_its_internals() {
    // Port 1 on loopback: nothing listens, the driver gets "connection refused".
    let config: tokio_postgres::Config = "postgres://bank:secret@127.0.0.1:1/db_ge".parse().expect("url");
    let manager = deadpool_postgres::Manager::new(config, tokio_postgres::NoTls);
    let pool = deadpool_postgres::Pool::builder(manager).max_size(1).build().expect("pool");
    let schema = graphql_endpoint::schema::BankSchema::build(
        graphql_endpoint::schema::Query,
        async_graphql::EmptyMutation,
        graphql_endpoint::schema::SubscriptionRoot,
    )
    .data(graphql_endpoint::store::Store::new(pool))
    .finish();
    for query in [
        "{ all_last_transactions { id } }",
        "{ transaction_by_id(id: 1) { id } }",
        "{ transactions_by_iban(iban: \"NL01\", max_items: 1) { id } }",
    ] {
        let response =
            tokio::time::timeout(Duration::from_secs(10), schema.execute(query)).await.expect("answered in time");
        assert_eq!(response.errors.len(), 1, "{query}: {:?}", response.errors);
        assert_eq!(response.errors[0].message, STORE_FAILED, "{query}");
        assert_no_internals(&response.errors[0].message);
    }
}

#[tokio::test]
async fn a_store_that_stops_answering_fails_queries_within_its_timeout() {
    // A "database" that takes the connection and never says a word: a paused or partitioned server, which no
    // server-side statement timeout can cut short.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("listener");
    let port = silent.local_addr().expect("address").port();
    let held = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            sockets.push(socket);
        }
    });
    let config: tokio_postgres::Config = format!("postgres://bank:secret@127.0.0.1:{port}/db_ge").parse().expect("url");
    let pool = deadpool_postgres::Pool::builder(deadpool_postgres::Manager::new(config, tokio_postgres::NoTls))
        .max_size(1)
        .build()
        .expect("pool");
    let store = graphql_endpoint::store::Store::new(pool).with_timeout(Duration::from_secs(1));
    let schema = graphql_endpoint::schema::BankSchema::build(
        graphql_endpoint::schema::Query,
        async_graphql::EmptyMutation,
        graphql_endpoint::schema::SubscriptionRoot,
    )
    .data(store)
    .finish();
    let start = tokio::time::Instant::now();
    let response =
        tokio::time::timeout(Duration::from_secs(10), schema.execute("{ all_last_transactions { id } }")).await;
    held.abort();
    let response = response.expect("answered while the database stays silent");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "answered after {:?}, the store's timeout is 1 s",
        start.elapsed()
    );
    assert_eq!(response.errors.len(), 1, "{:?}", response.errors);
    assert_eq!(response.errors[0].message, STORE_FAILED);
}

#[tokio::test]
async fn database_failures_reach_clients_without_their_internals() {
    let stack = stack::testing::stack("").await;
    let endpoint = Endpoint::start(&stack).await;
    let (db, connection) =
        tokio_postgres::connect(&stack.plan.endpoints.db_ge, tokio_postgres::NoTls).await.expect("db-ge");
    tokio::spawn(connection);
    db.batch_execute("DROP TABLE transaction; DROP TABLE cac").await.expect("tables dropped");

    let queries = [
        "{ all_last_transactions { id } }",
        "{ transaction_by_id(id: 1) { id } }",
        "{ transactions_by_iban(iban: \"NL01\", max_items: 1) { id } }",
    ];
    for query in queries {
        let answer = graphql_http(&endpoint.base, query, json!({})).await;
        let message = answer["errors"][0]["message"].as_str().unwrap_or_default();
        assert_eq!(message, STORE_FAILED, "{query}: {answer}");
        assert_no_internals(&answer.to_string());
    }
    let mut client = WsClient::connect(&format!("{}/graphql", endpoint.ws), false).await;
    let login = client.one(GET_ACCOUNT, json!({"u": "no-table-user", "p": "pw"})).await["get_account"].clone();
    assert_eq!(login["reason"], STORE_FAILED, "{login}");
    assert_no_internals(&login.to_string());
    endpoint.stop().await;
}

#[tokio::test]
async fn a_socket_beyond_its_subscription_limit_refuses_with_the_reason_and_stays_usable() {
    let stack = stack::testing::stack("").await;
    let endpoint = Endpoint::start_with(&stack, &[("MAX_SUBSCRIPTIONS_PER_SOCKET", "3")]).await;
    // A login with an empty name is answered at once, without Kafka: a subscription that completes by itself.
    let quick = json!({"u": "", "p": "pw"});
    let accepted = |payload: &Value| payload["data"]["get_account"]["reason"] == "username must not be empty";
    let refused = |payload: &Value| {
        let message = payload["errors"][0]["message"].as_str().unwrap_or_default();
        payload["data"].is_null() && message.contains("at most 3 subscriptions may be open at once on one websocket")
    };
    for (path, legacy) in [("graphql", false), ("graphql-ws", true)] {
        let mut client = WsClient::connect(&format!("{}/{path}", endpoint.ws), legacy).await;
        let mut streams = Vec::new();
        for _ in 0..3 {
            streams.push(client.subscribe(STREAM, json!({})).await);
        }
        let fourth = client.subscribe(GET_ACCOUNT, quick.clone()).await;
        let payload = client.next_payload(&fourth).await;
        assert!(refused(&payload), "the fourth of 3 allowed: {payload}");

        // The client ends one stream: a login is accepted in its place and completes by itself...
        client.complete(&streams[0]).await;
        client.until_complete(&streams[0]).await;
        let login = client.subscribe(GET_ACCOUNT, quick.clone()).await;
        let payload = client.next_payload(&login).await;
        assert!(accepted(&payload), "{payload}");
        client.until_complete(&login).await;
        // ...which frees its slot again: another is accepted, and with three open the next is refused.
        streams.push(client.subscribe(STREAM, json!({})).await);
        let over = client.subscribe(GET_ACCOUNT, quick.clone()).await;
        let payload = client.next_payload(&over).await;
        assert!(refused(&payload), "{path}: a fourth after the freed slot was taken: {payload}");
        client.complete(&streams[1]).await;
        let payload = client.one(GET_ACCOUNT, quick.clone()).await;
        assert_eq!(payload["get_account"]["reason"], "username must not be empty", "{path}: still usable");
    }
    endpoint.stop().await;
}
