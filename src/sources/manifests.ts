import { readdir } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import { availableParallelism } from 'node:os';
import { LineCounter, parseAllDocuments, type YAMLError } from 'yaml';
import type { Diagnostic } from '../diagnostics.ts';
import { objectKey, type ObjectSnapshot, type SnapshotKind, SNAPSHOT_KINDS } from '../snapshot.ts';
import { DEFAULT_MAX_MANIFEST_BYTES } from './manifest-files.ts';
import { ManifestParser, type ParseResult } from './manifest-parser.ts';
import { checkShape } from './validate.ts';

/** A Kubernetes object as read from a manifest: only the fields every kind has are typed here. */
export interface ManifestObject {
  apiVersion?: string;
  kind: SnapshotKind;
  metadata: { name: string; namespace?: string; creationTimestamp?: string | Date; [k: string]: unknown };
  [k: string]: unknown;
}

const MANIFEST_FILE = /\.(ya?ml|json)$/i;
const CLUSTER_SCOPED = new Set<string>(['IngressClass']);
/** Directories with this many files are parsed on one thread per core (up to MAX_PARSER_THREADS). */
const PARALLEL_FROM_FILES = 512;
const MAX_PARSER_THREADS = 4;
/** Aliases one document may expand (yaml's default): more is an alias bomb. */
const MAX_ALIAS_COUNT = 100;

/**
 * What the yaml library's error codes mean, in our words: its own messages quote the source,
 * and a manifest may hold a private key, so a diagnostic never carries the file's text.
 */
const YAML_PROBLEMS: Partial<Record<YAMLError['code'], string>> = {
  BAD_INDENT: 'bad indentation',
  TAB_AS_INDENT: 'a tab used for indentation',
  DUPLICATE_KEY: 'a key that appears twice in one mapping',
  MULTILINE_IMPLICIT_KEY: 'a key that spans lines (a missing ":" or quote?)',
  UNEXPECTED_TOKEN: 'an unexpected character (an unclosed bracket or quote?)',
  MISSING_CHAR: 'a missing closing character (quote, bracket or brace)',
  BAD_DQ_ESCAPE: 'an invalid escape in a double-quoted string',
  BAD_ALIAS: 'an invalid alias',
  BLOCK_IN_FLOW: 'a block value inside a flow collection',
  BLOCK_AS_IMPLICIT_KEY: 'a block value used as a key',
  KEY_OVER_1024_CHARS: 'a key longer than 1024 characters',
  TAG_RESOLVE_FAILED: 'an unknown tag',
  RESOURCE_EXHAUSTION: 'aliases that expand too far',
};

export interface ParsedManifest {
  objects: ManifestObject[];
  problems: Diagnostic[];
  /** Objects present but malformed, as `Kind namespace/name`: their last good version may stand in. */
  malformed: string[];
  /** True when the file did not parse at all. */
  unparseable: boolean;
}

/**
 * Parses one manifest file (multi-document YAML or JSON, a `List` allowed) into objects of
 * the kinds Portico reads. Other kinds are skipped silently; unusable documents and objects
 * are reported with file, document index and field, never with the file's text. Never throws.
 */
export function parseManifest(text: string, file: string): ParsedManifest {
  const objects: ManifestObject[] = [];
  const problems: Diagnostic[] = [];
  const malformed: string[] = [];
  const report = (index: number, name: string, field: string | undefined, message: string): void => {
    problems.push({ severity: 'Warning', code: field === undefined ? 'ManifestParseError' : 'MalformedObject', object: { kind: 'File', name: `${file}#${index}${name}` }, field, message });
  };
  const unparseable = (index: number, message: string): ParsedManifest => {
    report(index, '', undefined, `${message}; the file's last good version is kept`);
    return { objects: [], problems, malformed, unparseable: true };
  };
  const lines = new LineCounter();
  let docs;
  try {
    docs = parseAllDocuments(text, { prettyErrors: false, lineCounter: lines });
  } catch (err) {
    return unparseable(0, `the file could not be parsed (${(err as Error).name})`);
  }
  // A YAML stream with a syntax error anywhere is refused whole: half a file is worse than the last good one.
  const values: unknown[] = [];
  for (const [index, doc] of docs.entries()) {
    const error = doc.errors[0];
    if (error) {
      const { line, col } = lines.linePos(error.pos[0]);
      return unparseable(index, `YAML syntax error at line ${line}, column ${col}: ${YAML_PROBLEMS[error.code] ?? error.code}`);
    }
    try {
      values.push(doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }));
    } catch {
      // Unresolved aliases and alias bombs throw here, after a clean parse.
      return unparseable(index, 'an alias that is undefined, or aliases that expand beyond the limit');
    }
  }
  values.forEach((value, index) => {
    if (value === null || value === undefined) return;
    const items = isList(value) ? value.items : [value];
    items.forEach((item) => {
      if (typeof item !== 'object' || item === null || typeof (item as { kind?: unknown }).kind !== 'string') {
        report(index, '', 'kind', 'document is not a Kubernetes object (no kind)');
        return;
      }
      const kind = (item as { kind: string }).kind;
      if (!SNAPSHOT_KINDS.includes(kind as SnapshotKind)) return;
      const problem = checkShape(kind, item);
      const meta = (item as { metadata?: { name?: unknown; namespace?: unknown } }).metadata;
      const name = String(meta?.name ?? '');
      if (problem) {
        const namespace = CLUSTER_SCOPED.has(kind) ? undefined : String(meta?.namespace ?? 'default');
        malformed.push(`${kind} ${objectKey(namespace, name)}`);
        report(index, ` (${kind} ${name})`, problem.field, `${problem.field} ${problem.message}; object skipped`);
        return;
      }
      const obj = item as ManifestObject;
      if (!CLUSTER_SCOPED.has(kind)) obj.metadata.namespace ??= 'default';
      if (kind === 'Secret') mergeStringData(obj);
      objects.push(obj);
    });
  });
  return { objects, problems, malformed, unparseable: false };
}

/** As the API server does: `stringData` is written into `data`, base64-encoded, and wins. */
function mergeStringData(secret: ManifestObject): void {
  const stringData = secret['stringData'] as Record<string, string> | undefined;
  if (!stringData) return;
  const data = { ...(secret['data'] as Record<string, string> | undefined) };
  for (const [k, v] of Object.entries(stringData)) data[k] = Buffer.from(v).toString('base64');
  secret['data'] = data;
  delete secret['stringData'];
}

function isList(value: unknown): value is { items: unknown[] } {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'List' && Array.isArray((value as { items?: unknown }).items);
}

/** Groups objects by kind into a snapshot; on duplicates the later object wins. */
export function snapshotOf(objects: Iterable<ManifestObject>): ObjectSnapshot {
  const maps: Record<SnapshotKind, Map<string, unknown>> = {
    IngressClass: new Map(), Ingress: new Map(), Service: new Map(), EndpointSlice: new Map(), Secret: new Map(), ConfigMap: new Map(),
  };
  for (const o of objects) maps[o.kind].set(objectKey(o.metadata.namespace, o.metadata.name), o);
  return {
    ingressClasses: maps.IngressClass,
    ingresses: maps.Ingress,
    services: maps.Service,
    endpointSlices: maps.EndpointSlice,
    secrets: maps.Secret,
    configMaps: maps.ConfigMap,
  } as ObjectSnapshot;
}

export interface DirectoryLoad {
  snapshot: ObjectSnapshot;
  problems: Diagnostic[];
}

export interface ManifestDirectoryOptions {
  /** Files larger than this are refused with a diagnostic (`--max-manifest-bytes`). */
  readonly maxBytes?: number;
  /** A reload that failed as a whole (the directory vanished, …): the last snapshot stays. */
  readonly onError?: (err: unknown) => void;
  /** Read only this file of the directory (`--manifests` naming a file), whatever its extension. */
  readonly file?: string | undefined;
}

/**
 * The standalone source: a directory of manifests, watched for changes. Files are read and
 * parsed on a thread of their own. A file that fails to parse, or cannot be read safely, keeps
 * its last good objects; so does an object that became malformed. Objects without a
 * creationTimestamp get the time this source first saw them, so "oldest wins" means what it
 * does in a cluster.
 */
export class ManifestDirectorySource {
  private readonly dir: string;
  private readonly onChange: (load: DirectoryLoad) => void;
  private readonly options: ManifestDirectoryOptions;
  private readonly parser = new ManifestParser();
  /** Per file: what its last parse gave (and the version's stamp), and the objects it last contributed. */
  private readonly lastParsed = new Map<string, { parsed: ParsedManifest; stamp: string }>();
  private readonly lastGoodFile = new Map<string, ManifestObject[]>();
  private readonly firstSeen = new Map<string, string>();
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private loading: Promise<void> = Promise.resolve();

  constructor(dir: string, onChange: (load: DirectoryLoad) => void, options: ManifestDirectoryOptions = {}) {
    this.dir = dir;
    this.onChange = onChange;
    this.options = options;
  }

  /** Loads the directory once (resolves after the first snapshot was delivered), then watches it. */
  async start(): Promise<void> {
    await this.reload();
    this.watcher = watch(this.dir, () => this.schedule());
    this.watcher.on('error', () => this.schedule());
  }

  stop(): void {
    this.watcher?.close();
    clearTimeout(this.timer);
    this.parser.close();
  }

  /** Editors write files in bursts (truncate, write, rename): wait for the burst to settle. */
  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      // Nothing a reload meets may reject this chain: it would end the process.
      this.loading = this.loading.then(() => this.reload()).catch((err: unknown) => this.options.onError?.(err));
    }, 50);
  }

  async reload(): Promise<void> {
    const only = this.options.file;
    const files = (await readdir(this.dir)).filter((f) => (only === undefined ? MANIFEST_FILE.test(f) : f === only)).sort();
    const stamps = Object.fromEntries([...this.lastParsed].map(([file, last]) => [file, last.stamp]));
    const results = await this.parseAll(files, stamps);
    const problems: Diagnostic[] = [];
    const objects: ManifestObject[] = [];
    for (const file of files) {
      const result = results.get(file);
      if (result === undefined || result.kind === 'gone') {
        this.forget(file); // removed since readdir: the next event reloads
        continue;
      }
      const previous = this.lastGoodFile.get(file) ?? [];
      let good: ManifestObject[];
      if (result.kind === 'refused') {
        problems.push({ severity: 'Warning', code: 'ManifestParseError', object: { kind: 'File', name: file }, message: `${result.reason}; the file's last good version is kept` });
        this.lastParsed.delete(file);
        good = previous;
      } else {
        if (result.kind === 'parsed') this.lastParsed.set(file, { parsed: result.parsed, stamp: result.stamp });
        const parsed = this.lastParsed.get(file)!.parsed; // unchanged: the version held, by the stamps sent
        problems.push(...parsed.problems);
        good = parsed.objects;
        if (parsed.unparseable) {
          good = previous;
        } else if (parsed.malformed.length > 0) {
          // An object that is malformed now keeps serving its last good version.
          const malformed = new Set(parsed.malformed);
          good = [...good, ...previous.filter((o) => malformed.has(identity(o)))];
        }
      }
      this.lastGoodFile.set(file, good);
      objects.push(...good);
    }
    for (const file of [...this.lastGoodFile.keys()]) if (!files.includes(file)) this.forget(file);
    // One millisecond apart in file and document order, so objects seen in one load keep that order.
    let stamp = Date.now();
    for (const o of objects) {
      if (o.metadata.creationTimestamp) continue;
      const id = identity(o);
      if (!this.firstSeen.has(id)) this.firstSeen.set(id, new Date(stamp++).toISOString());
      o.metadata.creationTimestamp = this.firstSeen.get(id)!;
    }
    this.onChange({ snapshot: snapshotOf(objects), problems });
  }

  /**
   * Every file's result. A large directory is shared out among one parser thread per core (its
   * files interleaved, so big and small ones spread evenly); the extra threads end with the load,
   * so an idle Portico keeps one.
   */
  private async parseAll(files: readonly string[], stamps: Readonly<Record<string, string>>): Promise<Map<string, ParseResult>> {
    const maxBytes = this.options.maxBytes ?? DEFAULT_MAX_MANIFEST_BYTES;
    const threads = files.length < PARALLEL_FROM_FILES ? 1 : Math.min(MAX_PARSER_THREADS, availableParallelism());
    if (threads === 1) return this.parser.parse(this.dir, files, maxBytes, stamps);
    const extra = Array.from({ length: threads - 1 }, () => new ManifestParser());
    try {
      const parsers = [this.parser, ...extra];
      const parts = await Promise.all(parsers.map((parser, i) => parser.parse(this.dir, files.filter((_, n) => n % threads === i), maxBytes, stamps)));
      return new Map(parts.flatMap((part) => [...part]));
    } finally {
      for (const parser of extra) parser.close();
    }
  }

  private forget(file: string): void {
    this.lastGoodFile.delete(file);
    this.lastParsed.delete(file);
  }
}

function identity(o: ManifestObject): string {
  return `${o.kind} ${objectKey(o.metadata.namespace, o.metadata.name)}`;
}
