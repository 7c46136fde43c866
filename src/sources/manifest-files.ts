import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, realpathSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';

/** `--max-manifest-bytes`' default: far above any real manifest, far below what would hurt. */
export const DEFAULT_MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

export type FileRead =
  /** `stamp` changes whenever the file may have changed (inode, size, times). */
  | { readonly kind: 'text'; readonly text: string; readonly stamp: string }
  /** The file is there but must not be read; `reason` says why, without its content. */
  | { readonly kind: 'refused'; readonly reason: string }
  /** Removed (or renamed away) since the directory was listed. */
  | { readonly kind: 'gone' }
  /** The version the caller holds (same stamp): not read again. */
  | { readonly kind: 'unchanged' };

/**
 * Reads one manifest of the directory, refusing what could hurt the process: a symlink that
 * leaves the directory, anything but a regular file (a FIFO would block the read forever, a
 * device never ends), a file larger than `maxBytes`. Opened non-blocking and checked on the
 * open descriptor, so swapping the file for a FIFO between the check and the read changes nothing.
 * `realDir` is the directory's real path, resolved once per reload.
 *
 * Synchronous: it runs on the parser thread, where nothing else waits, and a promise per system
 * call cost ten times the calls themselves (a directory of 10,000 files took seconds to read).
 */
export function readManifestFile(dir: string, realDir: string, file: string, maxBytes: number, knownStamp?: string): FileRead {
  const path = join(dir, file);
  let real = path;
  let flags = constants.O_RDONLY | constants.O_NONBLOCK;
  try {
    // Only a symlink needs resolving (a listed name has no slash); anything else is opened with
    // O_NOFOLLOW, so a file swapped for a symlink after this check is not followed either.
    if (lstatSync(path).isSymbolicLink()) real = realpathSync(path);
    else flags |= constants.O_NOFOLLOW;
  } catch {
    return { kind: 'gone' };
  }
  const inside = relative(realDir, real);
  if (real !== path && (inside.startsWith('..') || isAbsolute(inside))) return { kind: 'refused', reason: 'is a symlink to a file outside the manifests directory; not read' };
  let fd;
  try {
    fd = openSync(real, flags);
  } catch {
    // Gone, or became a symlink since the check (ELOOP): the next reload looks again.
    return { kind: 'gone' };
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) return { kind: 'refused', reason: `is not a regular file (${kindOf(stat)}); not read` };
    if (stat.size > maxBytes) return { kind: 'refused', reason: `is ${stat.size} bytes, more than --max-manifest-bytes ${maxBytes}; not read` };
    if (stampOf(stat) === knownStamp) return { kind: 'unchanged' };
    // Read at most one byte past the limit: a file growing while we read is caught too.
    const buffer = Buffer.alloc(Math.min(stat.size, maxBytes) + 1);
    let length = 0;
    for (;;) {
      const bytesRead = readSync(fd, buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > maxBytes) return { kind: 'refused', reason: `grew past --max-manifest-bytes ${maxBytes} while being read; not read` };
      if (length === buffer.length) break;
    }
    return { kind: 'text', text: buffer.toString('utf8', 0, length), stamp: stampOf(stat) };
  } finally {
    closeSync(fd);
  }
}

/** Changes whenever the file may have changed: another inode, size or modification/change time. */
function stampOf(stat: { dev: number; ino: number; size: number; mtimeMs: number; ctimeMs: number }): string {
  return `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}`;
}

function kindOf(stat: { isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isDirectory(): boolean }): string {
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isSocket()) return 'a socket';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  if (stat.isDirectory()) return 'a directory';
  return 'not a regular file';
}
