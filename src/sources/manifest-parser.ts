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
  /** Results per message: many while all goes well, one when looking for the file a thread died on. */
  readonly batch: number;
}

export type ParseResult = { readonly file: string } & (
  /** `stamp` identifies this version (inode, size and times). */
  | { readonly kind: 'parsed'; readonly parsed: ParsedManifest; readonly stamp: string }
  /** The version the caller holds. */
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'refused'; readonly reason: string }
  | { readonly kind: 'gone' }
);

/**
 * Results sent per message: a message per file cost the receiving thread (the data plane's) a
 * wake-up and a parse each, and took a core from the parser threads beside it.
 */
const BATCH = 64;

/** What one file may cost the parser thread before it is given up on. */
const WORKER_HEAP_MB = 2048;
const FILE_TIMEOUT_MS = 60_000;

/** The parser thread's heap limit, and how long it may go without answering (tests set smaller ones). */
export interface ParserLimits {
  readonly heapMb: number;
  readonly fileTimeoutMs: number;
}
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
  private readonly limits: ParserLimits;
  private worker: Worker | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private nextId = 1;
  private closed = false;

  constructor(limits: ParserLimits = { heapMb: WORKER_HEAP_MB, fileTimeoutMs: FILE_TIMEOUT_MS }) {
    this.limits = limits;
  }

  /** Results for every listed file, in no particular order; `stamps`: the versions the caller holds. */
  async parse(dir: string, files: readonly string[], maxBytes: number, stamps: Readonly<Record<string, string>>): Promise<Map<string, ParseResult>> {
    const results = new Map<string, ParseResult>();
    let pending = files;
    let batch = BATCH;
    while (pending.length > 0 && !this.closed) {
      const failure = await this.run({ id: this.nextId++, dir, files: pending, maxBytes, stamps, batch }, results);
      if (failure === undefined) break;
      pending = pending.filter((f) => !results.has(f));
      if (batch > 1) {
        // The thread died with a batch unsent: read what is left one result per message, to find the file.
        batch = 1;
        continue;
      }
      // The thread died on the first file it had not answered for: refuse that one, read the rest.
      const culprit = pending[0];
      if (culprit === undefined) break;
      results.set(culprit, { file: culprit, kind: 'refused', reason: failure });
      pending = pending.slice(1);
      batch = BATCH;
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
    const { heapMb, fileTimeoutMs } = this.limits;
    const worker = (this.worker ??= new Worker(WORKER_URL, { resourceLimits: { maxOldGenerationSizeMb: heapMb } }));
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
      const watchdog = setTimeout(() => finish(`parsing it took longer than ${fileTimeoutMs / 1000} s; not read`), fileTimeoutMs);
      const onMessage = (text: string): void => {
        const message = JSON.parse(text) as ParseResult[] | { done: number; parsedBytes: number };
        if (!Array.isArray(message)) {
          if (message.done !== request.id) return;
          finish(undefined);
          if (message.parsedBytes >= RECYCLE_AFTER_BYTES) this.recycle(worker);
          return;
        }
        for (const result of message) results.set(result.file, result);
        watchdog.refresh();
      };
      const onError = (err: Error & { code?: string }): void =>
        finish(err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? `parsing it needed more than ${heapMb} MB; not read` : `parsing it failed (${err.name}); not read`);
      const onExit = (): void => finish('the parser thread stopped; not read');
      worker.on('message', onMessage).on('error', onError).on('exit', onExit);
      worker.postMessage(request);
    });
  }
}
