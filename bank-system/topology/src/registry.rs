//! A small client of the Confluent-compatible schema registry API, and the codec of the Confluent wire
//! format (magic byte 0, 4-byte big-endian schema id, Avro binary) with caches in both directions.
//! Producers never register schemas: the synchronizer does, and encoding reads `versions/latest`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use apache_avro::Schema;
use serde::Deserialize;

use crate::records::{self, Record};
use crate::topics::subject;

/// Registry and codec errors, each naming the subject, id or bytes involved.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("schema registry request {url} failed: {message}")]
    Http { url: String, message: String },
    #[error("record of {len} bytes is too short for the wire format")]
    Truncated { len: usize },
    #[error("wrong magic byte {0} (expected 0)")]
    WrongMagic(u8),
    #[error("schema id {0} is unknown to the registry")]
    UnknownSchemaId(u32),
    #[error("schema id {id} is not a bank record: {problem}")]
    ForeignSchema { id: u32, problem: String },
    #[error("avro: {0}")]
    Avro(String),
    #[error(transparent)]
    Shape(#[from] records::ShapeError),
}

#[derive(Deserialize)]
struct IdAnswer {
    id: u32,
}

#[derive(Deserialize)]
struct SchemaAnswer {
    schema: String,
}

/// A registry client with the codec built on it. Cheap to share behind an `Arc`.
pub struct Registry {
    base: String,
    http: reqwest::Client,
    // Shared, not cloned per record: a schema is a tree of allocations.
    by_subject: RwLock<HashMap<String, (u32, Arc<Schema>)>>,
    by_id: RwLock<HashMap<u32, (&'static str, Arc<Schema>)>>,
    // One registry lookup at a time: a crowd of first requests for a schema waits for one answer instead of
    // each asking the registry (at 1,000 transfers/s that crowd made a startup burst of slow answers).
    lookups: tokio::sync::Mutex<()>,
}

impl Registry {
    /// A client of the registry at `base` (e.g. `http://127.0.0.1:18081/apis/ccompat/v7`).
    pub fn new(base: &str) -> Self {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default();
        Self::with_client(base, http)
    }

    /// A client of the registry at `base` over HTTPS with `tls`'s CA and certificate (plaintext when `None`).
    ///
    /// # Errors
    /// [`crate::tls::TlsError`] when the files are unusable.
    pub fn with_tls(base: &str, tls: Option<&crate::tls::ClientTls>) -> Result<Self, crate::tls::TlsError> {
        let Some(tls) = tls else { return Ok(Self::new(base)) };
        let builder = tls.http(reqwest::Client::builder().timeout(Duration::from_secs(10)))?;
        let http =
            builder.build().map_err(|e| crate::tls::TlsError::Bad { path: tls.cert.clone(), reason: e.to_string() })?;
        Ok(Self::with_client(base, http))
    }

    fn with_client(base: &str, http: reqwest::Client) -> Self {
        Registry {
            base: base.trim_end_matches('/').to_string(),
            http,
            by_subject: RwLock::new(HashMap::new()),
            by_id: RwLock::new(HashMap::new()),
            lookups: tokio::sync::Mutex::new(()),
        }
    }

    async fn get<T: for<'de> Deserialize<'de>>(&self, path: &str) -> Result<Option<T>, RegistryError> {
        let url = format!("{}{path}", self.base);
        let http = |message: String| RegistryError::Http { url: url.clone(), message };
        let response = self.http.get(&url).send().await.map_err(|e| http(e.to_string()))?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !response.status().is_success() {
            return Err(http(format!("status {}", response.status())));
        }
        response.json::<T>().await.map(Some).map_err(|e| http(e.to_string()))
    }

    /// Registers `schema_json` under `subject`; returns its id.
    pub async fn register(&self, subject: &str, schema_json: &str) -> Result<u32, RegistryError> {
        let url = format!("{}/subjects/{subject}/versions", self.base);
        let http = |message: String| RegistryError::Http { url: url.clone(), message };
        let body = serde_json::json!({ "schema": schema_json });
        let response = self
            .http
            .post(&url)
            .header("Content-Type", "application/vnd.schemaregistry.v1+json")
            .json(&body)
            .send()
            .await
            .map_err(|e| http(e.to_string()))?;
        if !response.status().is_success() {
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            return Err(http(format!("status {status}: {text}")));
        }
        Ok(response.json::<IdAnswer>().await.map_err(|e| http(e.to_string()))?.id)
    }

    /// The id of the latest schema of `subject`, `None` when the subject does not exist.
    pub async fn latest_id(&self, subject: &str) -> Result<Option<u32>, RegistryError> {
        Ok(self.get::<IdAnswer>(&format!("/subjects/{subject}/versions/latest")).await?.map(|a| a.id))
    }

    /// Subjects known to the registry.
    pub async fn subjects(&self) -> Result<Vec<String>, RegistryError> {
        Ok(self.get::<Vec<String>>("/subjects").await?.unwrap_or_default())
    }

    /// Encodes `record` for `topic` in the wire format, with the latest schema id of its subject.
    pub async fn encode(&self, topic: &str, record: &Record) -> Result<Vec<u8>, RegistryError> {
        let subject = subject(topic, record.name());
        let cached = || self.by_subject.read().ok().and_then(|m| m.get(&subject).map(|(id, s)| (*id, Arc::clone(s))));
        let (id, schema) = match cached() {
            Some(hit) => hit,
            None => {
                let _one = self.lookups.lock().await;
                match cached() {
                    Some(hit) => hit,
                    None => self.lookup_subject(&subject, record.name()).await?,
                }
            }
        };
        encode_with(id, &schema, record)
    }

    /// The latest id of `subject` with the schema of `name`, now cached.
    async fn lookup_subject(&self, subject: &str, name: &str) -> Result<(u32, Arc<Schema>), RegistryError> {
        let id = self.latest_id(subject).await?.ok_or_else(|| RegistryError::Http {
            url: format!("{}/subjects/{subject}/versions/latest", self.base),
            message: "subject not registered (run the synchronizer first)".to_string(),
        })?;
        let schema =
            records::schema(name).map(Arc::new).ok_or_else(|| RegistryError::Avro(format!("no schema for {name}")))?;
        if let Ok(mut m) = self.by_subject.write() {
            m.insert(subject.to_string(), (id, schema.clone()));
        }
        Ok((id, schema))
    }

    /// Decodes a wire-format payload into a bank record.
    ///
    /// # Errors
    /// [`RegistryError::Truncated`], [`RegistryError::WrongMagic`], [`RegistryError::UnknownSchemaId`],
    /// [`RegistryError::Avro`] for a body that does not decode.
    pub async fn decode(&self, bytes: &[u8]) -> Result<Record, RegistryError> {
        let (id, body) = split_wire(bytes)?;
        let (name, schema) = self.schema_by_id(id).await?;
        decode_body(name, &schema, body)
    }

    async fn schema_by_id(&self, id: u32) -> Result<(&'static str, Arc<Schema>), RegistryError> {
        let cached = || self.by_id.read().ok().and_then(|m| m.get(&id).cloned());
        if let Some(hit) = cached() {
            return Ok(hit);
        }
        let _one = self.lookups.lock().await;
        if let Some(hit) = cached() {
            return Ok(hit);
        }
        let answer =
            self.get::<SchemaAnswer>(&format!("/schemas/ids/{id}")).await?.ok_or(RegistryError::UnknownSchemaId(id))?;
        let foreign = |problem: String| RegistryError::ForeignSchema { id, problem };
        let parsed = Arc::new(Schema::parse_str(&answer.schema).map_err(|e| foreign(e.to_string()))?);
        let full_name = match parsed.as_ref() {
            Schema::Record(r) => r.name.fullname(None),
            other => return Err(foreign(format!("not a record schema: {other:?}"))),
        };
        let name = records::RECORD_NAMES
            .iter()
            .find(|n| full_name == format!("{}.{n}", crate::topics::NAMESPACE))
            .copied()
            .ok_or_else(|| foreign(format!("{full_name} is not a bank record")))?;
        if let Ok(mut m) = self.by_id.write() {
            m.insert(id, (name, Arc::clone(&parsed)));
        }
        Ok((name, parsed))
    }
}

/// The most a decoded value may allocate at once: Kafka's default `message.max.bytes` (1 MiB), which no record
/// value, hence no string in one, can exceed.
pub const MAX_VALUE_BYTES: usize = 1 << 20;

/// The wire format of `record` under schema `id`: magic byte 0, the id big-endian, the Avro body.
///
/// # Errors
/// [`RegistryError::Avro`] when the record does not fit `schema`.
pub fn encode_with(id: u32, schema: &Schema, record: &Record) -> Result<Vec<u8>, RegistryError> {
    let mut bytes = Vec::with_capacity(64);
    bytes.push(0);
    bytes.extend_from_slice(&id.to_be_bytes());
    let body = apache_avro::to_avro_datum(schema, record.to_value()).map_err(|e| RegistryError::Avro(e.to_string()))?;
    bytes.extend_from_slice(&body);
    Ok(bytes)
}

/// The schema id and the Avro body of a wire-format payload.
///
/// # Errors
/// [`RegistryError::Truncated`] below 5 bytes, [`RegistryError::WrongMagic`] when the first is not 0.
pub fn split_wire(bytes: &[u8]) -> Result<(u32, &[u8]), RegistryError> {
    match bytes {
        [0, a, b, c, d, body @ ..] => Ok((u32::from_be_bytes([*a, *b, *c, *d]), body)),
        [magic, _, _, _, _, ..] => Err(RegistryError::WrongMagic(*magic)),
        _ => Err(RegistryError::Truncated { len: bytes.len() }),
    }
}

/// Decodes an Avro body, all of it, as the bank record `name` of `schema`.
///
/// # Errors
/// [`RegistryError::Avro`] for a body that does not decode or has bytes left over, [`RegistryError::Shape`] for
/// a value that is not the record.
pub fn decode_body(name: &str, schema: &Schema, mut body: &[u8]) -> Result<Record, RegistryError> {
    // apache-avro allocates a string's claimed length before reading it, up to 512 MB by default: a 40-byte record
    // claiming a 500 MB string cost a 500 MB allocation. The limit is the process's, set by the first decode; the
    // bank decodes only here.
    apache_avro::max_allocation_bytes(MAX_VALUE_BYTES);
    let value =
        apache_avro::from_avro_datum(schema, &mut body, None).map_err(|e| RegistryError::Avro(e.to_string()))?;
    if !body.is_empty() {
        return Err(RegistryError::Avro(format!("{} bytes left after the record", body.len())));
    }
    Ok(Record::from_value(name, value)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A registry that answers every request with schema id 7 after 50 ms, counting the requests.
    async fn slow_registry() -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let count = Arc::new(AtomicUsize::new(0));
        let counted = count.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let counted = counted.clone();
                tokio::spawn(async move {
                    let mut request = [0u8; 4096];
                    let _ = socket.read(&mut request).await;
                    counted.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    let body = r#"{"id":7}"#;
                    let head = format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                    let _ = socket.write_all(format!("{head}{body}").as_bytes()).await;
                });
            }
        });
        (base, count)
    }

    #[tokio::test]
    async fn a_crowd_of_first_encodes_asks_the_registry_once() {
        let (base, count) = slow_registry().await;
        let registry = Registry::new(&base);
        let record = Record::MoneyTransferConfirmed { id: uuid::Uuid::nil() };
        let encoded =
            futures_util::future::join_all((0..20).map(|_| registry.encode("money_transfer_feedback", &record))).await;
        assert!(encoded.iter().all(|e| matches!(e, Ok(bytes) if bytes[..5] == [0, 0, 0, 0, 7])), "{encoded:?}");
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }
}
