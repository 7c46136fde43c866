import { Transform, type TransformCallback } from 'node:stream';

export class BodyTooLargeError extends Error {
  readonly code = 'PORTICO_BODY_TOO_LARGE';
}

export class SendTimeoutError extends Error {
  readonly code = 'PORTICO_SEND_TIMEOUT';
}

/**
 * The request body on its way to the pod. Counts bytes against the body limit (chunked
 * bodies have no Content-Length to check up front) and enforces `proxy-send-timeout`:
 * the pod must accept data at least that often while we hold some for it.
 */
export class RequestBody extends Transform {
  /** True once the upstream side took a byte: such a request cannot be replayed. */
  touched = false;
  failure: BodyTooLargeError | SendTimeoutError | undefined;
  private bytes = 0;
  private readonly limit: number;
  private readonly sendTimeoutMs: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(limit: number, sendTimeoutMs: number) {
    super({ highWaterMark: 64 * 1024 });
    this.limit = limit;
    this.sendTimeoutMs = sendTimeoutMs;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) {
      this.fail(new BodyTooLargeError(`request body larger than ${this.limit} bytes`));
      callback();
      return;
    }
    this.push(chunk);
    this.armSendTimer();
    callback();
  }

  override _read(size: number): void {
    // The pod took data: the send timer restarts from now.
    this.touched = true;
    this.armSendTimer();
    super._read(size);
  }

  override _final(callback: TransformCallback): void {
    clearTimeout(this.timer);
    callback();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.timer);
    callback(err);
  }

  private armSendTimer(): void {
    clearTimeout(this.timer);
    if (this.readableLength === 0) return; // nothing waiting for the pod: not its fault
    this.timer = setTimeout(() => {
      if (this.readableLength > 0) this.fail(new SendTimeoutError(`upstream accepted no data for ${this.sendTimeoutMs} ms`));
    }, this.sendTimeoutMs);
    this.timer.unref();
  }

  private fail(err: BodyTooLargeError | SendTimeoutError): void {
    if (this.failure) return;
    this.failure = err;
    this.destroy(err);
  }
}

/**
 * Reads a small body whole, as nginx does by default (`proxy-request-buffering: on`), so a
 * request can be replayed to another endpoint. Rejects after `idleMs` without data (408).
 */
export async function readSmallBody(req: NodeJS.ReadableStream, length: number, idleMs: number): Promise<Buffer> {
  const read = await readBodyUpTo(req, Infinity, idleMs);
  return read.chunks.length === 1 ? read.chunks[0]! : Buffer.concat(read.chunks, length);
}

export interface PartialBody {
  readonly chunks: Buffer[];
  readonly bytes: number;
  /** The body ended within the cap; else the stream is paused after `bytes`. */
  readonly complete: boolean;
}

/**
 * Reads a body until it ends or passes `cap` bytes (then leaves the stream paused, the rest
 * unread). Rejects after `idleMs` without data (408).
 */
export function readBodyUpTo(req: NodeJS.ReadableStream, cap: number, idleMs: number): Promise<PartialBody> {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    const chunks: Buffer[] = [];
    let timer = setTimeout(onIdle, idleMs);
    function onIdle(): void {
      cleanup();
      reject(Object.assign(new Error('client sent no body data in time'), { code: 'PORTICO_CLIENT_BODY_TIMEOUT' }));
    }
    const onData = (c: Buffer): void => {
      chunks.push(c);
      bytes += c.length;
      clearTimeout(timer);
      if (bytes > cap) {
        req.pause();
        cleanup();
        resolve({ chunks, bytes, complete: false });
        return;
      }
      timer = setTimeout(onIdle, idleMs);
    };
    const onEnd = (): void => {
      cleanup();
      resolve({ chunks, bytes, complete: true });
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    function cleanup(): void {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('error', onError);
    }
    req.on('data', onData).on('end', onEnd).on('error', onError);
  });
}
