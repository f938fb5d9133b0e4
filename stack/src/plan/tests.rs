//! The plan checked without an engine: what each part is told, for plaintext and TLS stacks.

use super::*;

fn stack(brokers: u32) -> StackSettings {
    StackSettings { brokers, ..StackSettings::default() }
}

#[test]
fn three_brokers_form_one_static_quorum() {
    let props = server_properties(&stack(3), 2);
    assert!(props.contains("node.id=3"), "{props}");
    assert!(props.contains("controller.quorum.voters=1@127.0.0.1:19192,2@127.0.0.1:19193,3@127.0.0.1:19194"));
    assert!(props.contains("listeners=PLAINTEXT://127.0.0.1:19094,CONTROLLER://127.0.0.1:19194"));
    assert!(props.contains("min.insync.replicas=2"));
    assert!(props.contains("compression.type=lz4"));
}

#[test]
fn one_broker_caps_replication_and_min_isr() {
    let props = server_properties(&stack(1), 0);
    assert!(props.contains("offsets.topic.replication.factor=1"), "{props}");
    assert!(props.contains("min.insync.replicas=1"), "{props}");
}

#[test]
fn experiment_settings_reach_brokers_and_services() {
    let mut s = stack(1);
    s.broker.insert("compression.type".into(), toml::Value::String("zstd".into()));
    s.services.producer.insert("linger.ms".into(), toml::Value::Integer(25));
    let plan = plan(&s, "id1", Owner::Run, "pw", "cluster");
    assert!(server_properties(&s, 0).contains("compression.type=zstd"));
    let handler = &plan.services[0].spec;
    assert!(handler.env.contains(&("KAFKA_PRODUCER_LINGER_MS".into(), "25".into())));
    assert!(handler.env.contains(&("KAFKA_PRODUCER_ACKS".into(), "all".into())));
    assert_eq!(handler.memory_mib, Some(300));
    assert_eq!(handler.labels[LABEL_STACK], "id1");
    let names: Vec<_> = plan.parts().map(|p| p.spec.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "kgb-kafka-1",
            "kgb-schema-registry",
            "kgb-db-ch",
            "kgb-db-ge",
            "kgb-synchronizer",
            "kgb-command-handler",
            "kgb-graphql-endpoint",
            "kgb-frontend"
        ]
    );
    let frontend = &plan.services[2].spec;
    assert!(
        frontend.env.contains(&("GRAPHQL_WS_URL".into(), "ws://127.0.0.1:8888/graphql".into())),
        "the UI is told where the endpoint is"
    );
    let mut ports: Vec<u16> = plan.ports.iter().map(|(p, _)| *p).collect();
    ports.sort();
    ports.dedup();
    assert_eq!(ports.len(), plan.ports.len(), "no port is planned twice");
    assert!(plan.parts().all(|p| p.spec.read_only.is_empty()), "no host folder unless asked for");
}

#[test]
fn only_the_frontend_is_shown_the_reports_folder() {
    let mut plan = plan(&stack(1), "id1", Owner::Up, "pw", "cluster");
    plan.serve_reports(Path::new("/work/checkout/reports"));
    let frontend = &plan.services[2].spec;
    let folder = ReadOnlyFolder { host: "/work/checkout/reports".into(), container: FRONTEND_REPORTS.into() };
    assert_eq!(frontend.read_only, [folder]);
    assert!(frontend.env.contains(&("REPORTS_DIR".into(), FRONTEND_REPORTS.into())));
    assert_eq!(plan.parts().filter(|p| !p.spec.read_only.is_empty()).count(), 1);
}

#[test]
fn a_tls_stack_runs_every_listener_on_tls_with_client_certificates_whatever_the_experiment_says() {
    let mut s = StackSettings { tls: true, ..stack(3) };
    // An experiment cannot turn a TLS stack back to accepting clients without a certificate.
    s.broker.insert("ssl.client.auth".into(), toml::Value::String("none".into()));
    let props = server_properties(&s, 1);
    for line in [
        "listeners=SSL://127.0.0.1:19093,CONTROLLER://127.0.0.1:19193",
        "advertised.listeners=SSL://127.0.0.1:19093",
        "listener.security.protocol.map=SSL:SSL,CONTROLLER:SSL",
        "inter.broker.listener.name=SSL",
        "ssl.client.auth=required",
        "ssl.keystore.type=PEM",
        "ssl.keystore.location=/etc/kgb/tls/keystore.pem",
        "ssl.truststore.location=/etc/kgb/tls/ca.crt",
    ] {
        assert!(props.lines().any(|l| l == line), "{line} in:\n{props}");
    }
    assert!(!props.contains("PLAINTEXT"), "{props}");
    assert!(!server_properties(&stack(3), 1).contains("ssl."), "plaintext stays as 2019's profile ran");
}

#[test]
fn each_part_of_a_tls_stack_sees_only_its_own_folder_and_is_told_to_use_it() {
    let s = StackSettings { tls: true, ..stack(1) };
    let plan = plan(&s, "20261201T000000-abcdef", Owner::Run, "pw", "cluster");
    let folder = plan.tls.clone().expect("a TLS folder");
    assert_eq!(folder, crate::tls::folder("20261201T000000-abcdef").unwrap());
    for part in plan.parts() {
        let mounts: Vec<_> = part.spec.read_only.iter().map(|m| (m.host.clone(), m.container.as_str())).collect();
        assert_eq!(mounts, [(folder.join(&part.spec.name), "/etc/kgb/tls")], "{}", part.spec.name);
    }
    let env = |name: &str| plan.parts().find(|p| p.spec.name == name).unwrap().spec.env.clone();
    for client in ["kgb-synchronizer", "kgb-command-handler", "kgb-graphql-endpoint"] {
        let env = env(client);
        assert!(env.contains(&("TLS_CA".into(), "/etc/kgb/tls/ca.crt".into())), "{client}");
        assert!(env.contains(&("TLS_CERT".into(), "/etc/kgb/tls/tls.crt".into())), "{client}");
        assert!(env.contains(&("TLS_KEY".into(), "/etc/kgb/tls/tls.key".into())), "{client}");
        assert!(
            env.contains(&("SCHEMA_REGISTRY_URL".into(), "https://127.0.0.1:18081/apis/ccompat/v7".into())),
            "{client}"
        );
    }
    assert!(env("kgb-db-ch").contains(&("POSTGRES_TLS_DIR".into(), "/etc/kgb/tls".into())));
    assert!(env("kgb-schema-registry").contains(&("QUARKUS_HTTP_INSECURE_REQUESTS".into(), "disabled".into())));
    assert!(!env("kgb-frontend").iter().any(|(k, _)| k.starts_with("TLS_")), "the UI talks to no broker or database");
    let e = &plan.endpoints;
    assert!(e.db_ch.ends_with("?sslmode=require") && e.db_ge.ends_with("?sslmode=require"), "{e:?}");
    assert_eq!(e.tls, Some(ClientTls::in_folder(&folder.join("bench"))), "bench's own client files");
    let checks_with_tls = plan.parts().filter(|p| match &p.wait.check {
        Check::KafkaBrokers { tls, .. } | Check::Http { tls, .. } | Check::Postgres { tls, .. } => tls.is_some(),
        Check::Exited => false,
    });
    assert_eq!(checks_with_tls.count(), 4, "the broker, the registry and both databases are checked over TLS");

    let plain = super::plan(&stack(1), "id1", Owner::Run, "pw", "cluster");
    assert_eq!((&plain.tls, &plain.endpoints.tls), (&None, &None));
    assert!(!plain.endpoints.db_ch.contains("sslmode") && plain.endpoints.registry.starts_with("http://"));
    assert!(plain.parts().all(|p| !p.spec.env.iter().any(|(k, _)| k.starts_with("TLS_") || k.contains("SSL"))));
}

#[test]
fn with_tls_endpoint_the_endpoint_and_the_ui_answer_https_and_are_checked_over_it() {
    let s = StackSettings { tls: true, tls_endpoint: true, ..stack(1) };
    let plan = plan(&s, "id1", Owner::Run, "pw", "cluster");
    let e = &plan.endpoints;
    assert_eq!(
        (e.graphql_ws.as_str(), e.graphql_http.as_str()),
        ("wss://127.0.0.1:8888/graphql", "https://127.0.0.1:8888/graphql")
    );
    assert_eq!(e.frontend, "https://127.0.0.1:8181/");
    let part = |name: &str| plan.parts().find(|p| p.spec.name == name).unwrap().clone();
    for name in ["kgb-graphql-endpoint", "kgb-frontend"] {
        let p = part(name);
        assert!(p.spec.env.contains(&("HTTPS_CERT".into(), "/etc/kgb/tls/tls.crt".into())), "{name}");
        assert!(p.spec.env.contains(&("HTTPS_KEY".into(), "/etc/kgb/tls/tls.key".into())), "{name}");
        match &p.wait.check {
            Check::Http { url, tls } => {
                assert!(url.starts_with("https://127.0.0.1:") && tls.is_some(), "{name}: {url}")
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    assert!(part("kgb-frontend").spec.env.contains(&("GRAPHQL_WS_URL".into(), "wss://127.0.0.1:8888/graphql".into())));
    assert!(part("kgb-graphql-endpoint")
        .spec
        .env
        .contains(&("CORS_ORIGINS".into(), "https://localhost:8181,https://127.0.0.1:8181".into())));
    let handler = part("kgb-command-handler");
    assert!(!handler.spec.env.iter().any(|(k, _)| k.starts_with("HTTPS_")), "the handler's health stays HTTP");

    let inner_only = plan_of(StackSettings { tls: true, ..stack(1) });
    assert!(
        inner_only.endpoints.graphql_ws.starts_with("ws://") && inner_only.endpoints.frontend.starts_with("http://")
    );
    assert!(!inner_only.parts().any(|p| p.spec.env.iter().any(|(k, _)| k.starts_with("HTTPS_"))));
}

fn plan_of(s: StackSettings) -> StackPlan {
    plan(&s, "id1", Owner::Run, "pw", "cluster")
}
