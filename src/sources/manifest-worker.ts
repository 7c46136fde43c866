// The manifest parser thread: reads and parses the files of the manifests directory, so a
// large or hostile file costs this thread's time and memory, never the data plane's.
import { parentPort } from 'node:worker_threads';
import { realpathSync } from 'node:fs';
import { readManifestFile } from './manifest-files.ts';
import { parseManifest } from './manifests.ts';
import type { ParseRequest, ParseResult } from './manifest-parser.ts';

parentPort!.on('message', (request: ParseRequest) => {
  let parsedBytes = 0;
  let realDir: string;
  try {
    realDir = realpathSync(request.dir);
  } catch {
    realDir = request.dir; // gone: every read below says so
  }
  let batch: ParseResult[] = [];
  for (const file of request.files) {
    const read = readManifestFile(request.dir, realDir, file, request.maxBytes, request.stamps[file]);
    let result: ParseResult;
    if (read.kind !== 'text') {
      // 'unchanged': the caller has this version already; neither read, parsed nor sent again.
      result = { file, ...read };
    } else {
      parsedBytes += read.text.length;
      result = { file, kind: 'parsed', parsed: parseManifest(read.text, file), stamp: read.stamp };
    }
    batch.push(result);
    if (batch.length >= request.batch) {
      // As JSON text: the receiving thread (the data plane's) parses that faster than it
      // deserialises a structured clone, and Kubernetes objects are JSON anyway.
      parentPort!.postMessage(JSON.stringify(batch));
      batch = [];
    }
  }
  if (batch.length > 0) parentPort!.postMessage(JSON.stringify(batch));
  parentPort!.postMessage(JSON.stringify({ done: request.id, parsedBytes }));
});
