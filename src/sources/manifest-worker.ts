// The manifest parser thread: reads and parses the files of the manifests directory, so a
// large or hostile file costs this thread's time and memory, never the data plane's.
import { parentPort } from 'node:worker_threads';
import { realpath } from 'node:fs/promises';
import { readManifestFile, type FileRead } from './manifest-files.ts';
import { parseManifest } from './manifests.ts';
import type { ParseRequest, ParseResult } from './manifest-parser.ts';

/** Files read ahead of the one being parsed: the reads' waits overlap the parsing. */
const READ_AHEAD = 16;

parentPort!.on('message', async (request: ParseRequest) => {
  let parsedBytes = 0;
  let realDir: string;
  try {
    realDir = await realpath(request.dir);
  } catch {
    realDir = request.dir; // gone: every read below says so
  }
  const reads: Promise<FileRead>[] = [];
  const readAt = (i: number): void => {
    const file = request.files[i];
    if (file !== undefined) reads[i] = readManifestFile(request.dir, realDir, file, request.maxBytes, request.stamps[file]);
  };
  for (let i = 0; i < READ_AHEAD; i++) readAt(i);
  for (const [index, file] of request.files.entries()) {
    readAt(index + READ_AHEAD);
    const read = await reads[index]!;
    delete reads[index];
    let result: ParseResult;
    if (read.kind !== 'text') {
      // 'unchanged': the caller has this version already; neither read, parsed nor sent again.
      result = { file, ...read };
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
