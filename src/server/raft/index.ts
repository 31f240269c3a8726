/**
 * @module raft
 *
 * The pure Raft core: no I/O, timers, randomness or async code (enforced by this
 * folder's tsconfig.json and test/server/raft/purity.test.ts). The public surface is
 * {@link RawNode}, the {@link Ready} contract, {@link RaftStorage} / {@link MemoryStorage},
 * the message types, and the canonical `describe*` formatters.
 */

export { RawNode, SnapshotStatus, type Peer } from './raw-node.js';
export { CampaignType, type RaftConfig } from './raft.js';
export { StateType, type Ready, type ReadState, type SoftState } from './ready.js';
export { MemoryStorage, type InitialState, type RaftStorage } from './storage.js';
export { ReadOnlyOption } from './read-only.js';
export { ProgressState } from './tracker/progress.js';
export { ConfChangeError } from './confchange/changer.js';
export { decodeConfChange, encodeConfChange } from './confchange/codec.js';
export { getStatus, statusToJSON, type ProgressStatus, type Status } from './status.js';
export { discardLogger, type Logger } from './logger.js';
export * from './errors.js';
export * from './types.js';
export * from './describe.js';
