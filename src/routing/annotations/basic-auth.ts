import type { V1Secret } from '@kubernetes/client-node';
import type { BasicAuthPolicy, PasswordHash } from '../../table/steps.ts';
import type { Diagnostic } from '../../diagnostics.ts';
import type { AnnotationFamily } from './family.ts';
import { quote } from './reader.ts';

const PRINTABLE = /^[\x20-\x7e]*$/;
const SECRET_REF = /^(?:([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/)?([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/;
const DES_CRYPT = /^[./0-9A-Za-z]{13}$/;

/** The scheme of one htpasswd hash, by its prefix (nginx's ngx_crypt plus what musl's crypt(3) accepts). */
export function passwordHashOf(hash: string): PasswordHash | undefined {
  if (/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash)) return { scheme: 'bcrypt', hash };
  if (hash.startsWith('$apr1$')) return { scheme: 'apr1', hash };
  if (hash.startsWith('$1$')) return { scheme: 'md5-crypt', hash };
  if (hash.startsWith('$5$')) return { scheme: 'sha256-crypt', hash };
  if (hash.startsWith('$6$')) return { scheme: 'sha512-crypt', hash };
  if (hash.startsWith('{SHA}')) return { scheme: 'sha1', hash: hash.slice(5) };
  if (hash.startsWith('{SSHA}')) return { scheme: 'ssha', hash: hash.slice(6) };
  if (hash.startsWith('{PLAIN}')) return { scheme: 'plain', hash: hash.slice(7) };
  if (DES_CRYPT.test(hash)) return { scheme: 'des-crypt', hash };
  return undefined;
}

function decode(value: string | undefined): string | undefined {
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
}

/** Users and hashes from the Secret: an htpasswd file in key `auth`, or one key per user (`auth-map`). */
function readUsers(secret: V1Secret, type: 'auth-file' | 'auth-map', secretName: string, problems: Diagnostic[]): Map<string, PasswordHash> | string {
  const ref = { kind: 'Secret', namespace: secret.metadata?.namespace, name: secret.metadata?.name ?? '' };
  const entries: [string, string, string][] = [];
  if (type === 'auth-file') {
    const file = decode(secret.data?.['auth']);
    if (file === undefined) return `Secret ${secretName} has no key "auth" (an htpasswd file)`;
    file.split('\n').forEach((line, i) => {
      const text = line.trim();
      if (text === '' || text.startsWith('#')) return;
      const colon = text.indexOf(':');
      entries.push([text.slice(0, colon === -1 ? text.length : colon), colon === -1 ? '' : text.slice(colon + 1), `data[auth] line ${i + 1}`]);
    });
  } else {
    for (const [user, value] of Object.entries(secret.data ?? {})) entries.push([user, decode(value)!.trim(), `data[${user}]`]);
  }
  const users = new Map<string, PasswordHash>();
  for (const [user, hash, field] of entries) {
    const parsed = user === '' ? undefined : passwordHashOf(hash);
    if (!parsed) {
      problems.push({ severity: 'Warning', code: 'InvalidAuthSecret', object: ref, field, message: `user "${quote(user)}": not a user:hash line with a bcrypt, apr1, $1$, $5$, $6$, {SHA}, {SSHA}, {PLAIN} or DES crypt hash; this user cannot log in` });
      continue;
    }
    users.set(user, parsed);
  }
  return users;
}

/**
 * `auth-type: basic` with `auth-secret` (`name` or `namespace/name`), `auth-secret-type`
 * (`auth-file`, the default, or `auth-map`) and `auth-realm`: 401 with `WWW-Authenticate` unless
 * the client sends a listed user's password. The Authorization header is not forwarded.
 * Anything that keeps the check from working (digest, a missing Secret) fails closed: 503.
 */
export const basicAuth: AnnotationFamily = {
  name: 'basic-auth',
  annotations: ['auth-type', 'auth-secret', 'auth-secret-type', 'auth-realm'],
  scope: 'route',
  parse(read, context) {
    const type = read.get('auth-type');
    if (!type) {
      const orphan = read.get('auth-secret') ?? read.get('auth-realm') ?? read.get('auth-secret-type');
      if (orphan && !read.has('auth-url')) read.failClosed(orphan.key, 'auth-type is not set, so it is unclear which authentication was meant');
      return { route: { basicAuth: undefined } };
    }
    if (type.value !== 'basic') {
      read.failClosed(type.key, type.value === 'digest' ? 'digest authentication is not supported by Portico' : `"${quote(type.value)}" is not basic or digest`);
      return { route: { basicAuth: undefined } };
    }
    const secretValue = read.get('auth-secret');
    const match = secretValue && SECRET_REF.exec(secretValue.value);
    if (!secretValue || !match) {
      read.failClosed(secretValue?.key ?? type.key, secretValue ? `"${quote(secretValue.value)}" is not a Secret name or namespace/name` : 'auth-type basic needs auth-secret');
      return { route: { basicAuth: undefined } };
    }
    const secretName = `${match[1] ?? context.namespace}/${match[3]}`;
    const secretType = read.oneOf('auth-secret-type', ['auth-file', 'auth-map'] as const, 'auth-file');
    let realm = read.get('auth-realm')?.value ?? '';
    if (!PRINTABLE.test(realm)) {
      read.invalid(read.get('auth-realm')!.key, 'the realm must be printable ASCII', 'empty realm');
      realm = '';
    }
    const secret = context.snapshot?.secrets.get(secretName);
    if (!secret) {
      read.failClosed(secretValue.key, `Secret ${secretName} not found`);
      return { route: { basicAuth: undefined } };
    }
    const users = readUsers(secret, secretType, secretName, read.diagnostics);
    if (typeof users === 'string') {
      read.failClosed(secretValue.key, users);
      return { route: { basicAuth: undefined } };
    }
    const policy: BasicAuthPolicy = { challenge: `Basic realm="${realm.replace(/["\\]/g, '\\$&')}"`, users, secret: secretName };
    return { route: { basicAuth: policy } };
  },
  describe: (o) => ({ basicAuth: o.basicAuth ? { secret: o.basicAuth.secret, challenge: o.basicAuth.challenge, users: o.basicAuth.users.size } : null }),
  step: (o) => o.basicAuth && { kind: 'basic-auth', policy: o.basicAuth },
};
