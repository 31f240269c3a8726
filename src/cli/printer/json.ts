/**
 * @module cli/printer/json
 * etcdctl's `json` format (printer_json.go): Go's json.Marshal of the client response
 * structs, one compact line per response. Protobuf responses are encoded from their
 * descriptors; clientv3's own structs (lease and watch responses) are rebuilt here with
 * their Go field names and tags.
 */

import {
  DeleteRangeResponseSchema,
  LeaseRevokeResponseSchema,
  PutResponseSchema,
  RangeResponseSchema,
  ResponseHeaderSchema,
  TxnResponseSchema,
  type DeleteRangeResponse,
  type LeaseGrantResponse,
  type LeaseKeepAliveResponse,
  type LeaseLeasesResponse,
  type LeaseRevokeResponse,
  type LeaseTimeToLiveResponse,
  type PutResponse,
  type RangeResponse,
  type ResponseHeader,
  type TxnResponse,
  type WatchResponse,
} from '../../gen/etcdserverpb/rpc_pb.js';
import { EventSchema } from '../../gen/mvccpb/kv_pb.js';
import { UnsupportedPrinter, type PrinterOptions } from './base.js';
import { messageFields, messageJson, Raw, structJson } from './go-json.js';

export class JsonPrinter extends UnsupportedPrinter {
  constructor(private readonly opts: PrinterOptions) {
    super('json');
  }

  private line(json: string): void {
    this.opts.out.write(json + '\n');
  }

  /** header fields promoted from clientv3's embedded *pb.ResponseHeader */
  private header(h: ResponseHeader | undefined): Array<[string, unknown]> {
    return messageFields(ResponseHeaderSchema, h);
  }

  override del(r: DeleteRangeResponse): void { this.line(messageJson(DeleteRangeResponseSchema, r)); }
  override get(r: RangeResponse): void { this.line(messageJson(RangeResponseSchema, r)); }
  override put(r: PutResponse): void { this.line(messageJson(PutResponseSchema, r)); }
  override txn(r: TxnResponse): void { this.line(messageJson(TxnResponseSchema, r)); }

  override watch(r: WatchResponse): void {
    // clientv3.WatchResponse: Header is a value (never null), no json tags, no omitempty.
    this.line(
      structJson([
        ['Header', new Raw(messageJson(ResponseHeaderSchema, r.header ?? ({} as ResponseHeader)))],
        ['Events', r.events.map((e) => new Raw(messageJson(EventSchema, e)))],
        ['CompactRevision', r.compactRevision],
        ['Canceled', r.canceled],
        ['Created', r.created],
      ]),
    );
  }

  override grant(r: LeaseGrantResponse): void {
    this.line(structJson([...this.header(r.header), ['ID', r.ID], ['TTL', r.TTL], ['Error', r.error]]));
  }

  override revoke(_id: bigint, r: LeaseRevokeResponse): void {
    this.line(messageJson(LeaseRevokeResponseSchema, r));
  }

  override keepAlive(r: LeaseKeepAliveResponse): void {
    this.line(structJson([...this.header(r.header), ['ID', r.ID], ['TTL', r.TTL]]));
  }

  override timeToLive(r: LeaseTimeToLiveResponse, _keys: boolean): void {
    this.line(
      structJson([
        ...this.header(r.header),
        ['id', r.ID],
        ['ttl', r.TTL],
        ['granted-ttl', r.grantedTTL],
        ['keys', r.keys.length ? r.keys : null],
      ]),
    );
  }

  override leases(r: LeaseLeasesResponse): void {
    this.line(structJson([...this.header(r.header), ['leases', r.leases.map((l) => new Raw(structJson([['id', l.ID]])))]]));
  }
}
