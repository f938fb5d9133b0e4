//! Faults during the load (`[[faults]]`): at its loop a fault kills, pauses or stops its container (on
//! Kubernetes: scales its workload to 0, deleting the pod at once for a kill), and after its duration starts,
//! thaws or starts it again (scales it back to 1). Each begin and end is marked on the row of the loop it
//! happened in; the driver does not count timeouts inside a fault's window (plus its grace) towards the stop rule.

use std::time::Duration;

use stack::platform::Disruption;
use stack::Platform;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::experiment::{Fault, FaultAction};
use bench_results::{Edge, Mark};

/// The stack a fault acts on.
pub struct On {
    pub platform: Platform,
    pub stack_id: String,
}

fn disruption(action: FaultAction) -> Disruption {
    match action {
        FaultAction::Kill => Disruption::Kill,
        FaultAction::Pause => Disruption::Pause,
        FaultAction::Restart => Disruption::Stop,
    }
}

/// Starts `fault` now; marks go to `marks` as they happen. The task always tries to bring the container back;
/// an action the platform refuses ends the fault at once, its end mark carrying the error.
pub fn spawn(on: On, fault: Fault, marks: mpsc::UnboundedSender<(Instant, Mark)>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let name = fault.container();
        let how = disruption(fault.action);
        let mark =
            |edge, error: Option<String>| Mark { target: fault.target.clone(), action: fault.action, edge, error };
        // Marked as it begins, so the mark sits on the row of `at_loop` (a graceful stop can take seconds).
        let _ = marks.send((Instant::now(), mark(Edge::Start, None)));
        if let Err(e) = on.platform.disrupt(&on.stack_id, &name, how).await {
            let _ = marks.send((Instant::now(), mark(Edge::End, Some(format!("the fault did not happen: {e}")))));
            return;
        }
        tokio::time::sleep(fault.duration()).await;
        let ended = on.platform.restore(&on.stack_id, &name, how).await;
        let _ = marks.send((Instant::now(), mark(Edge::End, ended.err())));
    })
}

/// Which faults are in effect, for the stop rule.
#[derive(Debug, Default)]
pub struct Windows {
    /// Per target: when its window closes (`None` while the fault lasts).
    open: Vec<(String, Option<Instant>)>,
}

impl Windows {
    pub fn record(&mut self, at: Instant, mark: &Mark, grace: Duration) {
        match mark.edge {
            Edge::Start => self.open.push((mark.target.clone(), None)),
            Edge::End => {
                if let Some(w) = self.open.iter_mut().find(|(t, until)| *t == mark.target && until.is_none()) {
                    w.1 = Some(at + grace);
                }
            }
        }
    }

    /// Whether a loop that began at `slot` falls inside a fault's window.
    pub fn covers(&mut self, slot: Instant) -> bool {
        self.open.retain(|(_, until)| until.is_none_or(|u| slot < u));
        !self.open.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(edge: Edge) -> Mark {
        Mark { target: "kafka-2".into(), action: FaultAction::Kill, edge, error: None }
    }

    #[tokio::test(start_paused = true)]
    async fn a_window_lasts_from_start_to_end_plus_grace() {
        let mut w = Windows::default();
        let t0 = Instant::now();
        assert!(!w.covers(t0));
        w.record(t0, &mark(Edge::Start), Duration::from_secs(30));
        assert!(w.covers(t0 + Duration::from_secs(100)), "open until the fault ends");
        let end = t0 + Duration::from_secs(10);
        w.record(end, &mark(Edge::End), Duration::from_secs(30));
        assert!(w.covers(end + Duration::from_secs(29)));
        assert!(!w.covers(end + Duration::from_secs(30)));
    }
}
