/**
 * @module cli/version
 * The etcdctl and API versions this client reports. We match etcdctl 3.4.23 because
 * scripts parse `etcdctl version` output.
 */

/** etcdctl release we are compatible with (`etcdctl version`, help VERSION:). */
export const VERSION = '3.4.23';
/** etcd API version (`API version:` line, help API VERSION:). */
export const API_VERSION = '3.4';
