/**
 * @module server/etcdserver/api/etcdhttp/metrics
 * /metrics and /health (etcd 3.4 etcdserver/api/etcdhttp/metrics.go).
 */
import type { EtcdMetrics } from '../../../metrics/metrics.js';
import type { EtcdServerApi } from '../../api.js';
import { httpError, type HttpHandler, type HttpMux } from './base.js';

export const PATH_METRICS = '/metrics';
export const PATH_HEALTH = '/health';

/** Registers /metrics and /health on `mux` (HandleMetricsHealth). */
export function handleMetricsHealth(mux: HttpMux, s: EtcdServerApi, m: EtcdMetrics): void {
  mux.handle(PATH_METRICS, metricsHandler(m));
  mux.handle(PATH_HEALTH, healthHandler(s, m));
}

/** Prometheus text exposition of `m` (promhttp.Handler; any method). */
export function metricsHandler(m: EtcdMetrics): HttpHandler {
  return async (_req, res) => {
    const body = await m.text();
    res.setHeader('Content-Type', m.contentType);
    res.setHeader('Content-Length', Buffer.byteLength(body));
    res.writeHead(200);
    res.end(body);
  };
}

/**
 * GET /health[?exclude=NOSPACE&exclude=...]: 200 `{"health":"true"}`, or 503
 * `{"health":"false"}\n` (via http.Error) when the server reports unhealthy;
 * other methods → 405. Counts etcd_server_health_success / _failures.
 */
export function healthHandler(s: EtcdServerApi, m: EtcdMetrics): HttpHandler {
  return async (req, res) => {
    if (req.method !== 'GET') {
      res.setHeader('Allow', 'GET');
      return httpError(res, 'Method Not Allowed', 405);
    }
    const excluded = new Set(new URL(req.url ?? '/', 'http://x').searchParams.getAll('exclude').filter((a) => a !== ''));
    let healthy: boolean;
    try {
      healthy = (await s.health(excluded)).health;
    } catch {
      healthy = false;
    }
    if (healthy) m.healthSuccess.inc();
    else m.healthFailures.inc();
    const body = JSON.stringify({ health: healthy ? 'true' : 'false' });
    if (!healthy) return httpError(res, body, 503);
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.setHeader('Content-Length', Buffer.byteLength(body));
    res.writeHead(200);
    res.end(body);
  };
}
