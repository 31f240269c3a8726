/**
 * @module server/embed/discovery-srv
 * `--discovery-srv DOMAIN [--discovery-srv-name NAME]`: the initial cluster from DNS SRV
 * records, as etcd 3.4.23's embed Config.PeerURLsMapAndToken / GetDNSClusterNames do it
 * (embed/config.go) with pkg/srv GetCluster (../../util/dns-srv.ts).
 *
 * etcd 3.4.23 facts kept here, quirks included:
 * - `_etcd-server-ssl[-NAME]._tcp.DOMAIN` is looked up (https peer URLs), then
 *   `_etcd-server[-NAME]._tcp.DOMAIN` (http); the http result is only appended when its
 *   own look-up *failed* (so it is never used), and the error returned is the https
 *   one: with only http records the start fails with `error querying DNS SRV records
 *   for _etcd-server-ssl ...`;
 * - zap logs `get cluster for etcd-server-ssl SRV` and `get cluster for etcd-server SRV`
 *   (capnslog logs neither), then `failed to resolve during SRV discovery` (warn;
 *   capnslog `couldn't resolve during SRV discovery (ERR)`) or one `got bootstrap from
 *   DNS for etcd-server` per member (capnslog notice `... at NAME=URL`);
 * - the local member must be among the records (`cannot find local etcd member "NAME"
 *   in SRV records`);
 * - with https members and no --peer-trusted-ca-file, the peer TLS server name becomes
 *   DOMAIN.
 */

import { getCluster, type AdvertisedUrl } from '../../util/dns-srv.js';
import type { EmbedConfig } from './config-types.js';
import type { Logger } from '../logger.js';
import { goQuote } from './go-flag.js';
import { whatwgToGoString } from './config.js';

/** The outcome: the initial cluster (name → peer URLs) and the peer TLS server name to use ('' = the URL's host). */
export interface SrvCluster {
  initialCluster: Map<string, string[]>;
  peerServerName: string;
}

/**
 * Builds the initial cluster of `cfg.name` from the SRV records of `domain`.
 * `zap` tells whether the zap-only lines are logged (etcd's cfg.GetLogger() is nil
 * under capnslog).
 * @throws Error with etcd's text (without the `error setting up initial cluster: `
 *   prefix, which the caller adds as embed.StartEtcd does)
 */
export async function peerUrlsFromDnsSrv(cfg: EmbedConfig, domain: string, serviceName: string, lg: Logger, zap: boolean): Promise<SrvCluster> {
  const suffix = serviceName !== '' ? `-${serviceName}` : '';
  const ap: AdvertisedUrl[] = cfg.initialAdvertisePeerUrls.map((u) => ({ scheme: u.protocol.replace(/:$/, ''), host: u.host, text: whatwgToGoString(u) }));
  const apTexts = ap.map((u) => u.text);
  const common = (service: string, scheme: string) => ({
    'service-scheme': scheme,
    'service-name': service,
    'server-name': cfg.name,
    'discovery-srv': domain,
    'advertise-peer-urls': apTexts,
  });
  let found: string[];
  let cerr: Error | undefined;
  try {
    found = await getCluster('https', `etcd-server-ssl${suffix}`, cfg.name, domain, ap);
  } catch (e) {
    cerr = e as Error;
    found = [];
  }
  if (zap) lg.info('get cluster for etcd-server-ssl SRV', { ...common(`etcd-server-ssl${suffix}`, 'https'), 'found-cluster': [...found], error: cerr });
  let httpErr: Error | undefined;
  try {
    await getCluster('http', `etcd-server${suffix}`, cfg.name, domain, ap);
  } catch (e) {
    httpErr = e as Error;
  }
  // etcd 3.4.23 appends the http members only when their look-up failed, i.e. never
  if (zap) lg.info('get cluster for etcd-server SRV', { ...common(`etcd-server${suffix}`, 'http'), 'found-cluster': [...found], error: httpErr });
  if (cerr) {
    lg.warn('failed to resolve during SRV discovery', { error: cerr }, { pkg: 'embed', level: 'E', text: `couldn't resolve during SRV discovery (${cerr.message})` });
    throw cerr;
  }
  for (const s of found) lg.info('got bootstrap from DNS for etcd-server', { node: s }, { pkg: 'embed', level: 'N', text: `got bootstrap from DNS for etcd-server at ${s}` });
  const joined = found.join(',');
  const peerServerName = joined.includes('https://') && cfg.peerTls.trustedCaFile === '' ? domain : '';
  const initialCluster = new Map<string, string[]>();
  for (const s of found) {
    const i = s.indexOf('=');
    const name = s.slice(0, i);
    initialCluster.set(name, [...(initialCluster.get(name) ?? []), s.slice(i + 1)]);
  }
  if (!initialCluster.has(cfg.name)) throw new Error(`cannot find local etcd member ${goQuote(cfg.name)} in SRV records`);
  for (const urls of initialCluster.values()) urls.sort();
  return { initialCluster, peerServerName };
}
