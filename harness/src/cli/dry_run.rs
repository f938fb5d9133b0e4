//! `bench run --dry-run`: what an invocation would run and how long it would take, without starting anything.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use harness::experiment::estimate::{self, Bound};
use harness::experiment::{ExperimentFile, Variant};

/// What earlier complete runs of one variant took, from their results files.
#[derive(Default)]
struct Earlier {
    runs: u32,
    total: Duration,
}

fn earlier(results: &Path, experiment: &str, variant: &str) -> Earlier {
    let folder = results.join(experiment).join(variant);
    let files = if folder.is_dir() { bench_results::files(&folder).unwrap_or_default() } else { Vec::new() };
    let mut e = Earlier::default();
    for (header, end) in files.iter().filter_map(|f| bench_results::outline(f).ok()) {
        // A duration no run can take (negative, or beyond any clock) is a damaged file, not a typical run.
        let took = end.and_then(|end| {
            Duration::try_from_secs_f64(header.stack_ready_s.unwrap_or_default() + end.duration_s).ok()
        });
        if let Some(took) = took.and_then(|t| t.checked_add(estimate::AFTER_LOAD)) {
            e.runs += 1;
            e.total = e.total.saturating_add(took);
        }
    }
    e
}

/// The first rounds' order, and how to replay it.
fn print_rounds(order: &[harness::run::Planned], seed: u64) {
    const SHOWN: usize = 3;
    let rounds: Vec<&[harness::run::Planned]> = order.chunk_by(|a, b| a.round == b.round).collect();
    if order.first().is_none_or(|p| p.order.of < 2) {
        return;
    }
    for round in rounds.iter().take(SHOWN) {
        let names: Vec<&str> = round.iter().map(|p| p.variant.name.as_str()).collect();
        println!("  round {}: {}", round[0].round, names.join(", "));
    }
    if rounds.len() > SHOWN {
        println!("  … {} more round(s)", rounds.len() - SHOWN);
    }
    println!("  (order from seed {seed}: `--seed {seed}` runs exactly this order)");
}

pub fn print(file: &ExperimentFile, variants: &[Variant], repeat: u32, seed: u64, results: &Path) {
    let e = &file.experiment;
    println!("{}: {}", e.name, if e.description.is_empty() { "(no description)" } else { &e.description });
    let order = harness::run::order(variants, repeat, seed);
    println!(
        "{} variant(s) × {repeat} round(s) = {} run(s), each round every variant once in its own order; a fresh stack per run; results in {}",
        variants.len(),
        order.len(),
        results.join(&e.name).display()
    );
    print_rounds(&order, seed);
    println!();
    let mut bound_total = Duration::ZERO;
    let mut likely_total = Duration::ZERO;
    let mut any_earlier = false;
    for v in variants {
        let l = &v.experiment.load;
        let s = &v.experiment.stack;
        let bound = Bound::of(&v.experiment);
        let before = earlier(results, &e.name, &v.name);
        let likely = if before.runs > 0 { before.total / before.runs } else { bound.total() };
        bound_total += bound.total() * repeat;
        likely_total += likely * repeat;
        let settings: Vec<String> = v.values.iter().map(|(k, value)| format!("{k} = {value}")).collect();
        println!("{}", v.name);
        if !settings.is_empty() {
            println!("  settings:  {}", settings.join(", "));
        }
        println!(
            "  stack:     {} broker(s), {} protocol, producer {}",
            s.brokers,
            name(&l.protocol),
            properties(stack::plan::producer_defaults(), &s.services.producer)
        );
        println!("  load:      {}", load_line(&v.experiment));
        if !v.experiment.faults.is_empty() {
            let faults: Vec<String> = v
                .experiment
                .faults
                .iter()
                .map(|f| format!("loop {}: {} {} for {} s", f.at_loop, f.action, f.target, f.duration_s))
                .collect();
            println!("  faults:    {}", faults.join("; "));
        }
        println!(
            "  per run:   at most {} (bring-up ~{}, load ≤ {}, audit and teardown ≤ {})",
            estimate::human(bound.total()),
            estimate::human(bound.bring_up),
            estimate::human(bound.load),
            estimate::human(bound.after)
        );
        if before.runs > 0 {
            println!("  earlier:   {} complete run(s) here took {} on average", before.runs, estimate::human(likely));
        }
        any_earlier |= before.runs > 0;
    }
    println!();
    println!("expected duration: at most {}", estimate::human(bound_total));
    if any_earlier {
        println!(
            "                   about {} judging by earlier runs (variants without any counted at their bound)",
            estimate::human(likely_total)
        );
    }
    println!("nothing was started (--dry-run)");
}

/// A setting's name as experiment files spell it.
fn name(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// What the load of a run does, in one line.
fn load_line(e: &harness::experiment::Experiment) -> String {
    let l = &e.load;
    let line = match &e.search {
        Some(s) if s.start_rate == s.max_rate => format!(
            "open: {} arrivals over {} connections and {} accounts at one fixed rate, {} tx/s (a soak), held when p99 ≤ {} ms and at most {} % errors over its {} s dwell; a probe loop every {} ms",
            name(&l.arrivals), l.connections, l.accounts, s.start_rate, s.slo_p99_ms, s.max_error_rate * 100.0, s.dwell_s, l.probe_interval_ms
        ),
        Some(s) => {
            let then = match s.method {
                harness::experiment::Method::Bisection => format!("then bisected to {} %", s.precision * 100.0),
                harness::experiment::Method::Knee => format!(
                    "then rates around the knee in a random order until the capacity's 95 % interval is within ±{} %",
                    s.precision * 100.0
                ),
            };
            format!(
                "open: {} arrivals over {} connections and {} accounts, rates from {} tx/s (x{} until a step fails, {then}, at most {} steps, ≤ {} tx/s); a step passes with p99 ≤ {} ms over its {} s dwell; a probe loop every {} ms",
                name(&l.arrivals), l.connections, l.accounts, s.start_rate, s.growth, s.steps_bound(), s.max_rate, s.slo_p99_ms, s.dwell_s, l.probe_interval_ms
            )
        }
        None => format!(
            "a probe loop every {} ms; {} generator(s) join every {} loops (at most {} by loop {}); ends after {} timeouts (> {} ms)",
            l.probe_interval_ms,
            l.generators_per_step,
            l.loops_per_generator,
            estimate::max_generators(e),
            l.max_loops,
            l.max_timeouts + 1,
            l.probe_timeout_ms
        ),
    };
    match &e.search {
        Some(s) => format!(
            "{line}; first a warm-up at {} tx/s until its latencies settle (at most {} s, else the run ends unsettled)",
            s.warmup_rate(),
            s.warmup_max_s
        ),
        None => line,
    }
}

/// The producer properties the services get: bench's profile with the experiment's merged over it.
fn properties(defaults: BTreeMap<String, String>, set: &BTreeMap<String, toml::Value>) -> String {
    stack::plan::merged(defaults, set).iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str =
        include_str!("../../../bench-results/tests/fixtures/before-structure/smoke/default/20261201T090154Z-r1.jsonl");

    #[test]
    fn a_run_that_took_an_impossible_time_is_left_out_not_a_panic() {
        let results = tempfile::tempdir().unwrap();
        let folder = results.path().join("smoke/default");
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("a-r1.jsonl"), FIXTURE).unwrap();
        let with =
            |duration: &str| FIXTURE.replace("\"duration_s\":93.585832438", &format!("\"duration_s\":{duration}"));
        std::fs::write(folder.join("b-r1.jsonl"), with("-50")).unwrap();
        std::fs::write(folder.join("c-r1.jsonl"), with("1e300")).unwrap();
        let e = earlier(results.path(), "smoke", "default");
        assert_eq!(e.runs, 1, "only the run that took a real time counts");
        assert!(e.total > Duration::from_secs(93), "{:?}", e.total);
    }
}
