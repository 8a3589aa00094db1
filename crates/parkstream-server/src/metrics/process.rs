//! The process's own series, read from `/proc` at each scrape under the names every Prometheus
//! client library uses (`process_cpu_seconds_total`, `process_resident_memory_bytes`, ...).

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use crate::procfs;

#[derive(Debug)]
pub(super) struct ProcessCollector;

impl ProcessCollector {
    pub(super) fn new() -> Self {
        Self
    }
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let usage = procfs::usage();
        if let Some(usage) = usage {
            let cpu = ConstCounter::new(usage.cpu_seconds);
            let metric = encoder.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds",
                None,
                cpu.metric_type(),
            )?;
            cpu.encode(metric)?;
        }
        let mut gauge = |name: &str, help: &str, value: f64| {
            let gauge = ConstGauge::new(value);
            let metric = encoder.encode_descriptor(name, help, None, gauge.metric_type())?;
            gauge.encode(metric)
        };
        if let Some(usage) = usage {
            gauge(
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                usage.resident_bytes as f64,
            )?;
            gauge(
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes",
                usage.virtual_bytes as f64,
            )?;
            gauge(
                "process_start_time_seconds",
                "Start time of the process since the Unix epoch in seconds",
                usage.start_time_seconds,
            )?;
        }
        if let Some(open) = procfs::open_fds() {
            gauge(
                "process_open_fds",
                "Number of open file descriptors",
                open as f64,
            )?;
        }
        if let Some(max) = procfs::file_limit() {
            gauge(
                "process_max_fds",
                "Maximum number of open file descriptors",
                max as f64,
            )?;
        }
        Ok(())
    }
}
