import { readdir, readFile } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { Diagnostic } from '../diagnostics.ts';
import { objectKey, type ObjectSnapshot, type SnapshotKind, SNAPSHOT_KINDS } from '../snapshot.ts';
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

/**
 * Parses one manifest file (multi-document YAML or JSON, a `List` allowed) into objects of
 * the kinds Portico reads. Other kinds are skipped silently; unusable documents and objects
 * are reported with file, document index and field.
 */
export interface ParsedManifest {
  objects: ManifestObject[];
  problems: Diagnostic[];
  /** Objects present but malformed, as `Kind namespace/name`: their last good version may stand in. */
  malformed: string[];
  /** True when the file did not parse at all. */
  unparseable: boolean;
}

export function parseManifest(text: string, file: string): ParsedManifest {
  const objects: ManifestObject[] = [];
  const problems: Diagnostic[] = [];
  const malformed: string[] = [];
  const report = (index: number, name: string, field: string | undefined, message: string): void => {
    problems.push({ severity: 'Warning', code: field === undefined ? 'ManifestParseError' : 'MalformedObject', object: { kind: 'File', name: `${file}#${index}${name}` }, field, message });
  };
  const docs = parseAllDocuments(text);
  // A YAML stream with a syntax error anywhere is refused whole: half a file is worse than the last good one.
  const broken = docs.findIndex((d) => 'errors' in d && d.errors.length > 0);
  if (broken !== -1) {
    const doc = docs[broken]!;
    report(broken, '', undefined, 'errors' in doc ? doc.errors[0]!.message : 'unparseable');
    return { objects: [], problems, malformed, unparseable: true };
  }
  docs.forEach((doc, index) => {
    const value: unknown = doc.toJS();
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
    IngressClass: new Map(), Ingress: new Map(), Service: new Map(), EndpointSlice: new Map(), Secret: new Map(),
  };
  for (const o of objects) maps[o.kind].set(objectKey(o.metadata.namespace, o.metadata.name), o);
  return {
    ingressClasses: maps.IngressClass,
    ingresses: maps.Ingress,
    services: maps.Service,
    endpointSlices: maps.EndpointSlice,
    secrets: maps.Secret,
  } as ObjectSnapshot;
}

export interface DirectoryLoad {
  snapshot: ObjectSnapshot;
  problems: Diagnostic[];
}

/**
 * The standalone source: a directory of manifests, watched for changes. A file that fails
 * to parse keeps its last good objects; so does an object that became malformed. Objects
 * without a creationTimestamp get the time this source first saw them, so "oldest wins"
 * means what it does in a cluster.
 */
export class ManifestDirectorySource {
  private readonly dir: string;
  private readonly onChange: (load: DirectoryLoad) => void;
  private readonly lastGoodFile = new Map<string, ManifestObject[]>();
  private readonly firstSeen = new Map<string, string>();
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private loading: Promise<void> = Promise.resolve();

  constructor(dir: string, onChange: (load: DirectoryLoad) => void) {
    this.dir = dir;
    this.onChange = onChange;
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
  }

  /** Editors write files in bursts (truncate, write, rename): wait for the burst to settle. */
  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.loading = this.loading.then(() => this.reload());
    }, 50);
  }

  async reload(): Promise<void> {
    const files = (await readdir(this.dir)).filter((f) => MANIFEST_FILE.test(f)).sort();
    const problems: Diagnostic[] = [];
    const objects: ManifestObject[] = [];
    for (const file of files) {
      let text: string;
      try {
        text = await readFile(join(this.dir, file), 'utf8');
      } catch {
        continue; // removed between readdir and read: the next event reloads
      }
      const parsed = parseManifest(text, file);
      problems.push(...parsed.problems);
      const previous = this.lastGoodFile.get(file) ?? [];
      let good = parsed.objects;
      if (parsed.unparseable) {
        good = previous;
      } else if (parsed.malformed.length > 0) {
        // An object that is malformed now keeps serving its last good version.
        const malformed = new Set(parsed.malformed);
        good = [...good, ...previous.filter((o) => malformed.has(identity(o)))];
      }
      this.lastGoodFile.set(file, good);
      objects.push(...good);
    }
    for (const file of [...this.lastGoodFile.keys()]) if (!files.includes(file)) this.lastGoodFile.delete(file);
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
}

function identity(o: ManifestObject): string {
  return `${o.kind} ${objectKey(o.metadata.namespace, o.metadata.name)}`;
}
