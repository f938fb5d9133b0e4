//! What a report reads: results files and 2019 EDN runs, each as one [`RunRows`] of rows at the report's grain.

use std::path::{Path, PathBuf};

use super::edn;
use super::error::ReportError;
use super::rows::RunRows;
use crate::experiment::ExperimentFile;
use bench_results::Run;

/// What [`read_inputs`] found: the runs, and what the reader noticed about files that were cut short.
#[derive(Debug, Default)]
pub struct Inputs {
    pub runs: Vec<RunRows>,
    /// `path: what is wrong`, one per results file that holds no run (killed before its header was whole).
    pub skipped: Vec<String>,
    /// `path:line`, one per run whose last line was cut short (it reads as incomplete).
    pub cut: Vec<String>,
}

/// Reads every input named on the command line: experiment files (their results folder under `results`),
/// results folders (searched recursively), results files, and 2019 mapping files. A results file cut short by a
/// killed run is no error: its run is incomplete ([`Inputs::cut`]), or, cut before its header was whole, it holds
/// no run and is skipped ([`Inputs::skipped`]). Any other damage is an error: a report that quietly left out
/// a run, or part of one, would state figures the runs do not support.
///
/// # Errors
/// [`ReportError`] naming the path that is wrong (a missing path, an unknown kind of file, a corrupt results file
/// with its line, a bad 2019 file); no readable run at all is an error too, naming what was skipped.
pub fn read_inputs(paths: &[PathBuf], results: &Path) -> Result<Inputs, ReportError> {
    let mut found = Inputs::default();
    for path in paths {
        let extension = path.extension().and_then(|e| e.to_str()).unwrap_or_default();
        if path.is_dir() {
            read_runs(&bench_results::files(path)?, &mut found)?;
        } else if extension == "toml" {
            let file = ExperimentFile::load(path)?;
            let folder = results.join(&file.experiment.name);
            if folder.is_dir() {
                read_runs(&bench_results::files(&folder)?, &mut found)?;
            }
        } else if extension == "jsonl" && path.is_file() {
            read_runs(std::slice::from_ref(path), &mut found)?;
        } else if extension == "edn" {
            found.runs.extend(edn::read_mapping(path)?);
        } else if !path.exists() {
            return Err(ReportError::Read { path: path.clone(), source: std::io::ErrorKind::NotFound.into() });
        } else {
            return Err(ReportError::UnknownInput(path.clone()));
        }
    }
    if found.runs.is_empty() {
        let mut names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>();
        if !found.skipped.is_empty() {
            names.push(format!("skipped: {}", found.skipped.join("; ")));
        }
        return Err(ReportError::Empty(names.join(", ")));
    }
    Ok(found)
}

/// Reads results files on every core (parsing dominates: a 2019-sized run is tens of MB of JSON) into `found`.
///
/// # Errors
/// The first file, in `files`' order, that cannot be read or is corrupt.
fn read_runs(files: &[PathBuf], found: &mut Inputs) -> Result<(), ReportError> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let chunk = files.len().div_ceil(threads).max(1);
    let reads: Vec<_> = std::thread::scope(|scope| {
        let workers: Vec<_> = files
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|f| Run::read(f)).collect::<Vec<_>>()))
            .collect();
        // A reader thread only panics on a bug; surface it as such rather than hide it.
        workers.into_iter().flat_map(|w| w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    });
    for read in reads {
        match read {
            Ok(run) => {
                if let Some(line) = run.cut_line {
                    found.cut.push(format!("{}:{line}", run.path.display()));
                }
                found.runs.push(RunRows::from_run(run));
            }
            Err(e @ bench_results::ResultsError::NoRun { .. }) => found.skipped.push(topology::errors::chain(&e)),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
