// A raw gRPC caller for auth tests: one call of any etcdserverpb method with an
// optional auth token, reduced to its outcome (OK, or the status code name and
// message), so the same call against real etcd 3.4.23 and ours can be compared.

import * as grpc from '@grpc/grpc-js';
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';

/** What a call ended with: 'OK' or `<CODE>: <message>` (message as sent by the server). */
export type Outcome = string;

/** Outcome of a failed call. */
export function statusOutcome(e: grpc.ServiceError): Outcome {
  return `${grpc.status[e.code] ?? e.code}: ${e.details}`;
}

/** Options of a {@link RawClient}. */
export interface RawClientOptions {
  /** TLS: CA to trust, and a client certificate/key to present. */
  readonly tls?: { ca: Buffer; cert?: Buffer; key?: Buffer };
}

/** A grpc-js client calling methods by path with protobuf-es schemas. */
export class RawClient {
  private readonly c: grpc.Client;

  /** @param endpoint "127.0.0.1:PORT" */
  constructor(endpoint: string, opts: RawClientOptions = {}) {
    const creds = opts.tls
      ? grpc.credentials.createSsl(opts.tls.ca, opts.tls.key ?? null, opts.tls.cert ?? null)
      : grpc.credentials.createInsecure();
    this.c = new grpc.Client(endpoint, creds);
  }

  private md(token: string | undefined, extra?: Record<string, string>): grpc.Metadata {
    const md = new grpc.Metadata();
    if (token) md.set('token', token);
    for (const [k, v] of Object.entries(extra ?? {})) md.set(k, v);
    return md;
  }

  /** Opens a bidi stream of method `path` with the token's metadata and call `options`. */
  private bidi<I extends DescMessage, O extends DescMessage>(
    path: string, inSchema: I, outSchema: O, token: string | undefined, options: grpc.CallOptions = {},
  ): grpc.ClientDuplexStream<MessageShape<I>, MessageShape<O>> {
    return this.c.makeBidiStreamRequest(
      path,
      (m: MessageShape<I>) => Buffer.from(toBinary(inSchema, m)),
      (b: Buffer) => fromBinary(outSchema, b),
      this.md(token),
      options,
    );
  }

  /** One unary call; resolves with the response or rejects with the grpc ServiceError. */
  unary<I extends DescMessage, O extends DescMessage>(
    path: string, inSchema: I, req: MessageInitShape<I>, outSchema: O, token?: string, extraMd?: Record<string, string>,
  ): Promise<MessageShape<O>> {
    return new Promise((resolve, reject) => {
      this.c.makeUnaryRequest(
        path,
        (m: MessageShape<I>) => Buffer.from(toBinary(inSchema, m)),
        (b: Buffer) => fromBinary(outSchema, b),
        create(inSchema, req),
        this.md(token, extraMd),
        { deadline: Date.now() + 15_000 },
        (err, resp) => (err ? reject(err) : resolve(resp as MessageShape<O>)),
      );
    });
  }

  /** {@link unary} reduced to its outcome. */
  unaryOutcome<I extends DescMessage, O extends DescMessage>(
    path: string, inSchema: I, req: MessageInitShape<I>, outSchema: O, token?: string, extraMd?: Record<string, string>,
  ): Promise<Outcome> {
    return this.unary(path, inSchema, req, outSchema, token, extraMd).then(() => 'OK', (e: grpc.ServiceError) => statusOutcome(e));
  }

  /** A server stream read to its end; the outcome is its final status. */
  serverStreamOutcome<I extends DescMessage, O extends DescMessage>(path: string, inSchema: I, req: MessageInitShape<I>, outSchema: O, token?: string): Promise<Outcome> {
    return new Promise((resolve) => {
      const call = this.c.makeServerStreamRequest(
        path,
        (m: MessageShape<I>) => Buffer.from(toBinary(inSchema, m)),
        (b: Buffer) => fromBinary(outSchema, b),
        create(inSchema, req),
        this.md(token),
        { deadline: Date.now() + 15_000 },
      );
      call.on('data', () => undefined);
      call.on('error', (e: grpc.ServiceError) => resolve(statusOutcome(e)));
      call.on('status', (s: grpc.StatusObject) => { if (s.code === grpc.status.OK) resolve('OK'); });
    });
  }

  /**
   * A bidi stream: writes `reqs`, waits for as many responses (or the end),
   * half-closes; the outcome is 'OK' with the responses mapped by `show`, or the
   * error status.
   */
  bidiOutcome<I extends DescMessage, O extends DescMessage>(
    path: string, inSchema: I, reqs: MessageInitShape<I>[], outSchema: O, token: string | undefined, show: (r: MessageShape<O>) => string,
  ): Promise<Outcome> {
    return new Promise((resolve) => {
      const call = this.bidi(path, inSchema, outSchema, token, { deadline: Date.now() + 15_000 });
      const got: string[] = [];
      let done = false;
      const finish = (o: Outcome) => { if (!done) { done = true; resolve(o); } };
      call.on('data', (r: MessageShape<O>) => {
        got.push(show(r));
        if (got.length === reqs.length) call.end();
      });
      call.on('error', (e: grpc.ServiceError) => finish(statusOutcome(e)));
      call.on('status', (s: grpc.StatusObject) => { if (s.code === grpc.status.OK) finish(`OK ${got.join(',')}`); });
      for (const r of reqs) call.write(create(inSchema, r));
    });
  }

  /**
   * A bidi stream: writes `reqs` and, once `n` responses arrived (or `waitMs` passed,
   * or the stream ended), cancels the call; the outcome is 'OK' with the responses
   * mapped by `show` (plus ' (no more)' when fewer than `n` came), or the error status.
   * For streams a server keeps open after the client's half-close (Watch).
   */
  bidiFirst<I extends DescMessage, O extends DescMessage>(
    path: string, inSchema: I, reqs: MessageInitShape<I>[], outSchema: O, token: string | undefined, show: (r: MessageShape<O>) => string, n: number, waitMs = 3000,
  ): Promise<Outcome> {
    return new Promise((resolve) => {
      const call = this.bidi(path, inSchema, outSchema, token);
      const got: string[] = [];
      let done = false;
      const finish = (o: Outcome) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        call.cancel();
        resolve(o);
      };
      const timer = setTimeout(() => finish(`OK ${got.join(',')}${got.length < n ? ' (no more)' : ''}`), waitMs);
      call.on('data', (r: MessageShape<O>) => {
        got.push(show(r));
        if (got.length >= n) finish(`OK ${got.join(',')}`);
      });
      call.on('error', (e: grpc.ServiceError) => { if (e.code !== grpc.status.CANCELLED) finish(statusOutcome(e)); });
      for (const r of reqs) call.write(create(inSchema, r));
    });
  }

  close(): void {
    this.c.close();
  }
}
