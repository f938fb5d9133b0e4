//! The machines the runs came from, told apart by their fingerprint (CPU model, cores, memory, kernel), and how
//! fast each run's machine was by its calibration: a variant whose runs met a slower machine or day shows here, not
//! as a slower setting.

use std::collections::BTreeMap;

use serde::Serialize;
use statrs::statistics::Statistics;

use super::rows::RunRows;

/// Variant calibrations further apart than this are called out.
const CALLED_OUT_PCT: f64 = 5.0;

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Machines {
    pub fingerprints: Vec<Fingerprint>,
    /// The calibration of each variant's runs.
    pub per_variant: Vec<VariantSpeed>,
    /// The finding in a sentence or two.
    pub words: String,
}

/// One kind of machine, and the calibration of its runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fingerprint {
    /// `Intel(R) Xeon(R) … · 2 CPUs · 24000 MiB · kernel 6.1.0-28-cloud-amd64`.
    pub name: String,
    pub runs: usize,
    pub cpu_ms: Option<Spread>,
    pub memory_ms: Option<Spread>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantSpeed {
    pub variant: String,
    pub cpu_ms: Option<Spread>,
}

/// Mean, standard deviation (with n ≥ 2), range and count of one calibration figure over runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    pub n: usize,
    pub mean: f64,
    pub sd: Option<f64>,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    fn of(values: &[f64]) -> Option<Spread> {
        let n = values.len();
        (n > 0).then(|| Spread {
            n,
            mean: values.mean(),
            sd: (n >= 2).then(|| values.std_dev()),
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        })
    }
}

fn fingerprint(h: &bench_results::Host) -> String {
    let cpu = h.cpu_model.as_deref().unwrap_or("CPU not recorded");
    let kernel = h.kernel.as_deref().map_or_else(|| "kernel not recorded".to_string(), |k| format!("kernel {k}"));
    format!("{cpu} · {} CPUs · {} MiB · {kernel}", h.cpus, h.mem_mib)
}

/// The fingerprints and calibrations of the runs that count.
pub fn of(runs: &[&RunRows]) -> Machines {
    let headers: Vec<(&str, &bench_results::Host)> = runs
        .iter()
        .filter(|r| r.counts())
        .filter_map(|r| r.header.as_ref().map(|h| (r.variant.as_str(), &h.host)))
        .collect();
    let mut kinds: BTreeMap<String, Vec<&bench_results::Host>> = BTreeMap::new();
    let mut variants: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for (variant, host) in &headers {
        kinds.entry(fingerprint(host)).or_default().push(host);
        let speeds = variants.entry(variant).or_default();
        speeds.extend(host.calibration.map(|c| c.cpu_ms));
    }
    let fingerprints: Vec<Fingerprint> = kinds
        .into_iter()
        .map(|(name, hosts)| {
            let figure = |f: fn(&bench_results::Calibration) -> f64| {
                Spread::of(&hosts.iter().filter_map(|h| h.calibration.as_ref().map(f)).collect::<Vec<_>>())
            };
            Fingerprint { name, runs: hosts.len(), cpu_ms: figure(|c| c.cpu_ms), memory_ms: figure(|c| c.memory_ms) }
        })
        .collect();
    let per_variant: Vec<VariantSpeed> = variants
        .into_iter()
        .map(|(variant, speeds)| VariantSpeed { variant: variant.to_string(), cpu_ms: Spread::of(&speeds) })
        .collect();
    let words = words(&fingerprints, &per_variant);
    Machines { fingerprints, per_variant, words }
}

fn words(fingerprints: &[Fingerprint], per_variant: &[VariantSpeed]) -> String {
    let mut out = match fingerprints.len() {
        0 => return "No run recorded its machine's fingerprint.".to_string(),
        1 => "The runs came from one kind of machine.".to_string(),
        k => format!(
            "The runs came from {k} kinds of machine: figures from different machines differ for that reason too."
        ),
    };
    let timed: Vec<(&str, f64)> =
        per_variant.iter().filter_map(|v| v.cpu_ms.map(|s| (v.variant.as_str(), s.mean))).collect();
    let (Some(fastest), Some(slowest)) =
        (timed.iter().min_by(|a, b| a.1.total_cmp(&b.1)), timed.iter().max_by(|a, b| a.1.total_cmp(&b.1)))
    else {
        return out + " No run timed the calibration workload.";
    };
    let apart = (slowest.1 / fastest.1 - 1.0) * 100.0;
    if timed.len() >= 2 && apart > CALLED_OUT_PCT {
        out += &format!(
            " The calibration of {}'s runs took {apart:.1} % longer than {}'s ({:.1} against {:.1} ms): its machine or day was slower, so part of any difference between them is the machine's, not the setting's.",
            slowest.0, fastest.0, slowest.1, fastest.1
        );
    } else if timed.len() >= 2 {
        out += &format!(
            " The variants' calibrations are within {apart:.1} % of each other: their machines were equally fast."
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn speed(variant: &str, cpu_ms: &[f64]) -> VariantSpeed {
        VariantSpeed { variant: variant.into(), cpu_ms: Spread::of(cpu_ms) }
    }

    fn one_kind() -> Vec<Fingerprint> {
        vec![Fingerprint { name: "x".into(), runs: 4, cpu_ms: None, memory_ms: None }]
    }

    #[test]
    fn a_variant_whose_runs_met_a_slower_machine_is_called_out() {
        // 40 against 44 ms: 10 % slower.
        let w = words(&one_kind(), &[speed("a", &[40.0, 40.0]), speed("b", &[43.0, 45.0])]);
        assert!(w.contains("b's runs took 10.0 % longer than a's"), "{w}");
        let w = words(&one_kind(), &[speed("a", &[40.0, 40.0]), speed("b", &[40.5, 41.5])]);
        assert!(w.contains("within 2.5 %"), "{w}");
    }

    #[test]
    fn spreads_are_worked_out_over_runs() {
        // 40, 44, 48: mean 44, sample SD 4.
        let s = Spread::of(&[40.0, 44.0, 48.0]).unwrap();
        assert_eq!((s.n, s.min, s.max), (3, 40.0, 48.0));
        assert!((s.mean - 44.0).abs() < 1e-12 && (s.sd.unwrap() - 4.0).abs() < 1e-12, "{s:?}");
        assert_eq!(Spread::of(&[1.0]).unwrap().sd, None);
        assert!(Spread::of(&[]).is_none());
    }
}
