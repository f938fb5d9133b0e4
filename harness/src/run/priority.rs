//! bench's own scheduling during runs. On a machine the stack saturates, a normal-priority bench waits on the run
//! queue behind dozens of runnable broker threads: measured on the 2-core reference machine, transfers went out up
//! to 280 ms behind their schedule at 1,000 tx/s and the capacity search found 688 tx/s. At nice -10 (the default)
//! the lag's p99 stays at 5–7 ms near capacity, far below any SLO a search judges, and the searches found 1,125 and
//! 1,188 tx/s. Real-time round robin keeps the lag near 1 ms but preempts the stack at every one of bench's
//! thousands of wake-ups a second, and costs it capacity: 875, 875, 906 and 1,000 tx/s in the same session
//! (`--priority` chooses). Children and threads bench starts (Chromium, teardown helpers) get the normal policy back.

use bench_results::Scheduling;

/// Raises the calling thread's priority up to `wanted`, as far as allowed; returns what it got (the results header
/// records it).
pub fn raise(wanted: Scheduling) -> Scheduling {
    let param = libc::sched_param { sched_priority: 1 };
    // SAFETY: sched_setscheduler only reads `param`; pid 0 is the calling thread.
    if wanted == Scheduling::RealTime
        && unsafe { libc::sched_setscheduler(0, libc::SCHED_RR | libc::SCHED_RESET_ON_FORK, &param) } == 0
    {
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
