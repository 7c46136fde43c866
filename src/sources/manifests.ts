import { readdir } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import { availableParallelism } from 'node:os';
import { CORE_SCHEMA, loadAll, YAMLException } from 'js-yaml';
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
const CLUSTER_SCOPED = new Set<string>(['IngressClass', 'GatewayClass', 'Namespace']);
/** Directories with this many files are parsed on one thread per core (up to MAX_PARSER_THREADS). */
const PARALLEL_FROM_FILES = 512;
const MAX_PARSER_THREADS = 4;
/** Aliases one document may use. */
const MAX_ALIASES = 100;
/**
 * Nodes the aliases of one document may add when expanded: the loader shares an aliased node,
 * but everything after it (the JSON sent between threads, build) sees the expanded tree, so an
 * alias bomb (nine aliases of nine aliases of …) must be refused here.
 */
const MAX_ALIAS_EXPANSION = 10_000;
/** Collections nested deeper than this are refused (the loader's default). */
const MAX_DEPTH = 100;

/**
 * What the loader's reasons mean, in our words, by the start of the reason: its own messages
 * may quote the source (a tag, an alias name), and a manifest may hold a private key, so a
 * diagnostic never carries the file's text.
 */
const YAML_PROBLEMS: readonly (readonly [string, string])[] = [
  ['tab characters must not be used', 'a tab used for indentation'],
  ['bad indentation', 'bad indentation'],
  ['deficient indentation', 'bad indentation'],
  ['duplicated mapping key', 'a key that appears twice in one mapping'],
  ['can not read a block mapping entry; a multiline key', 'a key that spans lines (a missing ":" or quote?)'],
  ['unexpected end of the', 'a missing closing character (quote, bracket or brace)'],
  ['missed comma between flow collection entries', 'a missing comma between the entries of a [...] or {...}'],
  ['unknown escape sequence', 'an invalid escape in a double-quoted string'],
  ['expected hexadecimal character', 'an invalid escape in a double-quoted string'],
  ['unidentified alias', 'an alias that is undefined'],
  ['recursive alias', 'an alias inside the node it names'],
  ['aliases exceeded', `more than ${MAX_ALIASES} aliases in one document`],
  ['unknown scalar tag', 'an unknown tag'],
  ['unknown sequence tag', 'an unknown tag'],
  ['unknown mapping tag', 'an unknown tag'],
  ['cannot resolve a node', 'an unknown tag'],
  ['undeclared tag handle', 'an unknown tag'],
  ['nesting exceeded', `collections nested deeper than ${MAX_DEPTH} levels`],
  ['the stream contains non-printable characters', 'a control character YAML does not allow'],
  ['null byte is not allowed', 'a control character YAML does not allow'],
];

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
 *
 * js-yaml (YAML 1.2 core schema) rather than a parser that builds a document tree first:
 * parsing is most of what a large directory costs, and the tree made it thirteen times slower.
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
  // A YAML stream with a syntax error anywhere is refused whole: half a file is worse than the last good one.
  let values: unknown[];
  try {
    values = loadAll(text, { schema: CORE_SCHEMA, maxAliases: MAX_ALIASES, maxDepth: MAX_DEPTH });
  } catch (err) {
    const { reason, mark } = err instanceof YAMLException ? err : { reason: '', mark: undefined };
    const problem = YAML_PROBLEMS.find(([start]) => reason.startsWith(start))?.[1] ?? 'a syntax error';
    if (!mark) return unparseable(0, `YAML ${problem === 'a syntax error' ? 'syntax error' : `error: ${problem}`}`);
    return unparseable(documentIndexAt(text, mark.position), `YAML syntax error at line ${mark.line + 1}, column ${mark.column + 1}: ${problem}`);
  }
  for (const [index, value] of values.entries()) {
    if (!withinAliasBudget(value)) return unparseable(index, `aliases that expand beyond ${MAX_ALIAS_EXPANSION} nodes, or an alias inside the node it names`);
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

/** The index of the document holding `position`: the `---` lines before it that start a document. */
function documentIndexAt(text: string, position: number): number {
  const separators = text.slice(0, position).match(/^---(?=[ \t\r\n]|$)/gm)?.length ?? 0;
  // A stream that opens with `---` (after comments or directives) starts its first document with it.
  const opensWithSeparator = /^(?:(?:[ \t]*(?:#.*)?|%.*)\r?\n)*---(?:[ \t\r\n]|$)/.test(text);
  return Math.max(0, separators - (opensWithSeparator ? 1 : 0));
}

/**
 * Whether the document's aliases add at most MAX_ALIAS_EXPANSION nodes when expanded, and none
 * sits inside the node it names (a cycle). The loader shares an aliased node, so the walk is as
 * long as the document as written: each use of a shared node adds its size without a visit.
 */
function withinAliasBudget(root: unknown): boolean {
  const size = new Map<object, number>();
  let added = 0;
  const visit = (value: unknown): number => {
    if (typeof value !== 'object' || value === null) return 1;
    const known = size.get(value);
    if (known !== undefined) {
      added += known; // NaN while the node is still open: an alias inside it
      return known;
    }
    size.set(value, NaN);
    let total = 1;
    for (const child of Array.isArray(value) ? value : Object.values(value)) {
      total += visit(child);
      if (!(added <= MAX_ALIAS_EXPANSION)) return NaN;
    }
    size.set(value, total);
    return total;
  };
  visit(root);
  return added <= MAX_ALIAS_EXPANSION;
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
    GatewayClass: new Map(), Gateway: new Map(), HTTPRoute: new Map(), ReferenceGrant: new Map(), Namespace: new Map(),
  };
  for (const o of objects) maps[o.kind].set(objectKey(o.metadata.namespace, o.metadata.name), o);
  return {
    ingressClasses: maps.IngressClass,
    ingresses: maps.Ingress,
    services: maps.Service,
    endpointSlices: maps.EndpointSlice,
    secrets: maps.Secret,
    configMaps: maps.ConfigMap,
    gatewayClasses: maps.GatewayClass,
    gateways: maps.Gateway,
    httpRoutes: maps.HTTPRoute,
    referenceGrants: maps.ReferenceGrant,
    namespaces: maps.Namespace,
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
    const listed = new Set(files);
    for (const file of [...this.lastGoodFile.keys()]) if (!listed.has(file)) this.forget(file);
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
