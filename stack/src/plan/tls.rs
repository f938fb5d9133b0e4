//! What `[stack] tls = true` changes in a plan: each part sees its own folder of the stack's TLS material
//! (see [`crate::tls`]) at [`CONTAINER_FOLDER`], and is told to use it.

use std::path::Path;

use topology::env as vars;
use topology::tls::{CA_FILE, CERT_FILE, KEY_FILE};

use super::{kv, Part, Role, StackPlan};
use crate::docker::container::ReadOnlyFolder;
use crate::plan::Check;
use crate::tls::{CONTAINER_FOLDER, KEYSTORE_FILE};

fn in_container(file: &str) -> String {
    format!("{CONTAINER_FOLDER}/{file}")
}

/// Shows every part its own folder of `folder` (named as its container), read-only.
pub(super) fn mount(plan: &mut StackPlan, folder: &Path) {
    let parts =
        plan.infrastructure.iter_mut().chain(std::iter::once(&mut plan.synchronizer)).chain(plan.services.iter_mut());
    for part in parts {
        let host = folder.join(&part.spec.name);
        part.spec.read_only.push(ReadOnlyFolder { host, container: CONTAINER_FOLDER.to_string() });
    }
}

/// The GraphQL endpoint and the UI on HTTPS and `wss://` (`tls_endpoint`), with their own certificates; their
/// health is checked over HTTPS with bench's files, and the endpoint lets the UI's HTTPS origins call it.
pub(super) fn serve_https(services: &mut [Part], frontend_port: u16, bench: Option<topology::tls::ClientTls>) {
    for part in services.iter_mut().filter(|p| matches!(p.role, Role::GraphqlEndpoint | Role::Frontend)) {
        part.spec
            .env
            .extend([kv(vars::HTTPS_CERT, in_container(CERT_FILE)), kv(vars::HTTPS_KEY, in_container(KEY_FILE))]);
        if part.role == Role::GraphqlEndpoint {
            part.spec.env.push(kv(
                "CORS_ORIGINS",
                format!("https://localhost:{frontend_port},https://127.0.0.1:{frontend_port}"),
            ));
        }
        if let Check::Http { url, tls } = &mut part.wait.check {
            *url = url.replacen("http://", "https://", 1);
            *tls = bench.clone();
        }
    }
}

/// Every bank service and the synchronizer: Kafka, PostgreSQL and the registry with the part's own certificate.
pub(super) fn client_env() -> Vec<(String, String)> {
    vec![
        kv(vars::TLS_CA, in_container(CA_FILE)),
        kv(vars::TLS_CERT, in_container(CERT_FILE)),
        kv(vars::TLS_KEY, in_container(KEY_FILE)),
    ]
}

/// The registry (Quarkus) on HTTPS only, at the port it served HTTP on.
pub(super) fn registry_env(port: u16) -> Vec<(String, String)> {
    vec![
        kv("QUARKUS_HTTP_SSL_PORT", port.to_string()),
        kv("QUARKUS_HTTP_INSECURE_REQUESTS", "disabled"),
        kv("QUARKUS_HTTP_SSL_CERTIFICATE_FILES", in_container(CERT_FILE)),
        kv("QUARKUS_HTTP_SSL_CERTIFICATE_KEY_FILES", in_container(KEY_FILE)),
    ]
}

/// Every listener (clients, brokers, controllers) on TLS with client certificates required; a broker shows its
/// own certificate to the others and to the controllers. They are written over the experiment's `[stack.broker]`:
/// a TLS stack that quietly accepted plaintext clients would measure something else.
pub(super) fn broker_properties() -> Vec<(String, String)> {
    [
        ("ssl.keystore.type", "PEM".to_string()),
        ("ssl.keystore.location", in_container(KEYSTORE_FILE)),
        ("ssl.truststore.type", "PEM".to_string()),
        ("ssl.truststore.location", in_container(CA_FILE)),
        ("ssl.client.auth", "required".to_string()),
        ("ssl.endpoint.identification.algorithm", "https".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}
