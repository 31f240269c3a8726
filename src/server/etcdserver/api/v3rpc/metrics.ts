/**
 * @module server/etcdserver/api/v3rpc/metrics
 * gRPC server metrics as etcd 3.4 exports them (go-grpc-prometheus
 * grpc_server_*, and v3rpc/metrics.go's etcd_network_client_grpc_*_bytes_total),
 * registered in an {@link EtcdMetrics} registry.
 */
import { Counter } from 'prom-client';
import type { EtcdMetrics } from '../../../metrics/metrics.js';
import { GO_CODE_NAMES } from './rpctypes/error.js';

/** grpc_type label values (go-grpc-prometheus). */
export type GrpcType = 'unary' | 'client_stream' | 'server_stream' | 'bidi_stream';

/** One RPC method's labels. */
export interface MethodLabels {
  readonly service: string;
  readonly method: string;
  readonly type: GrpcType;
}

/** A counter child with its labels bound (prom-client `labels(...)` result). */
interface BoundCounter {
  inc(value?: number): void;
}

/**
 * A plain running total standing for one label set of a prom-client counter: the
 * hot path adds to a number (prom-client's own children hash their label object on
 * every `inc`: 0.6-0.8 us, six per unary call, about 3 % of a put's server CPU); the counter copies
 * the totals in when it is collected (scraped).
 */
class Tally implements BoundCounter {
  value = 0;
  inc(value = 1): void {
    this.value += value;
  }
}

/** The tallies of one counter, by label set; the counter's `collect` copies them in. */
class TallySet {
  private readonly entries: Array<{ labels: Record<string, string> | undefined; tally: Tally }> = [];

  /** A new tally for `labels` (undefined: the counter has no labels), counted from 0 at once. */
  bind(labels?: Record<string, string>): Tally {
    const tally = new Tally();
    this.entries.push({ labels, tally });
    return tally;
  }

  /** Sets `c`'s values to the tallies (called from the counter's collect()). */
  copyInto(c: Counter<string>): void {
    c.reset();
    for (const { labels, tally } of this.entries) {
      if (labels) c.inc(labels, tally.value);
      else c.inc(tally.value);
    }
  }
}

/**
 * The counters of one method with their labels bound once, so the hot path
 * only increments (no label objects or lookups per call).
 */
export class MethodMetrics {
  /** @internal made by {@link GrpcMetrics.register} */
  constructor(
    private readonly started: BoundCounter,
    /** grpc_server_handled_total children, by status code number */
    private readonly handled: readonly BoundCounter[],
    private readonly handledOther: (code: number) => BoundCounter,
    private readonly msgReceived: BoundCounter,
    private readonly msgSent: BoundCounter,
    private readonly receivedBytes: BoundCounter,
    private readonly sentBytes: BoundCounter,
  ) {}

  onStarted(): void {
    this.started.inc();
  }

  /** `code`: the grpc status code number the call ended with. */
  onHandled(code: number): void {
    (this.handled[code] ?? this.handledOther(code)).inc();
  }

  /** One request message of `bytes` bytes received. */
  onReceived(bytes: number): void {
    this.msgReceived.inc();
    this.receivedBytes.inc(bytes);
  }

  /** One response message of `bytes` bytes sent. */
  onSent(bytes: number): void {
    this.msgSent.inc();
    this.sentBytes.inc(bytes);
  }
}

/** The grpc_server_* counters: prom-client counters fed from tallies at scrape time. */
export class GrpcMetrics {
  private readonly started: TallySet;
  private readonly handled: TallySet;
  private readonly msgReceived: TallySet;
  private readonly msgSent: TallySet;
  private readonly receivedTotal: Tally;
  private readonly sentTotal: Tally;

  constructor(m: EtcdMetrics) {
    const registers = [m.registry];
    const labelNames = ['grpc_type', 'grpc_service', 'grpc_method'];
    /** Registers counter `name` and returns the tallies its collect() copies in. */
    const counter = (name: string, help: string, names?: string[]): TallySet => {
      const set = new TallySet();
      const c: Counter<string> = new Counter({
        name,
        help,
        ...(names ? { labelNames: names } : {}),
        registers,
        collect() {
          set.copyInto(c);
        },
      });
      return set;
    };
    this.started = counter('grpc_server_started_total', 'Total number of RPCs started on the server.', labelNames);
    this.handled = counter('grpc_server_handled_total', 'Total number of RPCs completed on the server, regardless of success or failure.', [...labelNames, 'grpc_code']);
    this.msgReceived = counter('grpc_server_msg_received_total', 'Total number of RPC stream messages received on the server.', labelNames);
    this.msgSent = counter('grpc_server_msg_sent_total', 'Total number of gRPC stream messages sent by the server.', labelNames);
    this.receivedTotal = counter('etcd_network_client_grpc_received_bytes_total', 'The total number of bytes received from grpc clients.').bind();
    this.sentTotal = counter('etcd_network_client_grpc_sent_bytes_total', 'The total number of bytes sent to grpc clients.').bind();
  }

  /**
   * Zero-initializes the counters of a method for every code
   * (grpc_prometheus.Register) and returns them bound to its labels.
   */
  register(l: MethodLabels): MethodMetrics {
    const base = { grpc_type: l.type, grpc_service: l.service, grpc_method: l.method };
    const handled = GO_CODE_NAMES.map((code) => this.handled.bind({ ...base, grpc_code: code }));
    const others = new Map<number, Tally>();
    const other = (code: number) => {
      let t = others.get(code);
      if (!t) {
        t = this.handled.bind({ ...base, grpc_code: String(code) });
        others.set(code, t);
      }
      return t;
    };
    return new MethodMetrics(
      this.started.bind(base), handled, other, this.msgReceived.bind(base), this.msgSent.bind(base), this.receivedTotal, this.sentTotal,
    );
  }
}
