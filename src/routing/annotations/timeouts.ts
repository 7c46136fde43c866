import type { AnnotationFamily } from './family.ts';
import { SECOND } from './reader.ts';

/** `proxy-*-timeout`: whole seconds, ingress-nginx's defaults 5 s / 60 s / 60 s. */
export const timeouts: AnnotationFamily = {
  name: 'timeouts',
  annotations: ['proxy-connect-timeout', 'proxy-send-timeout', 'proxy-read-timeout'],
  scope: 'route',
  parse: (read) => ({
    route: {
      connectTimeoutMs: read.seconds('proxy-connect-timeout', 5 * SECOND),
      sendTimeoutMs: read.seconds('proxy-send-timeout', 60 * SECOND),
      readTimeoutMs: read.seconds('proxy-read-timeout', 60 * SECOND),
    },
  }),
  describe: (o) => ({ connectTimeoutMs: o.connectTimeoutMs, sendTimeoutMs: o.sendTimeoutMs, readTimeoutMs: o.readTimeoutMs }),
};
