//! The endpoint's own time per money transfer, Kafka and the handler left out, kept in its two halves so a slow
//! percentile says where it comes from: the request (received to command handed to the producer) and the answer
//! (feedback handed over by the consumer to the result ready for the socket).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::{CreationError, Histogram};
use serde_json::{json, Value};

#[derive(Clone)]
pub struct Overhead {
    inner: Arc<Mutex<Halves>>,
}

struct Halves {
    total: Histogram<u64>,
    request: Histogram<u64>,
    answer: Histogram<u64>,
}

/// 1 µs to 60 s, 3 significant digits.
fn histogram() -> Result<Histogram<u64>, CreationError> {
    Histogram::new_with_bounds(1, 60_000_000, 3)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

impl Overhead {
    pub fn new() -> Result<Overhead, CreationError> {
        let halves = Halves { total: histogram()?, request: histogram()?, answer: histogram()? };
        Ok(Overhead { inner: Arc::new(Mutex::new(halves)) })
    }

    pub fn record(&self, request: Duration, answer: Duration) {
        if let Ok(mut h) = self.inner.lock() {
            // Values beyond the bounds are clamped by saturating records; nothing here can fail the request.
            h.total.saturating_record(micros(request + answer));
            h.request.saturating_record(micros(request));
            h.answer.saturating_record(micros(answer));
        }
    }

    /// For `/stats`: count, p50, p99 and max of the total in µs, and p50/p99 of each half.
    pub fn json(&self) -> Value {
        let Ok(h) = self.inner.lock() else { return Value::Null };
        let half =
            |h: &Histogram<u64>| json!({"p50_us": h.value_at_quantile(0.5), "p99_us": h.value_at_quantile(0.99)});
        json!({
            "n": h.total.len(),
            "p50_us": h.total.value_at_quantile(0.5),
            "p99_us": h.total.value_at_quantile(0.99),
            "max_us": h.total.max(),
            "request": half(&h.request),
            "answer": half(&h.answer),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_and_total_are_reported_in_micros() {
        let o = Overhead::new().unwrap();
        o.record(Duration::from_micros(300), Duration::from_micros(700));
        o.record(Duration::from_secs(120), Duration::from_millis(1));
        let j = o.json();
        assert_eq!(j["n"], 2);
        assert_eq!(j["p50_us"], 1000);
        assert_eq!(j["request"]["p50_us"], 300);
        assert_eq!(j["answer"]["p50_us"], 700);
        // Beyond the histogram's 60 s: clamped, not lost.
        assert!(j["max_us"].as_u64().unwrap() >= 59_000_000);
    }
}
