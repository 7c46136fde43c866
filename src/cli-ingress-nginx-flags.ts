/**
 * ingress-nginx's controller flags (its `pkg/flags/flags.go`) that an operator copies from a
 * chart or a manifest. Renamed ones are taken under their old name; the others are refused by
 * name with what to do instead, so nothing an operator asked for is silently dropped.
 */
export const RENAMED: Readonly<Record<string, string>> = {
  'controller-class': 'controller-name',
  'healthz-port': 'admin-port',
  'publish-address': 'publish-status-address',
  'enable-metrics': 'metrics',
  'shutdown-grace-period': 'shutdown-delay',
};

const METRICS = 'Portico exports ingress-nginx\'s metric names and buckets; they cannot be tuned';
const NOT_HTTP = 'Portico proxies HTTP and HTTPS only (no TCP/UDP streams, no TLS passthrough)';

export const NOT_IN_PORTICO: Readonly<Record<string, string>> = {
  'apiserver-host': 'use --kubeconfig',
  'annotations-prefix': 'Portico reads nginx.ingress.kubernetes.io/ and portico.dev/ annotations',
  'ingress-class-by-name': 'Portico matches IngressClasses by name and by spec.controller already',
  'tcp-services-configmap': NOT_HTTP,
  'udp-services-configmap': NOT_HTTP,
  'enable-ssl-passthrough': NOT_HTTP,
  'ssl-passthrough-proxy-port': NOT_HTTP,
  'enable-ssl-chain-completion': 'serve the full chain in the TLS Secret',
  'enable-annotation-validation': 'Portico always validates annotations and reports each problem',
  'enable-topology-aware-routing': 'not supported; every ready endpoint is used',
  'disable-catch-all': 'Portico never lets an Ingress without rules take every host',
  'metrics-per-host': METRICS,
  'metrics-per-undefined-host': METRICS,
  'time-buckets': METRICS,
  'length-buckets': METRICS,
  'size-buckets': METRICS,
  'exclude-socket-metrics': METRICS,
  'report-status-classes': METRICS,
  'monitor-max-batch-size': METRICS,
  'sync-period': 'Portico rebuilds on every change and needs no resync',
  'sync-rate-limit': 'Portico rebuilds on every change and needs no rate limit',
  'watch-namespace-selector': 'use --watch-namespace (one namespace) or watch all',
  'update-status-on-shutdown': 'the status stays while other replicas serve',
  'election-ttl': 'the Lease duration is fixed (15 s)',
  'disable-leader-election': 'one replica leads; the others serve and wait',
  'healthz-host': 'use --admin-address',
  'health-check-path': '/healthz and /readyz are on --admin-port',
  'health-check-timeout': '/healthz answers without a timeout',
  'status-port': 'there is no nginx status server; everything is on --admin-port',
  'stream-port': NOT_HTTP,
  'profiler-port': 'use node --cpu-prof',
  'profiling': 'use node --cpu-prof',
  'default-server-port': 'unmatched requests are answered on the same listeners',
  'post-shutdown-grace-period': 'use --shutdown-grace (how long requests in flight may finish)',
  'disable-full-test': 'there is no nginx configuration to test',
  'disable-sync-events': 'Events are written for diagnostics only, by the leader',
  'dynamic-configuration-retries': 'there is no configuration to load: the table is swapped in memory',
  'internal-logger-address': 'Portico logs to stdout',
  'disable-svc-external-name': 'ExternalName Services are not used as backends',
  'maxmind-license-key': 'GeoIP is not supported',
  'maxmind-edition-ids': 'GeoIP is not supported',
  'maxmind-mirror': 'GeoIP is not supported',
  'maxmind-retries-count': 'GeoIP is not supported',
  'maxmind-retries-timeout': 'GeoIP is not supported',
  'deep-inspect': 'Portico always validates Ingresses fully',
  'v': 'set PORTICO_LOG_LEVEL (debug, info, warn, error)',
  'logtostderr': 'Portico logs JSON to stdout',
};
