//! Results files with made-up but plausible numbers, written through the real [`Writer`], for report tests and
//! the report benchmark (which need many runs, never a stack).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use bench_results::{Audit, Counts, End, EndedBy, Header, Host, Line, ResultsError, RoundOrder, Row, Sample, Writer};

/// One made-up run.
#[derive(Debug, Clone)]
pub struct Synthetic<'a> {
    pub experiment: &'a str,
    pub variant: &'a str,
    pub repeat: u32,
    pub hostname: &'a str,
    pub loops: u32,
    pub loops_per_generator: u32,
    /// Containers whose resources every 20th row carries.
    pub containers: &'a [&'a str],
    /// Latencies are drawn around this (ms).
    pub base_ms: f64,
    pub seed: u64,
}

impl Synthetic<'_> {
    /// Writes the run to `<results>/<experiment>/<variant>/<start>-r<repeat>.jsonl`, as `bench run` names it,
    /// and returns the path. The run ends by its timeouts after its last loop.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn write(&self, results: &Path) -> Result<PathBuf, ResultsError> {
        self.write_in_round(results, None)
    }

    /// As [`Synthetic::write`], for a run whose invocation shuffled its rounds: `order` is its place in round
    /// `repeat`.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn write_in_round(&self, results: &Path, order: Option<RoundOrder>) -> Result<PathBuf, ResultsError> {
        // Seeded, so a test never depends on the clock.
        let mut rng = StdRng::seed_from_u64(self.seed);
        let started = chrono::DateTime::from_timestamp(
            1_790_000_000 + i64::from(self.repeat) * 86_400 + (self.seed % 86_400) as i64,
            0,
        )
        .unwrap_or_default();
        // The host is the block, as for a run by hand, and names the file, as a nightly job's block does.
        let path =
            bench_results::path_for(results, self.experiment, self.variant, &started, self.repeat, Some(self.hostname));
        let mut w = Writer::create(&path)?;
        let parameters = serde_json::from_value(serde_json::json!({"name": self.experiment}))
            .map_err(|e| ResultsError::Write { path: path.clone(), source: e.into() })?;
        w.write(&Line::Header(Box::new(Header { order, ..self.header(parameters, &started) })))?;
        let mut timeouts = 0;
        for k in 1..=self.loops {
            let row = self.row(&mut rng, k, started.timestamp_millis());
            timeouts += u32::from(row.timeout);
            w.write(&Line::Row(row))?;
        }
        w.write(&Line::End(Box::new(self.end(timeouts, &started))))?;
        Ok(path)
    }

    fn header(
        &self,
        parameters: bench_results::experiment::Experiment,
        started: &chrono::DateTime<chrono::Utc>,
    ) -> Header {
        Header {
            experiment: self.experiment.into(),
            variant: self.variant.into(),
            parameters,
            repeat: self.repeat,
            harness_version: "synthetic".into(),
            git_commit: "0000000".into(),
            images: BTreeMap::from([("kgb/kafka:4.1.1".to_string(), "sha256:0".to_string())]),
            host: Host {
                hostname: self.hostname.into(),
                cpus: 2,
                mem_mib: 24_000,
                cpu_model: None,
                kernel: None,
                calibration: None,
            },
            started_at: started.to_rfc3339(),
            stack_ready_s: Some(18.0),
            scheduling: None,
            block: Some(self.hostname.into()),
            platform: None,
            resources_unavailable: None,
            order: None,
        }
    }

    /// Loop `k`: about 1 % timeouts, latencies growing with the generators, resources on every 20th row.
    fn row(&self, rng: &mut StdRng, k: u32, start_ms: i64) -> Row {
        // Latencies as bench writes them: milliseconds at microsecond resolution.
        let micro = |x: f64| (x * 1000.0).round() / 1000.0;
        let generators = k / self.loops_per_generator;
        let timeout = rng.gen::<f64>() < 0.01;
        let resources = k.is_multiple_of(20).then(|| {
            self.containers
                .iter()
                .map(|c| {
                    (c.to_string(), Sample { cpu_pct: 100.0 * rng.gen::<f64>(), mem_mib: 1000.0 * rng.gen::<f64>() })
                })
                .collect()
        });
        let slow = self.base_ms * (1.0 + f64::from(generators) / 10.0);
        Row {
            r#loop: k,
            t_ms: start_ms + i64::from(k) * 1000,
            probe_ms: (!timeout).then(|| micro(slow * (0.5 + rng.gen::<f64>()))),
            timeout,
            generators,
            generator_ms: (0..generators.min(40) * 4).map(|_| micro(slow * 2.0 * rng.gen::<f64>())).collect(),
            errors: 0,
            resources,
            faults: Vec::new(),
            rate: None,
            machine_cpu_pct: None,
        }
    }

    fn end(&self, timeouts: u32, started: &chrono::DateTime<chrono::Utc>) -> End {
        End {
            ended_by: EndedBy::Timeouts,
            counts: Counts {
                loops: self.loops,
                timeouts,
                generators: self.loops / self.loops_per_generator,
                ..Counts::default()
            },
            error: None,
            audit: Audit { passed: true, ..Default::default() },
            stopped: BTreeMap::new(),
            endings: BTreeMap::new(),
            bench_cpu_ms: 0.0,
            bench_cpu_ms_per_1000_transfers: 0.0,
            bench_peak: None,
            duration_s: f64::from(self.loops),
            ended_at: (*started + chrono::Duration::seconds(i64::from(self.loops))).to_rfc3339(),
            capacity_tps: None,
            capacity_ci95_tps: None,
            slo_p99_ms: None,
            interference: None,
            warmup: None,
            steal_pct: None,
        }
    }
}
