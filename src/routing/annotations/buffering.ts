import type { AnnotationFamily } from './family.ts';
import { parseBodySize } from './body.ts';
import { quote, type AnnotationReader } from './reader.ts';

function onOff(read: AnnotationReader, name: string, fallback: boolean): boolean {
  const a = read.get(name);
  if (!a) return fallback;
  if (a.value !== 'on' && a.value !== 'off') {
    read.invalid(a.key, `"${quote(a.value)}" is not on or off`, fallback ? 'on' : 'off');
    return fallback;
  }
  return a.value === 'on';
}

function size(read: AnnotationReader, name: string): void {
  const a = read.get(name);
  if (a && parseBodySize(a.value) === undefined) read.invalid(a.key, `"${quote(a.value)}" is not a size like 8k or 1m`);
}

/**
 * `proxy-request-buffering` (on, the default: a chunked body is read whole and reaches the pod with
 * a Content-Length; off: every body streams as it arrives). `proxy-buffering`, `proxy-buffer-size`,
 * `proxy-buffers-number`, `client-body-buffer-size` and `proxy-max-temp-file-size` size nginx's
 * buffers: responses always stream through Portico, so they are checked and accepted, with no
 * other effect.
 */
export const buffering: AnnotationFamily = {
  name: 'buffering',
  annotations: ['proxy-request-buffering', 'proxy-buffering', 'proxy-buffer-size', 'proxy-buffers-number', 'client-body-buffer-size', 'proxy-max-temp-file-size'],
  scope: 'route',
  parse(read) {
    onOff(read, 'proxy-buffering', false);
    for (const name of ['proxy-buffer-size', 'client-body-buffer-size', 'proxy-max-temp-file-size']) size(read, name);
    read.wholeNumber('proxy-buffers-number', 4, 1);
    return { route: { requestBuffering: onOff(read, 'proxy-request-buffering', true) } };
  },
  differences: Object.fromEntries(['proxy-buffering', 'proxy-buffer-size', 'proxy-buffers-number', 'client-body-buffer-size', 'proxy-max-temp-file-size']
    .map((name) => [name, 'checked but without effect: Portico streams responses and never buffers them to disk'])),
  describe: (o) => ({ requestBuffering: o.requestBuffering }),
};
