//! Logging and metrics setup.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::{fmt, prelude::*, EnvFilter};

use crate::config::LogFormat;

/// Installs the global tracing subscriber (text or JSON lines). Safe to call more than once.
pub fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match format {
        LogFormat::Json => registry
            .with(fmt::layer().json().with_current_span(true))
            .try_init(),
        LogFormat::Text => registry.with(fmt::layer()).try_init(),
    };
}

static PROMETHEUS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process-wide Prometheus recorder (installed on first use).
pub fn prometheus() -> Option<&'static PrometheusHandle> {
    PROMETHEUS
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::warn!(error = %e, "metrics recorder not installed");
                None
            }
        })
        .as_ref()
}

/// The Prometheus text of `GET /metrics`, with the runtime gauges sampled now:
/// `tokio_tasks_alive` (tasks spawned and not finished, all of this process's runtime; the soak
/// watches it stay bounded).
pub fn render() -> String {
    let Some(handle) = prometheus() else {
        return String::new();
    };
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        metrics::gauge!("tokio_tasks_alive").set(rt.metrics().num_alive_tasks() as f64);
    }
    handle.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn metrics_report_the_tasks_alive_now() {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let held: Vec<_> = (0..3)
            .map(|_| tokio::spawn(std::future::pending::<()>()))
            .collect();
        let waiter = tokio::spawn(async move {
            let _ = rx.await;
        });
        let text = render();
        let alive: f64 = text
            .lines()
            .find(|l| l.starts_with("tokio_tasks_alive "))
            .and_then(|l| l.split_whitespace().last()?.parse().ok())
            .unwrap_or_else(|| panic!("no tokio_tasks_alive gauge in {text}"));
        assert!(alive >= 4.0, "{alive} tasks alive, 4 were spawned");
        for h in held {
            h.abort();
        }
        let _ = tx.send(());
        let _ = waiter.await;
    }
}
