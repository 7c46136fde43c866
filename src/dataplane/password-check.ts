import { createHash, timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { PasswordHash } from '../table/steps.ts';

/**
 * The hash libraries, loaded with the first password checked: most data planes never check one,
 * and each library is memory a process would hold for nothing.
 */
let hashLibraries: Promise<HashLibraries> | undefined;
interface HashLibraries {
  apacheCrypt: typeof import('apache-crypt').default;
  apacheMd5: typeof import('apache-md5').default;
  bcrypt: typeof import('bcryptjs').default;
  unixcrypt: typeof import('unixcrypt');
}
function libraries(): Promise<HashLibraries> {
  hashLibraries ??= Promise.all([import('apache-crypt'), import('apache-md5'), import('bcryptjs'), import('unixcrypt')])
    .then(([crypt, md5, bcrypt, unixcrypt]) => ({ apacheCrypt: crypt.default, apacheMd5: md5.default, bcrypt: bcrypt.default, unixcrypt }));
  return hashLibraries;
}

/**
 * Checks a password against an htpasswd hash with maintained implementations of each scheme
 * (bcryptjs; apache-md5 for `$apr1$`/`$1$`; unixcrypt for `$5$`/`$6$`; apache-crypt for DES),
 * comparing in constant time. bcrypt runs asynchronously, so a costly hash never blocks the
 * event loop; a password that matched is remembered for a while (by a digest, never in clear),
 * so a logged-in client does not pay bcrypt on every request.
 */
export class PasswordCheck {
  private readonly recent = new LRUCache<string, true>({ max: 10_000, ttl: 5 * 60_000 });

  async verify(password: string, stored: PasswordHash): Promise<boolean> {
    const memo = createHash('sha256').update(stored.hash).update('\0').update(password).digest('base64');
    if (this.recent.get(memo)) return true;
    const lib = await libraries();
    const ok = stored.scheme === 'bcrypt' ? await lib.bcrypt.compare(password, stored.hash) : verifySync(lib, password, stored);
    if (ok) this.recent.set(memo, true);
    return ok;
  }
}

function verifySync(lib: HashLibraries, password: string, stored: PasswordHash): boolean {
  try {
    switch (stored.scheme) {
      case 'apr1': case 'md5-crypt': return sameSecret(lib.apacheMd5(password, stored.hash), stored.hash);
      case 'sha256-crypt': case 'sha512-crypt': return lib.unixcrypt.verify(password, stored.hash);
      case 'des-crypt': return sameSecret(lib.apacheCrypt(password, stored.hash.slice(0, 2)), stored.hash);
      case 'sha1': return sameSecret(createHash('sha1').update(password).digest('base64'), stored.hash);
      case 'ssha': {
        const decoded = Buffer.from(stored.hash, 'base64');
        if (decoded.length <= 20) return false;
        const salt = decoded.subarray(20);
        return sameSecret(createHash('sha1').update(password).update(salt).digest(), decoded.subarray(0, 20));
      }
      case 'plain': return sameSecret(password, stored.hash);
      case 'bcrypt': return false;
    }
  } catch {
    return false; // a malformed salt: no password matches it
  }
}

/** Constant-time equality of two secrets of any lengths (compared as SHA-256 digests). */
function sameSecret(a: string | Buffer, b: string | Buffer): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}
