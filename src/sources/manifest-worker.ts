// The manifest parser thread: reads and parses the files of the manifests directory, so a
// large or hostile file costs this thread's time and memory, never the data plane's.
import { parentPort } from 'node:worker_threads';
import { readManifestFile } from './manifest-files.ts';
import { parseManifest } from './manifests.ts';
import type { ParseRequest, ParseResult } from './manifest-parser.ts';

parentPort!.on('message', async (request: ParseRequest) => {
  let parsedBytes = 0;
  for (const file of request.files) {
    const read = await readManifestFile(request.dir, file, request.maxBytes);
    let result: ParseResult;
    if (read.kind !== 'text') {
      result = { file, ...read };
    } else if (request.stamps[file] === read.stamp) {
      // The caller has this version already: neither parsed nor sent again.
      result = { file, kind: 'unchanged' };
    } else {
      parsedBytes += read.text.length;
      result = { file, kind: 'parsed', parsed: parseManifest(read.text, file), stamp: read.stamp };
    }
    // As JSON text: the receiving thread (the data plane's) parses that faster than it
    // deserialises a structured clone, and Kubernetes objects are JSON anyway.
    parentPort!.postMessage(JSON.stringify(result));
  }
  parentPort!.postMessage(JSON.stringify({ done: request.id, parsedBytes }));
});
