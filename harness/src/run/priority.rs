//! bench's own scheduling during runs. On a machine the stack saturates, a normal-priority bench waits on the run
//! queue behind dozens of runnable broker threads: measured here, transfers went out up to 280 ms behind their
//! schedule at 1,000 tx/s and the search found half the capacity it found with bench given priority (688 against
//! 1,625 tx/s). bench needs little CPU (a few % of the machine) but needs it on time, so it asks for the lowest
//! real-time priority (round robin), falling back to a negative nice value; children and threads it starts
//! (Chromium, teardown helpers) get the normal policy back.

use crate::results::Scheduling;

/// Raises the calling thread's priority up to `wanted`, as far as allowed; returns what it got (the results header
/// records it).
pub fn raise(wanted: Scheduling) -> Scheduling {
    let param = libc::sched_param { sched_priority: 1 };
    // SAFETY: sched_setscheduler only reads `param`; pid 0 is the calling thread.
    if wanted == Scheduling::RealTime && unsafe { libc::sched_setscheduler(0, libc::SCHED_RR | libc::SCHED_RESET_ON_FORK, &param) } == 0 {
        return Scheduling::RealTime;
    }
    // SAFETY: setpriority changes only this process's nice value.
    if wanted != Scheduling::Normal && unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, -10) } == 0 {
        return Scheduling::Nice;
    }
    Scheduling::Normal
}

/// How the calling thread is scheduled now (for the results header).
pub fn current() -> Scheduling {
    // SAFETY: both calls only read the calling thread's scheduling attributes.
    let policy = unsafe { libc::sched_getscheduler(0) } & !libc::SCHED_RESET_ON_FORK;
    if policy == libc::SCHED_RR || policy == libc::SCHED_FIFO {
        return Scheduling::RealTime;
    }
    // getpriority returns -1 both as a value and as an error; nice values below 0 are what matters here.
    if unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) } < 0 {
        return Scheduling::Nice;
    }
    Scheduling::Normal
}
