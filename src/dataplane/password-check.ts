import { createHash, timingSafeEqual } from 'node:crypto';
import apacheCrypt from 'apache-crypt';
import apacheMd5 from 'apache-md5';
import bcrypt from 'bcryptjs';
import { LRUCache } from 'lru-cache';
import * as unixcrypt from 'unixcrypt';
import type { PasswordHash } from '../table/steps.ts';

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
    const ok = stored.scheme === 'bcrypt' ? await bcrypt.compare(password, stored.hash) : verifySync(password, stored);
    if (ok) this.recent.set(memo, true);
    return ok;
  }
}

function verifySync(password: string, stored: PasswordHash): boolean {
  try {
    switch (stored.scheme) {
      case 'apr1': case 'md5-crypt': return sameSecret(apacheMd5(password, stored.hash), stored.hash);
      case 'sha256-crypt': case 'sha512-crypt': return unixcrypt.verify(password, stored.hash);
      case 'des-crypt': return sameSecret(apacheCrypt(password, stored.hash.slice(0, 2)), stored.hash);
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
