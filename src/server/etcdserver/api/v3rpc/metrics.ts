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

  /** Zero-initializes the counters of a method for every code (grpc_prometheus.Register). */
  register(l: MethodLabels): void {
    const base = this.labels(l);
    this.started.labels(base).inc(0);
    this.msgReceived.labels(base).inc(0);
    this.msgSent.labels(base).inc(0);
    for (const code of GO_CODE_NAMES) this.handled.labels({ ...base, grpc_code: code }).inc(0);
  }

  onStarted(l: MethodLabels): void {
    this.started.labels(this.labels(l)).inc();
  }

  /** `code`: the grpc status code number the call ended with. */
  onHandled(l: MethodLabels, code: number): void {
    this.handled.labels({ ...this.labels(l), grpc_code: GO_CODE_NAMES[code] ?? String(code) }).inc();
  }

  onReceived(l: MethodLabels, bytes: number): void {
    this.msgReceived.labels(this.labels(l)).inc();
    this.receivedBytes.inc(bytes);
  }

  onSent(l: MethodLabels, bytes: number): void {
    this.msgSent.labels(this.labels(l)).inc();
    this.sentBytes.inc(bytes);
  }

  private labels(l: MethodLabels): Record<string, string> {
    return { grpc_type: l.type, grpc_service: l.service, grpc_method: l.method };
  }
}
