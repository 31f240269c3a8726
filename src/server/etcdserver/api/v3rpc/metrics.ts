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

/** The grpc_server_* counters. */
export class GrpcMetrics {
  private readonly started: Counter<string>;
  private readonly handled: Counter<string>;
  private readonly msgReceived: Counter<string>;
  private readonly msgSent: Counter<string>;
  private readonly receivedBytes: Counter<string>;
  private readonly sentBytes: Counter<string>;

  constructor(m: EtcdMetrics) {
    const registers = [m.registry];
    const labelNames = ['grpc_type', 'grpc_service', 'grpc_method'];
    this.started = new Counter({ name: 'grpc_server_started_total', help: 'Total number of RPCs started on the server.', labelNames, registers });
    this.handled = new Counter({ name: 'grpc_server_handled_total', help: 'Total number of RPCs completed on the server, regardless of success or failure.', labelNames: [...labelNames, 'grpc_code'], registers });
    this.msgReceived = new Counter({ name: 'grpc_server_msg_received_total', help: 'Total number of RPC stream messages received on the server.', labelNames, registers });
    this.msgSent = new Counter({ name: 'grpc_server_msg_sent_total', help: 'Total number of gRPC stream messages sent by the server.', labelNames, registers });
    this.receivedBytes = new Counter({ name: 'etcd_network_client_grpc_received_bytes_total', help: 'The total number of bytes received from grpc clients.', registers });
    this.sentBytes = new Counter({ name: 'etcd_network_client_grpc_sent_bytes_total', help: 'The total number of bytes sent to grpc clients.', registers });
  }

  /**
   * Zero-initializes the counters of a method for every code
   * (grpc_prometheus.Register) and returns them bound to its labels.
   */
  register(l: MethodLabels): MethodMetrics {
    const base = { grpc_type: l.type, grpc_service: l.service, grpc_method: l.method };
    const started = this.started.labels(base);
    const msgReceived = this.msgReceived.labels(base);
    const msgSent = this.msgSent.labels(base);
    started.inc(0);
    msgReceived.inc(0);
    msgSent.inc(0);
    const handled = GO_CODE_NAMES.map((code) => {
      const c = this.handled.labels({ ...base, grpc_code: code });
      c.inc(0);
      return c;
    });
    const other = (code: number) => this.handled.labels({ ...base, grpc_code: String(code) });
    return new MethodMetrics(started, handled, other, msgReceived, msgSent, this.receivedBytes, this.sentBytes);
  }
}
