/**
 * @module util/v2store/event
 * The v2 store's events and external node form (etcd 3.4 v2store/event.go,
 * node_extern.go) and their JSON as etcd's encoding/json writes it: fields in
 * the Go structs' order, `omitempty` fields left out when empty, Go's string
 * escaping, times in RFC 3339 with nanoseconds.
 */
import { goJsonString } from '../etcd-format/members.js';

/** Event actions (v2store Get, Create, Set, ...). */
export const V2Action = {
  Get: 'get',
  Create: 'create',
  Set: 'set',
  Update: 'update',
  Delete: 'delete',
  CompareAndSwap: 'compareAndSwap',
  CompareAndDelete: 'compareAndDelete',
  Expire: 'expire',
} as const;

/**
 * A node as clients see it (v2store.NodeExtern). `value` is present for keys
 * (also when empty), `expiration` is RFC 3339 (UTC) and `ttl` whole seconds
 * left, rounded up, for nodes with a TTL; `nodes` lists a directory's children
 * when they were asked for.
 */
export interface NodeExtern {
  key: string;
  value?: string;
  dir?: boolean;
  expiration?: string;
  ttl?: number;
  nodes?: NodeExtern[];
  modifiedIndex: number;
  createdIndex: number;
}

/**
 * A store event (v2store.Event). `etcdIndex` is the store index when the event
 * was answered (the X-Etcd-Index header; not part of the JSON).
 */
export interface V2Event {
  action: string;
  node?: NodeExtern;
  prevNode?: NodeExtern;
  refresh?: boolean;
  etcdIndex: number;
}

/** The index of an event: its node's modifiedIndex (Event.Index). */
export function eventIndex(e: V2Event): number {
  return e.node?.modifiedIndex ?? 0;
}

/** Event.IsCreated: a create, or a set that replaced nothing (answered 201). */
export function isCreated(e: V2Event): boolean {
  return e.action === V2Action.Create || (e.action === V2Action.Set && e.prevNode === undefined);
}

/** A deep copy of a node. */
export function cloneNode(n: NodeExtern): NodeExtern {
  const c: NodeExtern = { ...n };
  if (n.nodes) c.nodes = n.nodes.map(cloneNode);
  return c;
}

/** A deep copy of an event (Event.Clone; `refresh` is not copied, as in etcd). */
export function cloneEvent(e: V2Event): V2Event {
  const c: V2Event = { action: e.action, etcdIndex: e.etcdIndex };
  if (e.node) c.node = cloneNode(e.node);
  if (e.prevNode) c.prevNode = cloneNode(e.prevNode);
  return c;
}

/** JSON of a node, as encoding/json writes NodeExtern. */
export function nodeJson(n: NodeExtern): string {
  const parts: string[] = [];
  if (n.key !== '') parts.push(`"key":${goJsonString(n.key)}`);
  if (n.value !== undefined) parts.push(`"value":${goJsonString(n.value)}`);
  if (n.dir) parts.push('"dir":true');
  if (n.expiration !== undefined) parts.push(`"expiration":${goJsonString(n.expiration)}`);
  if (n.ttl) parts.push(`"ttl":${n.ttl}`);
  if (n.nodes && n.nodes.length > 0) parts.push(`"nodes":[${n.nodes.map(nodeJson).join(',')}]`);
  if (n.modifiedIndex) parts.push(`"modifiedIndex":${n.modifiedIndex}`);
  if (n.createdIndex) parts.push(`"createdIndex":${n.createdIndex}`);
  return `{${parts.join(',')}}`;
}

/** JSON of an event, as encoding/json writes Event (without a trailing newline). */
export function eventJson(e: V2Event): string {
  const parts = [`"action":${goJsonString(e.action)}`];
  if (e.node) parts.push(`"node":${nodeJson(e.node)}`);
  if (e.prevNode) parts.push(`"prevNode":${nodeJson(e.prevNode)}`);
  if (e.refresh) parts.push('"refresh":true');
  return `{${parts.join(',')}}`;
}

/**
 * Go's time.Time JSON form (RFC 3339 with up to 9 fraction digits, trailing
 * zeros dropped) of `ns` nanoseconds since the Unix epoch, in UTC.
 */
export function rfc3339Nano(ns: bigint): string {
  let sec = ns / 1_000_000_000n;
  let frac = ns % 1_000_000_000n;
  if (frac < 0n) {
    frac += 1_000_000_000n;
    sec -= 1n;
  }
  const base = new Date(Number(sec) * 1000).toISOString().slice(0, 19);
  const f = frac === 0n ? '' : '.' + frac.toString().padStart(9, '0').replace(/0+$/, '');
  return `${base}${f}Z`;
}
