//! The streams adapter of one namespace.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::json;
use sio_core::adapter::recovery::{append_offset, rooms_match};
use sio_core::adapter::{
    AckReplies, AdapterError, BroadcastOptions, ClusterResponse, MissedPacket, Room, ServerEvent,
    SessionState, SocketInfo,
};
use sio_core::adapter::{Adapter, LocalAdapter};
use sio_core::protocol::{Packet, Payload};

use super::requests;
use super::sessions::{CLAIM, Op, owner_key, refresh_period};
use super::wire::{self, broadcast_of, decode_entry, encode_entry};
use super::{RedisStreamsCluster, Shared, lock, parse_entries};

/// How many `XRANGE` pages a restore reads at most (1 000 entries each), as Node bounds it.
const MAX_RESTORE_PAGES: usize = 100;

/// How long a restore waits for this node's stream reader to reach what the replay read.
const READER_CATCH_UP: Duration = Duration::from_millis(500);

/// The Redis Streams [`Adapter`] of one namespace.
pub struct RedisStreamsAdapter {
    local: LocalAdapter,
    shared: Arc<Shared>,
    stream: String,
}

impl std::fmt::Debug for RedisStreamsAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStreamsAdapter")
            .field("nsp", &self.local.nsp())
            .field("stream", &self.stream)
            .finish()
    }
}

impl RedisStreamsAdapter {
    fn max_disconnection(&self) -> Option<Duration> {
        self.local
            .recovery_config()
            .map(|c| c.max_disconnection_duration)
    }

    /// The namespace's pub/sub channels: the public one and this node's own.
    fn channels(&self) -> Vec<String> {
        let nsp = self.local.nsp();
        vec![
            self.shared.public_channel(nsp),
            format!(
                "{}#{nsp}#{}#",
                self.shared.config.channel_prefix, self.shared.config.node_id
            ),
        ]
    }

    /// Appends a message to the namespace's stream; its id on success.
    async fn xadd(
        &self,
        kind: u8,
        data: &serde_json::Value,
        attachments: &[bytes::Bytes],
    ) -> Result<String, AdapterError> {
        let config = &self.shared.config;
        let mut cmd = redis::cmd("XADD");
        cmd.arg(&self.stream)
            .arg("MAXLEN")
            .arg("~")
            .arg(config.max_len)
            .arg("*");
        for (k, v) in encode_entry(
            &config.node_id,
            self.local.nsp(),
            kind,
            Some(data),
            attachments,
        ) {
            cmd.arg(k).arg(v);
        }
        // Queued now, before any await: appends keep the order the broadcasts were made in.
        let (tx, rx) = tokio::sync::oneshot::channel();
        let queued = self
            .shared
            .appends
            .try_send((cmd, tx))
            .map_err(|_| "append queue full".to_owned());
        let result = match queued {
            Ok(()) => rx.await.unwrap_or_else(|_| Err("appender stopped".into())),
            Err(err) => Err(err),
        };
        result.map_err(|err| {
            self.shared
                .counters
                .xadd_failed
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %err, nsp = self.local.nsp(), "XADD failed; applied on this node only");
            AdapterError::Transport(err)
        })
    }

    /// Publishes a request to the other nodes and collects one response from each (as many
    /// as `PUBSUB NUMSUB` counts) until `timeout`; names how many did not answer.
    async fn ask(
        &self,
        kind: u64,
        mut data: serde_json::Value,
        attachments: &[bytes::Bytes],
        timeout: Duration,
    ) -> (Vec<requests::Response>, Vec<String>) {
        let others = self.server_count().await.unwrap_or(1).saturating_sub(1);
        if others == 0 {
            return (Vec::new(), Vec::new());
        }
        let id = requests::request_id();
        data["requestId"] = serde_json::Value::String(id.clone());
        let mut rx = self.shared.expect(&id);
        self.shared
            .publish_request(self.local.nsp(), kind, &data, attachments);
        let deadline = tokio::time::Instant::now() + timeout;
        let mut responses = Vec::new();
        while responses.len() < others {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(response)) => responses.push(response),
                _ => break,
            }
        }
        self.shared.forget(&id);
        let missing = if responses.len() < others {
            vec![format!(
                "{} node(s) did not answer",
                others - responses.len()
            )]
        } else {
            Vec::new()
        };
        (responses, missing)
    }

    async fn selector_op(
        &self,
        kind: u8,
        data: serde_json::Value,
        opts: &BroadcastOptions,
    ) -> Result<(), AdapterError> {
        if opts.flags.local {
            return Ok(());
        }
        self.xadd(kind, &data, &[]).await.map(|_| ())
    }
}

impl Adapter for RedisStreamsAdapter {
    type Config = RedisStreamsCluster;

    fn new(local: LocalAdapter, config: &Arc<RedisStreamsCluster>) -> Self {
        let shared = config.shared.clone();
        let stream = wire::stream_name(
            &shared.config.stream_name,
            shared.config.stream_count,
            local.nsp(),
        );
        RedisStreamsAdapter {
            local,
            shared,
            stream,
        }
    }

    async fn init(&self) -> Result<(), AdapterError> {
        self.shared.register(&self.local, &self.stream);
        self.shared.driver.subscribe(&self.channels(), &[]);
        Ok(())
    }

    async fn close(&self) {
        self.shared.driver.flush(Duration::from_secs(2)).await;
    }

    async fn close_namespace(&self) {
        // Before any await: ordered before a namespace of the same name starts again.
        lock(&self.shared.namespaces).remove(self.local.nsp());
        let channels = self.channels();
        self.shared.driver.unsubscribe(&channels, &[]);
    }

    fn local(&self) -> &LocalAdapter {
        &self.local
    }

    async fn broadcast(&self, packet: Packet, opts: BroadcastOptions) {
        if opts.flags.local {
            self.local.broadcast_local(&packet, &opts);
            return;
        }
        let data = wire::broadcast_data(&packet, &opts);
        // Delivered here too when the stream is read back, in stream order. When the append
        // fails (counted and logged), this node's sockets still get it, without an offset.
        if self
            .xadd(wire::BROADCAST, &data, &packet.attachments)
            .await
            .is_err()
        {
            self.local.broadcast_local(&packet, &opts);
        }
    }

    async fn broadcast_with_ack(
        &self,
        packet: Packet,
        opts: BroadcastOptions,
        timeout: Duration,
    ) -> Result<AckReplies, AdapterError> {
        let (local_count, local_replies) =
            self.local.broadcast_with_ack_local(&packet, &opts, timeout);
        let others = if opts.flags.local {
            0
        } else {
            self.server_count().await.unwrap_or(1).saturating_sub(1)
        };
        let mut replies = Vec::new();
        let mut expected = local_count;
        let mut missing_nodes = Vec::new();
        if others > 0 {
            let id = requests::request_id();
            let mut rx = self.shared.expect(&id);
            let mut raw_opts = crate::wire::opts_json(&opts);
            raw_opts["flags"] = json!({ "timeout": timeout.as_millis() as u64 });
            let data = json!({
                "packet": wire::broadcast_data(&packet, &opts)["packet"],
                "requestId": id,
                "opts": raw_opts,
            });
            self.shared.publish_request(
                self.local.nsp(),
                requests::BROADCAST,
                &data,
                &packet.attachments,
            );
            let deadline = tokio::time::Instant::now() + timeout;
            let (mut counted, mut remote_expected) = (0usize, 0usize);
            while counted < others || replies.len() < remote_expected {
                let Ok(Some((kind, data, attachments))) =
                    tokio::time::timeout_at(deadline, rx.recv()).await
                else {
                    break;
                };
                if kind == requests::BROADCAST_CLIENT_COUNT {
                    counted += 1;
                    remote_expected += data
                        .get("clientCount")
                        .and_then(serde_json::Value::as_u64)
                        .unwrap_or(0) as usize;
                } else if kind == requests::BROADCAST_ACK {
                    let arg = data.get("packet").cloned().unwrap_or_default();
                    replies.push(Payload {
                        args: vec![arg],
                        attachments,
                    });
                }
            }
            self.shared.forget(&id);
            expected += remote_expected;
            if counted < others {
                missing_nodes.push(format!("{} node(s) did not answer", others - counted));
            }
        }
        replies.extend(local_replies.await);
        Ok(AckReplies {
            replies,
            expected,
            missing_nodes,
        })
    }

    async fn add_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> Result<(), AdapterError> {
        self.local.add_sockets_local(&opts, &rooms);
        let data = json!({ "opts": crate::wire::opts_json(&opts), "rooms": rooms });
        self.selector_op(wire::SOCKETS_JOIN, data, &opts).await
    }

    async fn del_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> Result<(), AdapterError> {
        self.local.del_sockets_local(&opts, &rooms);
        let data = json!({ "opts": crate::wire::opts_json(&opts), "rooms": rooms });
        self.selector_op(wire::SOCKETS_LEAVE, data, &opts).await
    }

    async fn disconnect_sockets(
        &self,
        opts: BroadcastOptions,
        close: bool,
    ) -> Result<(), AdapterError> {
        self.local.disconnect_sockets_local(&opts, close);
        let data = json!({ "opts": crate::wire::opts_json(&opts), "close": close });
        self.selector_op(wire::DISCONNECT_SOCKETS, data, &opts)
            .await
    }

    async fn fetch_sockets(
        &self,
        opts: BroadcastOptions,
        timeout: Duration,
    ) -> Result<ClusterResponse<Vec<SocketInfo>>, AdapterError> {
        let mut value = self.local.fetch_sockets_local(&opts);
        if opts.flags.local {
            return Ok(ClusterResponse::complete(value));
        }
        let data = json!({ "opts": crate::wire::opts_json(&opts) });
        let (responses, missing_nodes) =
            self.ask(requests::FETCH_SOCKETS, data, &[], timeout).await;
        for (_, data, _) in responses {
            if let Some(serde_json::Value::Array(sockets)) = data.get("sockets") {
                value.extend(
                    sockets
                        .iter()
                        .filter_map(|s| serde_json::from_value::<SocketInfo>(s.clone()).ok()),
                );
            }
        }
        Ok(ClusterResponse {
            value,
            missing_nodes,
        })
    }

    async fn all_rooms(
        &self,
        _timeout: Duration,
    ) -> Result<ClusterResponse<BTreeSet<Room>>, AdapterError> {
        let others = self.server_count().await.unwrap_or(1).saturating_sub(1);
        let missing_nodes = if others > 0 {
            vec![format!(
                "{others} other node(s): not asked (no such request in the streams protocol)"
            )]
        } else {
            Vec::new()
        };
        Ok(ClusterResponse {
            value: self.local.rooms_local(),
            missing_nodes,
        })
    }

    async fn server_side_emit(
        &self,
        event: ServerEvent,
        ack_timeout: Option<Duration>,
    ) -> Result<ClusterResponse<Vec<Payload>>, AdapterError> {
        let mut packet = vec![serde_json::Value::String(event.event)];
        packet.extend(event.payload.args);
        let attachments = event.payload.attachments;
        let Some(timeout) = ack_timeout else {
            let data = json!({ "packet": packet });
            self.shared.publish_request(
                self.local.nsp(),
                requests::SERVER_SIDE_EMIT,
                &data,
                &attachments,
            );
            return Ok(ClusterResponse::complete(Vec::new()));
        };
        let data = json!({ "packet": packet });
        let (responses, missing_nodes) = self
            .ask(requests::SERVER_SIDE_EMIT, data, &attachments, timeout)
            .await;
        let value = responses
            .into_iter()
            .map(|(_, data, attachments)| Payload {
                args: vec![data.get("packet").cloned().unwrap_or_default()],
                attachments,
            })
            .collect();
        Ok(ClusterResponse {
            value,
            missing_nodes,
        })
    }

    async fn server_count(&self) -> Result<usize, AdapterError> {
        self.shared
            .driver
            .numsub(&self.shared.public_channel(self.local.nsp()))
            .await
            .map(|n| n.max(1))
            .map_err(|e| AdapterError::Transport(e.to_string()))
    }

    fn is_ready(&self) -> bool {
        self.shared.driver.is_connected() && self.shared.reader_connected.load(Ordering::Acquire)
    }

    fn write_metrics(&self, out: &mut String) {
        use std::fmt::Write as _;
        let c = &self.shared.counters;
        for (name, help, value) in [
            (
                "sio_streams_xadd_failed_total",
                "Stream appends that failed (applied on this node only).",
                &c.xadd_failed,
            ),
            (
                "sio_streams_entries_read_total",
                "Stream entries read.",
                &c.entries_read,
            ),
            (
                "sio_streams_bad_entries_total",
                "Stream entries that did not decode (skipped).",
                &c.bad_entries,
            ),
            (
                "sio_streams_sessions_written_total",
                "Session records written to Redis.",
                &c.sessions_written,
            ),
            (
                "sio_streams_session_write_failures_total",
                "Session record writes that failed (retried).",
                &c.session_write_failures,
            ),
            (
                "sio_streams_session_writes_superseded_total",
                "Session record writes refused because another node restored the session.",
                &c.session_writes_superseded,
            ),
            (
                "sio_streams_sessions_restored_total",
                "Sessions claimed from Redis.",
                &c.sessions_restored,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
    }

    fn persist_session(&self, session: SessionState) {
        if let Some(max) = self.max_disconnection() {
            self.shared.sessions.disconnected(session, max);
        }
    }

    fn supports_recovery(&self) -> bool {
        true
    }

    fn tracks_live_sessions(&self) -> bool {
        self.max_disconnection().is_some()
    }

    fn update_session(&self, session: SessionState) {
        if let Some(max) = self.max_disconnection() {
            self.shared.sessions.live(session, max);
        }
    }

    fn discard_session(&self, pid: &str) {
        self.shared.sessions.discard(pid);
    }

    async fn claim_session(&self, pid: &str, offset: &str) -> Option<SessionState> {
        self.max_disconnection()?;
        if !wire::is_stream_id(offset) {
            return None;
        }
        // A write still queued here is the newest state: the claim supersedes it.
        let queued = self.shared.sessions.take_pending(pid);
        let key = self.shared.session_key(pid);
        // Take the record and become its owner in one step (see `sessions`): a node that still
        // holds the socket cannot write it back.
        let ttl = self.max_disconnection()? + refresh_period(self.max_disconnection()?);
        let stored: Option<Vec<u8>> = self
            .shared
            .conn
            .query(
                redis::cmd("EVAL")
                    .arg(CLAIM)
                    .arg(2)
                    .arg(&key)
                    .arg(owner_key(&key))
                    .arg(&self.shared.config.node_id)
                    .arg(ttl.as_millis() as u64),
            )
            .await
            .ok()?;
        let session = match queued {
            Some(Op::Write(session, _)) => session,
            Some(Op::Delete) => return None,
            None => wire::decode_session(&stored?)?,
        };
        // The offset must be an entry of this namespace.
        let at: redis::Value = self
            .shared
            .conn
            .query(
                redis::cmd("XRANGE")
                    .arg(&self.stream)
                    .arg(offset)
                    .arg(offset),
            )
            .await
            .ok()?;
        let entry = parse_entries(&at).into_iter().next()?;
        let entry = decode_entry(&entry.1).ok()?;
        if entry.nsp != self.local.nsp() || session.pid != pid {
            return None;
        }
        if session
            .nsp
            .as_deref()
            .is_some_and(|n| n != self.local.nsp())
        {
            return None;
        }
        if let Ok(sid) = session.sid.parse()
            && self.local.get(sid).is_some()
        {
            // Still connected here: not restored twice, and its live record is put back.
            if let Some(max) = self.max_disconnection() {
                self.shared.sessions.live(session, max);
            }
            return None;
        }
        self.shared
            .counters
            .sessions_restored
            .fetch_add(1, Ordering::Relaxed);
        Some(session)
    }

    async fn missed_packets(&self, session: &SessionState, offset: &str) -> Vec<MissedPacket> {
        let mut missed = Vec::new();
        let mut from = offset.to_owned();
        for _ in 0..MAX_RESTORE_PAGES {
            let Some(start) = wire::next_id(&from) else {
                break;
            };
            let page: redis::RedisResult<redis::Value> = self
                .shared
                .conn
                .query(
                    redis::cmd("XRANGE")
                        .arg(&self.stream)
                        .arg(&start)
                        .arg("+")
                        .arg("COUNT")
                        .arg(1000),
                )
                .await;
            let entries = match page {
                Ok(v) => parse_entries(&v),
                Err(err) => {
                    tracing::warn!(error = %err, "reading missed packets failed");
                    break;
                }
            };
            if entries.is_empty() {
                break;
            }
            for (id, fields) in entries {
                if let Ok(entry) = decode_entry(&fields)
                    && entry.nsp == self.local.nsp()
                    && let Some((mut packet, opts)) = broadcast_of(&entry)
                    && sio_core::adapter::recovery::is_recoverable(&packet, &opts)
                    && rooms_match(&session.rooms, &opts)
                {
                    append_offset(&mut packet, &id);
                    missed.push(MissedPacket {
                        offset: Arc::from(id.as_str()),
                        packet,
                    });
                }
                from = id;
            }
        }
        // This node's reader delivers the same stream live, a little behind: wait until it has
        // applied what was just read (or, with nothing missed, the client's own offset), so that
        // what it delivers to the socket from now on is newer than anything the client has.
        if !self
            .shared
            .reader_reached(&self.stream, &from, READER_CATCH_UP)
            .await
        {
            tracing::debug!(
                stream = %self.stream,
                at = %from,
                "restoring before the stream reader caught up: live packets may repeat replayed ones"
            );
        }
        missed
    }
}
