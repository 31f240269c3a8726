/**
 * @module util/v2store/errors
 * etcd 3.4's v2 API errors (etcdserver/api/v2error/error.go): every error code,
 * its message, its HTTP status and the JSON body etcd writes for it
 * (`{"errorCode":N,"message":"...","cause":"...","index":N}` + "\n", `cause`
 * left out when empty).
 */
import { goJsonString } from '../etcd-format/members.js';

/** Error codes (v2error Ecode*; the unexported ones kept for completeness). */
export const V2Code = {
  KeyNotFound: 100,
  TestFailed: 101,
  NotFile: 102,
  NoMorePeer: 103,
  NotDir: 104,
  NodeExist: 105,
  KeyIsPreserved: 106,
  RootROnly: 107,
  DirNotEmpty: 108,
  ExistingPeerAddr: 109,
  Unauthorized: 110,
  ValueRequired: 200,
  PrevValueRequired: 201,
  TTLNaN: 202,
  IndexNaN: 203,
  ValueOrTTLRequired: 204,
  TimeoutNaN: 205,
  NameRequired: 206,
  IndexOrValueRequired: 207,
  IndexValueMutex: 208,
  InvalidField: 209,
  InvalidForm: 210,
  RefreshValue: 211,
  RefreshTTLRequired: 212,
  RaftInternal: 300,
  LeaderElect: 301,
  WatcherCleared: 400,
  EventIndexCleared: 401,
  StandbyInternal: 402,
  InvalidActiveSize: 403,
  InvalidRemoveDelay: 404,
  ClientInternal: 500,
} as const;

/** The message of each code (v2error `errors`). */
const MESSAGES: Readonly<Record<number, string>> = {
  100: 'Key not found',
  101: 'Compare failed',
  102: 'Not a file',
  103: 'Reached the max number of peers in the cluster',
  104: 'Not a directory',
  105: 'Key already exists',
  106: 'The prefix of given key is a keyword in etcd',
  107: 'Root is read only',
  108: 'Directory not empty',
  109: 'Peer address has existed',
  110: 'The request requires user authentication',
  200: 'Value is Required in POST form',
  201: 'PrevValue is Required in POST form',
  202: 'The given TTL in POST form is not a number',
  203: 'The given index in POST form is not a number',
  204: 'Value or TTL is required in POST form',
  205: 'The given timeout in POST form is not a number',
  206: 'Name is required in POST form',
  207: 'Index or value is required',
  208: 'Index and value cannot both be specified',
  209: 'Invalid field',
  210: 'Invalid POST form',
  211: 'Value provided on refresh',
  212: 'A TTL must be provided on refresh',
  300: 'Raft Internal Error',
  301: 'During Leader Election',
  400: 'watcher is cleared due to etcd recovery',
  401: 'The event in requested index is outdated and cleared',
  402: 'Standby Internal Error',
  403: 'Invalid active size',
  404: 'Standby remove delay',
  500: 'Client Internal Error',
};

/** HTTP status by code; every other code is 400 (v2error errorStatus). */
const STATUS: Readonly<Record<number, number>> = {
  100: 404,
  102: 403,
  108: 403,
  110: 401,
  101: 412,
  105: 412,
  300: 500,
  301: 500,
};

/**
 * A v2 API error (v2error.Error). `index` is the store index the error is
 * reported at (the X-Etcd-Index header and the body's `index`).
 */
export class V2Error extends Error {
  constructor(
    readonly errorCode: number,
    override readonly cause: string,
    public index: number,
  ) {
    super(`${MESSAGES[errorCode] ?? ''} (${cause})`);
    this.name = 'V2Error';
  }

  /** etcd's message of the code ('' for a code etcd does not define). */
  get v2Message(): string {
    return MESSAGES[this.errorCode] ?? '';
  }

  /** The HTTP status etcd answers this error with. */
  statusCode(): number {
    return STATUS[this.errorCode] ?? 400;
  }

  /** The JSON body without the trailing newline, fields in etcd's order. */
  toJson(): string {
    const cause = this.cause === '' ? '' : `,"cause":${goJsonString(this.cause)}`;
    return `{"errorCode":${this.errorCode},"message":${goJsonString(this.v2Message)}${cause},"index":${this.index}}`;
  }

  /** A copy with `cause` replaced (the HTTP layer trims the /1 keys prefix). */
  withCause(cause: string): V2Error {
    return new V2Error(this.errorCode, cause, this.index);
  }
}

/** A request error (v2error.NewRequestError): index 0. */
export function requestError(code: number, cause: string): V2Error {
  return new V2Error(code, cause, 0);
}
