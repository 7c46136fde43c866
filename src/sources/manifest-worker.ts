// The manifest parser thread: reads and parses the files of the manifests directory, so a
// large or hostile file costs this thread's time and memory, never the data plane's.
import { parentPort } from 'node:worker_threads';
import { readManifestFile } from './manifest-files.ts';
import { parseManifest } from './manifests.ts';
import type { ParseRequest, ParseResult } from './manifest-parser.ts';

/** Stamps of the files parsed last, so an unchanged file is neither parsed nor sent again. */
const stamps = new Map<string, string>();

parentPort!.on('message', async (request: ParseRequest) => {
  const listed = new Set(request.files);
  for (const file of stamps.keys()) if (!listed.has(file)) stamps.delete(file);
  for (const file of request.files) {
    const read = await readManifestFile(request.dir, file, request.maxBytes);
    let result: ParseResult;
    if (read.kind !== 'text') {
      stamps.delete(file);
      result = { file, ...read };
    } else if (stamps.get(file) === read.stamp) {
      result = { file, kind: 'unchanged' };
    } else {
      stamps.set(file, read.stamp);
      result = { file, kind: 'parsed', parsed: parseManifest(read.text, file) };
    }
    parentPort!.postMessage(result);
  }
  parentPort!.postMessage({ done: request.id });
});
