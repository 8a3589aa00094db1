//! Wiring an instance into a cluster (`--redis-url`): the Redis Stream it appends to and the
//! follower that fans out what the other instances wrote.

use std::sync::Arc;

use anyhow::Context;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::cluster::{Appender, Follower};
use crate::config::ServeSettings;
use crate::health::Health;
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::read_model::ReadModel;
use crate::store::PostgresStore;
use crate::writer::ClusterWriting;

/// What the writer and the health check need in a cluster.
pub(super) struct Clustered {
    pub writing: ClusterWriting,
    pub redis_health: Health,
}

/// Starts the follower (in `background`, until `stop`) and prepares the writer's side; `None`
/// for a single instance.
pub(super) fn join(
    settings: &ServeSettings,
    cluster_store: Option<&PostgresStore>,
    hub: &Hub,
    read_model: &ReadModel,
    metrics: Arc<Metrics>,
    stop: &CancellationToken,
    background: &mut JoinSet<()>,
) -> anyhow::Result<Option<Clustered>> {
    let (Some(pg), Some(url)) = (cluster_store, &settings.redis_url) else {
        return Ok(None);
    };
    let ca_file = settings.redis_ca_file.as_deref();
    let appender = Appender::new(
        url,
        ca_file,
        &settings.redis_stream,
        settings.redis_stream_length,
        metrics,
    )
    .context("the Redis URL")?;
    let follower = Follower::new(
        url,
        ca_file,
        &settings.redis_stream,
        hub.clone(),
        pg.clone(),
        read_model.clone(),
    )
    .context("the Redis URL")?;
    let redis_health = follower.health();
    background.spawn(follower.run(stop.clone()));
    let writing = ClusterWriting {
        store: pg.clone(),
        lock: pg.write_lock(),
        appender,
        version: None,
    };
    Ok(Some(Clustered {
        writing,
        redis_health,
    }))
}
