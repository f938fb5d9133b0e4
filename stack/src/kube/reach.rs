//! How bench reaches a stack whose parts do not listen on its own 127.0.0.1: a listener on 127.0.0.1 per port
//! of the plan, each connection carried to the part's newest pod through the API server (a port-forward); with
//! `reach = "service"` on a pod network, the endpoint and the UI at their load balancer's address instead. The
//! plan's checks and endpoints are then rewritten to those addresses, so readiness, schemas, load and audit
//! run unchanged.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::authorization::v1::{ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec};
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, Portforwarder, PostParams};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::{namespace, reason, Cluster, KubeError};
use crate::plan::Check;
use crate::plan::{Role, StackPlan};
use bench_results::experiment::kubernetes::{Network, Reach};

/// How long bench waits for load balancers to give the endpoint's and the UI's Services an address.
const ADDRESS_TIMEOUT: Duration = Duration::from_secs(180);
/// How long one connection waits for its pod to be found and its port-forward to open.
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

/// Where bench reaches each port of a stack; the forwards end when this is dropped.
pub struct Reached {
    /// The plan's port -> the `host:port` bench uses for it.
    pub addresses: BTreeMap<u16, String>,
    /// The ports that go through the API server, each with its part.
    pub forwarded: Vec<(u16, String)>,
    /// The plan's endpoints without bench's forwards (a load balancer's address stays): where a part answers
    /// on the host network, or after a user's own `kubectl port-forward PORT`.
    pub unforwarded: Option<crate::plan::Endpoints>,
    stop: CancellationToken,
}

impl Drop for Reached {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Cluster {
    /// `None` when the parts listen on this host (`network = "host"` reached directly); else the forwards and
    /// addresses, already listening. The stack's Services must exist (with `reach = "service"`).
    ///
    /// # Errors
    /// No right to port-forward, no port on 127.0.0.1, or no load balancer address in time.
    pub async fn reach(
        &self,
        plan: &StackPlan,
        stack_id: &str,
        progress: &(dyn Fn(String) + Sync),
    ) -> Result<Option<Reached>, KubeError> {
        let (network, reach) = (self.placement.network, self.placement.reach);
        if network == Network::Host && reach == Reach::Service {
            return Ok(None);
        }
        let public: Vec<(u16, &str)> = if network == Network::Pod && reach == Reach::Service {
            plan.services
                .iter()
                .filter(|p| matches!(p.role, Role::GraphqlEndpoint | Role::Frontend))
                .flat_map(|p| {
                    plan.ports
                        .iter()
                        .filter(|(_, owner)| *owner == p.spec.name)
                        .map(|(port, owner)| (*port, owner.as_str()))
                })
                .collect()
        } else {
            Vec::new()
        };
        self.may_forward(stack_id).await?;
        let stop = CancellationToken::new();
        let mut reached =
            Reached { addresses: BTreeMap::new(), forwarded: Vec::new(), unforwarded: None, stop: stop.clone() };
        let wanted = wanted(plan);
        let deadline = Instant::now() + ADDRESS_TIMEOUT;
        for (port, part) in plan.ports.iter().filter(|(port, _)| wanted.contains(port)) {
            if let Some((_, service)) = public.iter().find(|(p, _)| p == port) {
                progress(format!("waiting for a load balancer's address for Service {service}"));
                let host = self.load_balancer(stack_id, service, deadline).await?;
                // An IPv6 address is bracketed before its port.
                let host = if host.contains(':') { format!("[{host}]") } else { host };
                reached.addresses.insert(*port, format!("{host}:{port}"));
                continue;
            }
            let listen = |source| KubeError::Listen { part: part.clone(), source };
            let listener = TcpListener::bind(("127.0.0.1", 0)).await.map_err(listen)?;
            let local = listener.local_addr().map_err(listen)?;
            reached.addresses.insert(*port, local.to_string());
            reached.forwarded.push((*port, part.clone()));
            let forward =
                Forward { cluster: self.clone(), stack_id: stack_id.to_string(), part: part.clone(), port: *port };
            tokio::spawn(serve(listener, forward, stop.clone()));
        }
        Ok(Some(reached))
    }

    /// Fails at once when the API server would refuse bench's port-forwards into the stack's namespace, rather
    /// than on every connection while readiness waits. A cluster that cannot answer the question is not refused.
    async fn may_forward(&self, stack_id: &str) -> Result<(), KubeError> {
        let namespace = namespace(stack_id);
        let attributes = ResourceAttributes {
            namespace: Some(namespace.clone()),
            verb: Some("create".to_string()),
            resource: Some("pods".to_string()),
            subresource: Some("portforward".to_string()),
            ..ResourceAttributes::default()
        };
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(attributes),
                ..SelfSubjectAccessReviewSpec::default()
            },
            ..SelfSubjectAccessReview::default()
        };
        let answer = Api::<SelfSubjectAccessReview>::all(self.client()).create(&PostParams::default(), &review).await;
        match answer.ok().and_then(|a| a.status) {
            Some(status) if !status.allowed => {
                Err(KubeError::NoPortForward { namespace, reason: status.reason.unwrap_or_default() })
            }
            _ => Ok(()),
        }
    }

    /// The address a load balancer gave `service` (its first ingress IP or hostname), waited for until
    /// `deadline`.
    async fn load_balancer(&self, stack_id: &str, service: &str, deadline: Instant) -> Result<String, KubeError> {
        let api: Api<Service> = Api::namespaced(self.client(), &namespace(stack_id));
        loop {
            let found = api.get(service).await.map_err(KubeError::api("reading Service", service))?;
            if let Some(host) = ingress(&found) {
                return Ok(host);
            }
            if Instant::now() >= deadline {
                return Err(KubeError::NoAddress { service: service.to_string(), waited: ADDRESS_TIMEOUT });
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// A Service's first load-balancer address: an IP, else a hostname (as some clouds give).
fn ingress(service: &Service) -> Option<String> {
    let first = service.status.as_ref()?.load_balancer.as_ref()?.ingress.as_ref()?.first()?.clone();
    first.ip.or(first.hostname).filter(|h| !h.is_empty())
}

/// One forwarded port of one part.
struct Forward {
    cluster: Cluster,
    stack_id: String,
    part: String,
    port: u16,
}

async fn serve(listener: TcpListener, forward: Forward, stop: CancellationToken) {
    let forward = std::sync::Arc::new(forward);
    loop {
        let socket = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, _)) => socket,
                Err(e) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!("port-forward to {}: accepting: {e}", forward.part);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = stop.cancelled() => return,
        };
        let (forward, stop) = (forward.clone(), stop.clone());
        tokio::spawn(async move {
            tokio::select! {
                carried = carry(socket, &forward) => if let Err(e) = carried {
                    tracing::debug!("port-forward to {}:{}: {e}", forward.part, forward.port);
                },
                () = stop.cancelled() => {}
            }
        });
    }
}

/// Carries one connection to the part's newest pod; a connection to a pod that is gone or not running is
/// closed, as one to a stopped container is.
async fn carry(mut socket: TcpStream, forward: &Forward) -> Result<(), String> {
    let mut opened = tokio::time::timeout(OPEN_TIMEOUT, open(forward))
        .await
        .map_err(|_| format!("no port-forward within {OPEN_TIMEOUT:?}"))??;
    let stream = opened.0.take_stream(forward.port).ok_or("the API server gave no stream")?;
    both_ways(&mut socket, stream).await
}

/// A port-forward whose task ends with it (kube's ends only after its websocket's close handshake).
struct Opened(Portforwarder);

impl Drop for Opened {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn open(forward: &Forward) -> Result<Opened, String> {
    let pod = forward.cluster.pod_of(&forward.stack_id, &forward.part).await.map_err(|e| e.to_string())?;
    let name = pod.and_then(|p| p.metadata.name).ok_or_else(|| format!("{} has no pod", forward.part))?;
    forward
        .cluster
        .pods(&forward.stack_id)
        .portforward(&name, &[forward.port])
        .await
        .map(Opened)
        .map_err(|e| reason(&e))
}

/// Copies both ways until either side ends: the API's stream does not pass a half-close on, so waiting for
/// both would keep every closed connection's forward open.
async fn both_ways<S: AsyncRead + AsyncWrite + Unpin>(socket: &mut TcpStream, stream: S) -> Result<(), String> {
    let (mut from_client, mut to_client) = socket.split();
    let (mut from_pod, mut to_pod) = tokio::io::split(stream);
    tokio::select! {
        up = tokio::io::copy(&mut from_client, &mut to_pod) => up.map(drop).map_err(|e| e.to_string()),
        down = tokio::io::copy(&mut from_pod, &mut to_client) => down.map(drop).map_err(|e| e.to_string()),
    }
}

impl Reached {
    /// The `kubectl port-forward` commands that reach what bench reached through its own forwards, which end
    /// with it.
    pub fn commands(&self, plan: &StackPlan, stack_id: &str) -> Vec<String> {
        let namespace = super::namespace(stack_id);
        let role = |part: &String| plan.parts().find(|p| p.spec.name == *part).map(|p| p.role);
        let command = |(port, part): &(u16, String)| {
            let role = role(part)?;
            // On a pod network a broker's metadata names Services a client outside the cluster cannot resolve.
            let note = if role == Role::Kafka { "  (metadata only, outside the cluster)" } else { "" };
            let workload = super::manifests::workload(role);
            Some(format!("kubectl -n {namespace} port-forward {workload}/{part} {port}{note}"))
        };
        self.forwarded.iter().filter_map(command).collect()
    }

    /// `plan` with every check and endpoint at the address bench reaches it by.
    pub fn readdress(&mut self, plan: &mut StackPlan) {
        let forwarded = |port: u16| self.forwarded.iter().any(|(p, _)| *p == port);
        let mut unforwarded = plan.clone();
        for address in addresses(&mut unforwarded) {
            *address = super::pod_network::readdress(address, |port| {
                self.addresses.get(&port).filter(|_| !forwarded(port)).cloned()
            });
        }
        for address in addresses(plan) {
            *address = super::pod_network::readdress(address, |port| self.addresses.get(&port).cloned());
        }
        self.unforwarded = Some(unforwarded.endpoints);
    }
}

/// The ports bench itself connects to: those of the plan's checks and endpoints (not the controllers').
fn wanted(plan: &StackPlan) -> std::collections::BTreeSet<u16> {
    let mut plan = plan.clone();
    let mut seen = std::collections::BTreeSet::new();
    for address in addresses(&mut plan) {
        super::pod_network::readdress(address, |port| {
            seen.insert(port);
            None
        });
    }
    seen
}

/// Every address in the plan's checks and endpoints.
fn addresses(plan: &mut StackPlan) -> Vec<&mut String> {
    let mut found = Vec::new();
    let parts =
        plan.infrastructure.iter_mut().chain(std::iter::once(&mut plan.synchronizer)).chain(plan.services.iter_mut());
    for part in parts {
        match &mut part.wait.check {
            Check::KafkaBrokers { bootstrap: address, .. }
            | Check::Http { url: address, .. }
            | Check::Postgres { url: address, .. } => {
                found.push(address);
            }
            Check::Exited => {}
        }
    }
    let e = &mut plan.endpoints;
    found.extend([
        &mut e.bootstrap,
        &mut e.registry,
        &mut e.db_ch,
        &mut e.db_ge,
        &mut e.graphql_http,
        &mut e.graphql_ws,
        &mut e.command_handler_health,
        &mut e.frontend,
    ]);
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use bench_results::experiment::stack::StackSettings;

    #[test]
    fn every_check_and_endpoint_moves_to_its_ports_new_address() {
        let stack = StackSettings { brokers: 2, ..StackSettings::default() };
        let mut plan = crate::plan::plan(&stack, "20261201T000000-abcdef", crate::plan::Owner::Run, "pw", "cluster");
        // A made-up address per port, from the settings' ports, not from the plan.
        let p = &stack.ports;
        let at = |port: u16| format!("127.0.0.1:{}", 40000 + port % 10000);
        let ports =
            [p.kafka, p.kafka + 1, p.registry, p.db_ch, p.db_ge, p.graphql, p.frontend, p.command_handler_health];
        let addresses: BTreeMap<u16, String> = ports.iter().map(|port| (*port, at(*port))).collect();
        // Every port forwarded but the endpoint's, which a load balancer gave an address.
        let forwarded =
            ports.iter().filter(|port| **port != p.graphql).map(|port| (*port, "part".to_string())).collect();
        let mut reached = Reached { addresses, forwarded, unforwarded: None, stop: CancellationToken::new() };
        let before = plan.endpoints.clone();
        assert_eq!(wanted(&plan), ports.iter().copied().collect(), "every port bench connects to, and no controller's");
        reached.readdress(&mut plan);

        // Without bench's forwards only the load balancer's address replaces the plan's.
        let outside = reached.unforwarded.as_ref().expect("kept");
        assert_eq!(outside.graphql_ws, format!("ws://{}/graphql", at(p.graphql)));
        assert_eq!(
            (&outside.db_ch, &outside.bootstrap, &outside.frontend),
            (&before.db_ch, &before.bootstrap, &before.frontend)
        );
        let e = &plan.endpoints;
        assert_eq!(e.bootstrap, format!("{},{}", at(p.kafka), at(p.kafka + 1)));
        assert_eq!(e.graphql_ws, format!("ws://{}/graphql", at(p.graphql)));
        assert_eq!(e.graphql_http, format!("http://{}/graphql", at(p.graphql)));
        assert_eq!(e.db_ch, format!("postgres://postgres:pw@{}/postgres", at(p.db_ch)));
        assert_eq!(e.db_ge, format!("postgres://postgres:pw@{}/postgres", at(p.db_ge)));
        assert_eq!(e.registry, format!("http://{}/apis/ccompat/v7", at(p.registry)));
        assert_eq!(e.frontend, format!("http://{}/", at(p.frontend)));
        let checks: Vec<String> = plan.parts().map(|part| format!("{:?}", part.wait.check)).collect();
        for check in &checks {
            assert!(
                !check.contains("127.0.0.1:1") && !check.contains("127.0.0.1:2") && !check.contains("127.0.0.1:8"),
                "{check}"
            );
        }
        assert!(checks.iter().any(|c| c.contains(&at(p.command_handler_health))), "{checks:?}");
        // Each broker is checked on its own port.
        assert!(checks.iter().any(|c| c.contains(&format!("bootstrap: \"{}\"", at(p.kafka)))), "{checks:?}");
        assert!(checks.iter().any(|c| c.contains(&format!("bootstrap: \"{}\"", at(p.kafka + 1)))), "{checks:?}");
    }

    #[test]
    fn a_load_balancers_ip_comes_before_its_hostname() {
        let service = |status: serde_json::Value| -> Service {
            serde_json::from_value(serde_json::json!({ "status": status })).unwrap()
        };
        assert_eq!(ingress(&service(serde_json::json!({}))), None);
        assert_eq!(ingress(&service(serde_json::json!({ "loadBalancer": { "ingress": [] } }))), None);
        let both =
            serde_json::json!({ "loadBalancer": { "ingress": [{ "ip": "10.0.0.7", "hostname": "lb.example" }] } });
        assert_eq!(ingress(&service(both)).as_deref(), Some("10.0.0.7"));
        let named = serde_json::json!({ "loadBalancer": { "ingress": [{ "hostname": "lb.example" }] } });
        assert_eq!(ingress(&service(named)).as_deref(), Some("lb.example"));
    }
}
