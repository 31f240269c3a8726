/**
 * @module server/rafthttp
 *
 * The peer transport of a Raft cluster (etcd 3.4 etcdserver/api/rafthttp), plus the
 * raftpb wire codec. Nothing here is wired into the server yet.
 *
 * ## How raft-node.ts should drive it (for the engineer wiring it in)
 *
 * 1. **Create** one {@link Transport} per member at start, after the member/cluster IDs
 *    are known:
 *    ```ts
 *    const tr = new Transport({
 *      id: memberId, clusterId, urls: advertisePeerUrls, logger, tls: peerTls,
 *      localAddress: <host of this member's --listen-peer-urls, if not 0.0.0.0/::>,
 *      process: (m) => rawNode.step(m),          // queue it if stepping must happen on the raft loop
 *      reportUnreachable: (id) => rawNode.reportUnreachable(id),
 *      reportSnapshot: (id, ok) => rawNode.reportSnapshot(id, ok ? SnapshotStatus.SnapshotFinish : SnapshotStatus.SnapshotFailure),
 *      isIdRemoved: (id) => cluster.isIdRemoved(id),
 *      receiveSnapshot: (m, body) => snapshotter.saveDbFrom(body, m.snapshot!.metadata.index),
 *      onCriticalError: (err) => server.stopWithError(err),   // this member was removed
 *    });
 *    ```
 *    Mount `tr.handle(req, res)` (returns false for non-/raft paths, so /members,
 *    /version etc. can share the listener) on each peer listener; {@link createPeerServer}
 *    builds an http/https server honoring --peer-client-cert-auth.
 * 2. **Peers**: `tr.addPeer(id, peerURLs)` for every other member at boot and when a
 *    ConfChangeAddNode/AddLearnerNode is applied; `tr.removePeer(id)` on
 *    ConfChangeRemoveNode; `tr.updatePeer(id, urls)` on a member update.
 * 3. **Sending**: for each Ready, the leader may send `ready.messages` in parallel with
 *    the WAL write, a follower only **after** the hard state and entries are saved (etcd
 *    raft.go: `if islead { r.transport.Send(r.processMessages(rd.Messages)) }` before the
 *    WAL save, else after). Call `tr.send(messages)`; MsgSnap messages should be taken
 *    out and sent with `tr.sendSnapshot(m, dbReadable, dbSize)` once the database
 *    snapshot is ready (etcd's msgSnapC/createMergedSnapshotMessage), the Readable
 *    streaming from the backend; a plain `send` of a MsgSnap goes over the pipeline
 *    without a database.
 * 4. **Receiving**: `process(m)` is called for every message from a peer, from the
 *    event loop; step it into the raft node (etcd EtcdServer.Process: drop messages
 *    from removed members — the transport already answers those with 403).
 *    Local message types never arrive.
 * 5. **Feedback**: `reportUnreachable(id)` whenever a message could not be delivered or
 *    was dropped on a full queue; `reportSnapshot(id, ok)` once per MsgSnap. Both map
 *    directly to RawNode.reportUnreachable / reportSnapshot.
 * 6. **Stop**: `tr.stop()` before closing the peer listener; it closes every stream,
 *    pending request, timer and agent it opened.
 *
 * Differences from etcd worth knowing when wiring: unknown senders are not added as
 * "remotes" from X-PeerURLs (etcd's addRemoteFromRequest), peers must be added
 * explicitly; "failed to reach the peer URL" is not logged here (in etcd it comes from
 * the /version probing in etcdserver/cluster_util.go, not from rafthttp).
 *
 * Liveness can be observed with `tr.isActive(id)` (etcd peerStatus), e.g. for the
 * member-health checks and for `etcdctl endpoint status`-style reporting.
 */

export {
  Transport, createPeerServer, idString, parseId,
  SERVER_VERSION, MIN_CLUSTER_VERSION, RAFT_PREFIX, RAFT_STREAM_PREFIX, RAFT_SNAPSHOT_PREFIX,
  STREAM_BUF_SIZE, PIPELINE_BUF_SIZE, CONN_PER_PIPELINE,
  ERR_CLUSTER_ID_MISMATCH, ERR_INCOMPATIBLE_VERSION, ERR_MEMBER_REMOVED,
  type TransportOptions, type PeerTlsOptions, type StreamType,
} from './transport.js';
export { encodeFrames, FrameDecoder, isLinkHeartbeat, LINK_HEARTBEAT, READ_BYTES_LIMIT, ExceedSizeLimitError } from './codec.js';
export {
  encodeMessage, decodeMessage, encodeEntry, decodeEntry, encodeSnapshot, decodeSnapshot,
  encodeConfState, decodeConfState, encodeHardState, decodeHardState, RaftpbDecodeError,
} from './raftpb.js';
export {
  allowedCertCheck, connectCheckedTls, goTlsErrorText, subjectCommonName, verifyHostname, tls13AlertRecord,
  ERR_CLIENT_CERT_AUTH_FAILED, type AllowedCertNames,
} from './peer-tls.js';
