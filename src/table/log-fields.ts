/**
 * nginx variables the JSON access log can fill in from what Portico knows about a request: the
 * ConfigMap's `log-format-upstream`, when it is a JSON object of `"name": "$variable"` pairs,
 * becomes a list of fields (no template is evaluated). Values are typed: numbers stay numbers.
 */
export const LOG_VARIABLES = [
  'remote_addr', 'remote_user', 'time_local', 'time_iso8601', 'msec', 'request', 'request_method', 'request_uri', 'uri',
  'args', 'query_string', 'status', 'body_bytes_sent', 'bytes_sent', 'http_referer', 'http_user_agent', 'request_length',
  'request_time', 'proxy_upstream_name', 'proxy_alternative_upstream_name', 'upstream_addr', 'upstream_response_length',
  'upstream_response_time', 'upstream_connect_time', 'upstream_header_time', 'upstream_status', 'req_id', 'request_id', 'host',
  'server_protocol', 'namespace', 'ingress_name', 'service_name', 'service_port',
] as const;

export type LogVariable = (typeof LOG_VARIABLES)[number];

export interface LogField {
  /** The JSON key, as the operator named it. */
  readonly name: string;
  readonly variable: LogVariable;
}
