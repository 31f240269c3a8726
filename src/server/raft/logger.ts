/**
 * @module raft/logger
 *
 * The logger the Raft core writes to (raft logger.go, reduced to four levels). It is
 * injected through the config; the core never writes anywhere else. Messages are
 * complete strings in etcd's wording, with node ids in hex (`"1 became leader at term 2"`).
 */

/** Where the core's log lines go. Each method receives one finished line. */
export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

/** A logger that drops everything (the default). */
export const discardLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/** Formats a node id as etcd does in logs (`%x`). */
export function hex(id: bigint): string {
  return id.toString(16);
}
