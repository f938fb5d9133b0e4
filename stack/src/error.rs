//! Why a stack did not come up, whichever part of the lifecycle refused.

use crate::docker::DockerError;
use crate::kube::KubeError;
use crate::plan::ReadinessError;
use crate::ports::PortTaken;
use crate::tls;

/// Why a stack did not come up. Whatever had started is removed before this is returned.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error(transparent)]
    PortTaken(#[from] PortTaken),
    #[error(transparent)]
    NotReady(#[from] ReadinessError),
    #[error("cannot create the database tables")]
    Schema(#[from] topology::db::DbError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error(transparent)]
    Kube(#[from] KubeError),
    #[error("bring-up interrupted")]
    Interrupted,
}
