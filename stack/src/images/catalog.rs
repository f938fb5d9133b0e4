//! The images bench builds, their build files embedded in the binary so `bench` works from any folder.

/// Debian bookworm root made with debootstrap; every other image builds on it.
pub const BASE: &str = "kgb/base:bookworm";
/// Debian's Java 17 runtime.
pub const JAVA: &str = "kgb/java:17";
// The images of a stack are the defaults of an experiment file's `[stack.images]`, so the format owns their names.
pub use bench_results::experiment::stack::catalog::{
    COMMAND_HANDLER, FRONTEND, GRAPHQL_ENDPOINT, KAFKA, POSTGRES, SCHEMA_REGISTRY, SYNCHRONIZER,
};

/// How an image is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `debootstrap --variant=minbase --include=<include> <suite>` from the mirror apt uses, imported as an image.
    Debootstrap { suite: &'static str, include: &'static str },
    /// A Dockerfile build; `maven` fetches artifacts of an embedded pom into `dir` of the context first.
    Dockerfile { maven: Option<Maven> },
    /// A release binary of this workspace on the base image.
    BankBinary { bin: &'static str },
}

/// Artifacts fetched from Maven Central into a folder of the build context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Maven {
    /// The dependencies of the embedded `pom.xml` (`mvn dependency:copy-dependencies`), of `scope` when set.
    Dependencies { dir: &'static str, scope: Option<&'static str> },
    /// One artifact by its coordinates (`mvn dependency:copy`), without its own pom's dependencies.
    Artifact { dir: &'static str, coordinates: &'static str },
}

/// One image.
#[derive(Debug)]
pub struct ImageDef {
    pub reference: &'static str,
    pub parent: Option<&'static str>,
    /// Build-context files (name, content); `pom.xml`, when present, drives the Maven fetch.
    pub files: &'static [(&'static str, &'static str)],
    pub source: Source,
}

const BANK_DOCKERFILE: &[(&str, &str)] = &[("Dockerfile", include_str!("../../../compose/bank-service/Dockerfile"))];

/// Every image, parents before children.
pub static ALL: &[ImageDef] = &[
    ImageDef {
        reference: BASE,
        parent: None,
        files: &[],
        // libssl3: the bank's binaries link OpenSSL (librdkafka, PostgreSQL and HTTPS clients for TLS stacks).
        source: Source::Debootstrap { suite: "bookworm", include: "libssl3" },
    },
    ImageDef {
        reference: JAVA,
        parent: Some(BASE),
        files: &[("Dockerfile", include_str!("../../../compose/java/Dockerfile"))],
        source: Source::Dockerfile { maven: None },
    },
    ImageDef {
        reference: KAFKA,
        parent: Some(JAVA),
        files: &[
            ("Dockerfile", include_str!("../../../compose/kafka/Dockerfile")),
            ("entrypoint.sh", include_str!("../../../compose/kafka/entrypoint.sh")),
            ("cds.sh", include_str!("../../../compose/kafka/cds.sh")),
            ("log4j2.yaml", include_str!("../../../compose/kafka/log4j2.yaml")),
            ("pom.xml", include_str!("../../../compose/kafka/pom.xml")),
        ],
        source: Source::Dockerfile { maven: Some(Maven::Dependencies { dir: "jars", scope: Some("runtime") }) },
    },
    ImageDef {
        reference: SCHEMA_REGISTRY,
        parent: Some(JAVA),
        files: &[
            ("Dockerfile", include_str!("../../../compose/schema-registry/Dockerfile")),
            ("entrypoint.sh", include_str!("../../../compose/schema-registry/entrypoint.sh")),
            ("cds.sh", include_str!("../../../compose/schema-registry/cds.sh")),
        ],
        // The archive's parent pom is not on Maven Central, so it is copied alone rather than resolved.
        source: Source::Dockerfile {
            maven: Some(Maven::Artifact {
                dir: "archive",
                coordinates: "io.apicurio:apicurio-registry-app:3.0.9:tar.gz:all",
            }),
        },
    },
    ImageDef {
        reference: POSTGRES,
        parent: Some(BASE),
        files: &[
            ("Dockerfile", include_str!("../../../compose/postgres/Dockerfile")),
            ("entrypoint.sh", include_str!("../../../compose/postgres/entrypoint.sh")),
        ],
        source: Source::Dockerfile { maven: None },
    },
    ImageDef {
        reference: SYNCHRONIZER,
        parent: Some(BASE),
        files: BANK_DOCKERFILE,
        source: Source::BankBinary { bin: "synchronizer" },
    },
    ImageDef {
        reference: COMMAND_HANDLER,
        parent: Some(BASE),
        files: BANK_DOCKERFILE,
        source: Source::BankBinary { bin: "command-handler" },
    },
    ImageDef {
        reference: GRAPHQL_ENDPOINT,
        parent: Some(BASE),
        files: BANK_DOCKERFILE,
        source: Source::BankBinary { bin: "graphql-endpoint" },
    },
    ImageDef {
        reference: FRONTEND,
        parent: Some(BASE),
        files: BANK_DOCKERFILE,
        source: Source::BankBinary { bin: "frontend" },
    },
];
