import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ParsedManifest } from './manifests.ts';

export interface ParseRequest {
  readonly id: number;
  readonly dir: string;
  readonly files: readonly string[];
  readonly maxBytes: number;
  /** The stamp of the version of each file the caller holds: those come back `unchanged`. */
  readonly stamps: Readonly<Record<string, string>>;
}

export type ParseResult = { readonly file: string } & (
  /** `stamp` identifies this version (inode, size and times). */
  | { readonly kind: 'parsed'; readonly parsed: ParsedManifest; readonly stamp: string }
  /** The version the caller holds. */
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'refused'; readonly reason: string }
  | { readonly kind: 'gone' }
);

/** What one file may cost the parser thread before it is given up on. */
const WORKER_HEAP_MB = 2048;
const FILE_TIMEOUT_MS = 60_000;
/**
 * After parsing this much the thread is let go: the yaml library needs many times a file's
 * size while parsing, and a thread keeps that memory until it ends. The next load starts a new one.
 */
const RECYCLE_AFTER_BYTES = 1024 * 1024;
/**
 * An idle thread is let go after this long: it is a whole JavaScript heap (~20 MB of resident
 * memory) kept for a reload that may not come; starting one again costs tens of milliseconds.
 */
const IDLE_MS = 5_000;
// The worker is a sibling module: .ts when run from source, .js once compiled.
const WORKER_URL = new URL(`./manifest-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

/**
 * Reads and parses manifest files on a thread of their own, so what is being parsed never
 * delays a request. One file that exhausts the thread's memory or time is refused (the thread
 * is replaced) and the others are still read.
 */
export class ManifestParser {
  private worker: Worker | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private nextId = 1;
  private closed = false;

  /** Results for every listed file, in no particular order; `stamps`: the versions the caller holds. */
  async parse(dir: string, files: readonly string[], maxBytes: number, stamps: Readonly<Record<string, string>>): Promise<Map<string, ParseResult>> {
    const results = new Map<string, ParseResult>();
    let pending = files;
    while (pending.length > 0 && !this.closed) {
      const failure = await this.run({ id: this.nextId++, dir, files: pending, maxBytes, stamps }, results);
      if (failure === undefined) break;
      // The thread died on the first file it had not answered for: refuse that one, read the rest.
      const culprit = pending.find((f) => !results.has(f));
      if (culprit === undefined) break;
      results.set(culprit, { file: culprit, kind: 'refused', reason: failure });
      pending = pending.filter((f) => !results.has(f));
    }
    return results;
  }

  private recycle(worker: Worker): void {
    void worker.terminate();
    if (this.worker === worker) this.worker = undefined;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.idleTimer);
    void this.worker?.terminate();
    this.worker = undefined;
  }

  /** One pass over `files`; resolves undefined when the thread answered for all, else why it stopped. */
  private run(request: ParseRequest, results: Map<string, ParseResult>): Promise<string | undefined> {
    clearTimeout(this.idleTimer);
    const worker = (this.worker ??= new Worker(WORKER_URL, { resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } }));
    worker.ref();
    return new Promise((resolve) => {
      const finish = (failure: string | undefined): void => {
        clearTimeout(watchdog);
        worker.off('message', onMessage).off('error', onError).off('exit', onExit);
        if (failure !== undefined) {
          this.recycle(worker);
        } else {
          worker.unref();
          this.idleTimer = setTimeout(() => this.recycle(worker), IDLE_MS).unref();
        }
        resolve(failure);
      };
      const watchdog = setTimeout(() => finish(`parsing it took longer than ${FILE_TIMEOUT_MS / 1000} s; not read`), FILE_TIMEOUT_MS);
      const onMessage = (text: string): void => {
        const message = JSON.parse(text) as ParseResult | { done: number; parsedBytes: number };
        if ('done' in message) {
          if (message.done !== request.id) return;
          finish(undefined);
          if (message.parsedBytes >= RECYCLE_AFTER_BYTES) this.recycle(worker);
          return;
        }
        results.set(message.file, message);
        watchdog.refresh();
      };
      const onError = (err: Error & { code?: string }): void =>
        finish(err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? `parsing it needed more than ${WORKER_HEAP_MB} MB; not read` : `parsing it failed (${err.name}); not read`);
      const onExit = (): void => finish('the parser thread stopped; not read');
      worker.on('message', onMessage).on('error', onError).on('exit', onExit);
      worker.postMessage(request);
    });
  }
}
