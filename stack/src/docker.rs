//! The Docker engine through bollard: connecting, containers, logs and resource stats.

pub mod container;
pub mod stats;

use bollard::Docker;

/// Failures talking to the Docker engine, each naming what was being done.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("no Docker engine answers at {socket}; `scripts/setup` installs and starts one")]
    NoEngine {
        socket: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("image {image} is missing: build it with `bench images`")]
    MissingImage { image: String },
    #[error("container {name} already exists, probably left by an earlier bench: remove it with `bench down --all`")]
    NameTaken { name: String },
    #[error("{action} {name}")]
    Engine {
        action: &'static str,
        name: String,
        #[source]
        source: bollard::errors::Error,
    },
    /// A container carrying bench's label whose `kgb.stack` label is no id bench makes: joined into a path
    /// (its TLS folder), it would name another folder.
    #[error("container {container} carries a {} label bench did not write; nothing was removed (remove it with `docker rm -f {container}`)", crate::docker::container::LABEL_STACK)]
    BadLabel {
        container: String,
        #[source]
        source: bench_results::names::NameError,
    },
}

impl DockerError {
    /// Wraps an engine error with what was being done to which object.
    pub fn engine(action: &'static str, name: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> Self {
        let name = name.into();
        move |source| DockerError::Engine { action, name, source }
    }
}

/// Where the engine is expected: `DOCKER_HOST` when set, else the local socket.
pub fn socket_description() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".to_string())
}

/// Connects to the local engine and checks that it answers.
///
/// # Errors
/// [`DockerError::NoEngine`] when no engine answers.
pub async fn connect() -> Result<Docker, DockerError> {
    let no_engine = |source| DockerError::NoEngine { socket: socket_description(), source };
    // Long requests (image builds, waiting for a container to exit) must not hit bollard's 2-minute default.
    let docker = Docker::connect_with_local_defaults().map_err(no_engine)?.with_timeout(REQUEST_TIMEOUT);
    docker.ping().await.map_err(no_engine)?;
    // Debian's engine (20.10) speaks an older API than bollard's default.
    docker.negotiate_version().await.map_err(no_engine)
}

/// Upper bound for one request to the engine.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);

/// True when the error is the engine's "404 not found".
pub fn is_not_found(err: &bollard::errors::Error) -> bool {
    matches!(err, bollard::errors::Error::DockerResponseServerError { status_code: 404, .. })
}
