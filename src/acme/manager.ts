import { createHash } from 'node:crypto';
import { Agent, get as httpsGet } from 'node:https';
import { getCACertificates } from 'node:tls';
import * as acme from 'acme-client';
import { ApiException, type CoordinationV1Api, type CoreV1Api, type CustomObjectsApi, type V1Ingress, type V1Secret } from '@kubernetes/client-node';
import { readTlsSecret } from '../routing/tls.ts';
import type { EventRecorder } from '../cluster/events.ts';
import { tryLock } from '../cluster/lease-lock.ts';
import type { Logger } from '../log.ts';
import type { ObjectSnapshot } from '../snapshot.ts';
import { objectKey } from '../snapshot.ts';
import type { ChallengeStore } from './challenges.ts';
import { ACME_GROUP, ACME_PLURAL, ACME_VERSION, readIssuer, type ACMEIssuerObject, type Issuer } from './issuers.ts';

const ISSUER_ANNOTATION = 'portico.dev/acme-issuer';
const TLS_ACME_ANNOTATION = 'kubernetes.io/tls-acme';
const BACKOFF_MIN_MS = 10_000;
const BACKOFF_MAX_MS = 3600_000;
const LOCK_SECONDS = 60;

// acme-client retries every failed HTTP request up to 5 times, 5 s × attempt apart (75 s in
// all); an unreachable directory would stay silent for minutes. Fail within seconds instead:
// orders are retried with our own back-off, and the error reaches Events and the issuer status.
const acmeSettings = (acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number; retryDefaultDelay: number } }).acmeSettings;
acmeSettings.retryMaxAttempts = 2;
acmeSettings.retryDefaultDelay = 1;

/** A certificate some Ingress asks for: one per `spec.tls[]` entry with an issuer. */
export interface WantedCertificate {
  key: string;
  namespace: string;
  secretName: string;
  hosts: string[];
  issuer: string;
  ingress: { kind: 'Ingress'; namespace: string; name: string; uid: string | undefined };
}

/** Renew when less than a third of the lifetime is left (Let's Encrypt's own advice). */
export function needsCertificate(secret: V1Secret | undefined, w: WantedCertificate, now = Date.now()): string | undefined {
  const current = readTlsSecret(secret, w.key);
  if (typeof current === 'string') return 'no usable certificate yet';
  const missing = w.hosts.filter((h) => !current.subjectAltNames.includes(h.toLowerCase()));
  if (missing.length) return `the certificate does not cover ${missing.join(', ')}`;
  const from = Date.parse(current.notBefore);
  const until = Date.parse(current.notAfter);
  if (now > until - (until - from) / 3) return `a third of its lifetime is left (expires ${current.notAfter})`;
  return undefined;
}

/** The certificates our Ingresses ask for; the oldest Ingress names the issuer of a Secret. */
export function wantedCertificates(ingresses: readonly V1Ingress[], defaultIssuer: string | undefined): WantedCertificate[] {
  const wanted = new Map<string, WantedCertificate>();
  for (const ingress of ingresses) {
    const a = ingress.metadata?.annotations ?? {};
    const issuer = a[ISSUER_ANNOTATION] ?? (a[TLS_ACME_ANNOTATION] === 'true' ? defaultIssuer : undefined);
    if (!issuer) continue;
    const namespace = ingress.metadata?.namespace ?? 'default';
    for (const entry of ingress.spec?.tls ?? []) {
      if (!entry.secretName || !entry.hosts?.length) continue;
      const key = objectKey(namespace, entry.secretName);
      if (wanted.has(key)) continue;
      wanted.set(key, {
        key, namespace, secretName: entry.secretName, hosts: [...entry.hosts].sort(), issuer,
        ingress: { kind: 'Ingress', namespace, name: ingress.metadata?.name ?? '', uid: ingress.metadata?.uid },
      });
    }
  }
  return [...wanted.values()];
}

export interface AcmeDeps {
  core: CoreV1Api;
  coordination: CoordinationV1Api;
  customObjects: CustomObjectsApi;
  challenges: ChallengeStore;
  events: EventRecorder;
  /** Portico's own namespace: per-certificate Leases and default Secret namespaces. */
  namespace: string;
  identity: string;
  isLeader: () => boolean;
  log: Logger;
}

/**
 * Obtains and renews certificates over ACME (HTTP-01, answered by our own data plane) for
 * Ingresses that ask for them, and writes them to the Secret their TLS entry names; every
 * replica then serves them through its Secret watch. Each order runs under a Lease of its
 * own, so with several replicas exactly one orders a given certificate at a time.
 */
export class AcmeManager {
  private readonly deps: AcmeDeps;
  private issuers = new Map<string, Issuer>();
  private readonly inFlight = new Set<string>();
  private readonly backoff = new Map<string, { until: number; delay: number }>();
  private readonly registered = new Map<string, number>();
  private snapshot: ObjectSnapshot | undefined;
  private ours: readonly V1Ingress[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(deps: AcmeDeps) {
    this.deps = deps;
  }

  start(): void {
    // Renewals come due without any change in the cluster: look again every minute.
    this.timer = setInterval(() => this.reconcile(), 60_000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  setIssuers(objects: readonly ACMEIssuerObject[]): void {
    const issuers = new Map<string, Issuer>();
    for (const o of objects) {
      const issuer = readIssuer(o, this.deps.namespace);
      if (typeof issuer === 'string') this.deps.log.warn(issuer);
      else issuers.set(issuer.name, issuer);
    }
    this.issuers = issuers;
    // acme-client sends everything through one axios instance: trust the system roots plus every issuer's CA bundle.
    const bundles = [...issuers.values()].flatMap((i) => (i.caBundle ? [i.caBundle] : []));
    acme.axios.defaults.httpsAgent = new Agent({ ca: [...getCACertificates('default'), ...bundles], keepAlive: true });
    for (const o of objects) this.registerIfNeeded(o);
    this.reconcile();
  }

  setSnapshot(snapshot: ObjectSnapshot, ours: readonly V1Ingress[]): void {
    this.snapshot = snapshot;
    this.ours = ours;
    this.reconcile();
  }

  private reconcile(): void {
    if (!this.snapshot) return;
    const defaultIssuer = [...this.issuers.values()].find((i) => i.isDefault)?.name;
    for (const w of wantedCertificates(this.ours, defaultIssuer)) {
      if (this.inFlight.has(w.key)) continue;
      const wait = this.backoff.get(w.key);
      if (wait && wait.until > Date.now()) continue;
      const reason = needsCertificate(this.snapshot.secrets.get(w.key), w);
      if (!reason) continue;
      void this.obtain(w, reason);
    }
  }

  private async obtain(w: WantedCertificate, reason: string): Promise<void> {
    const { log, coordination, namespace, identity } = this.deps;
    this.inFlight.add(w.key);
    const lockName = `portico-acme-${createHash('sha256').update(w.key).digest('hex').slice(0, 16)}`;
    try {
      const issuer = this.issuers.get(w.issuer);
      if (!issuer) throw new Error(`ACMEIssuer "${w.issuer}" does not exist`);
      const lock = await tryLock(coordination, namespace, lockName, identity, LOCK_SECONDS);
      if (!lock) return; // another replica orders it; its Secret reaches us through the watch
      try {
        // The Secret may have been written by another replica since our snapshot: ask the API server.
        const fresh = await this.readSecret(w.namespace, w.secretName);
        const still = needsCertificate(fresh, w);
        if (!still) return;
        log.info({ secret: w.key, hosts: w.hosts, issuer: issuer.name, reason: still }, 'ordering a certificate over ACME');
        const started = Date.now();
        const { cert, key } = await this.order(issuer, w.hosts);
        await this.writeSecret(w, issuer, fresh, cert, key);
        this.backoff.delete(w.key);
        log.info({ secret: w.key, hosts: w.hosts, issuer: issuer.name, ms: Date.now() - started }, 'certificate issued and stored');
        void this.deps.events.emit(w.ingress, 'CertificateIssued', `certificate for ${w.hosts.join(', ')} issued by ACMEIssuer ${issuer.name} and stored in Secret ${w.secretName}`, 'Normal');
      } finally {
        await lock.release();
      }
    } catch (err) {
      const message = errorMessage(err);
      const previous = this.backoff.get(w.key)?.delay ?? 0;
      const delay = Math.min(previous ? previous * 2 : BACKOFF_MIN_MS, BACKOFF_MAX_MS);
      this.backoff.set(w.key, { until: Date.now() + delay, delay });
      log.warn({ secret: w.key, hosts: w.hosts, issuer: w.issuer, err: message, retryInMs: delay, reason }, 'ACME order failed; backing off');
      void this.deps.events.emit(w.ingress, 'CertificateOrderFailed', `ACMEIssuer ${w.issuer}: ${message}; retrying in ${Math.round(delay / 1000)} s`, 'Warning');
      void this.setIssuerStatus(w.issuer, { lastError: `${w.key}: ${message}`.slice(0, 1024), lastErrorTime: new Date().toISOString() });
    } finally {
      this.inFlight.delete(w.key);
    }
  }

  private async order(issuer: Issuer, hosts: string[]): Promise<{ cert: string; key: Buffer }> {
    const client = await this.client(issuer);
    const [key, csr] = await acme.crypto.createCsr({ commonName: hosts[0]!, altNames: hosts });
    const cert = await client.auto({
      csr,
      email: issuer.email,
      termsOfServiceAgreed: true,
      challengePriority: ['http-01'],
      // The ACME server checks through our own data plane; no need to pre-check it ourselves.
      skipChallengeVerification: true,
      challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
        if (challenge.type !== 'http-01') throw new Error(`challenge ${challenge.type} is not supported`);
        await this.deps.challenges.publish(challenge.token, keyAuthorization);
      },
      challengeRemoveFn: async (_authz, challenge) => {
        await this.deps.challenges.withdraw(challenge.token);
      },
    });
    return { cert, key };
  }

  private async client(issuer: Issuer): Promise<acme.Client> {
    await checkDirectory(issuer.directoryURL);
    const accountKey = await this.accountKey(issuer);
    let externalAccountBinding;
    if (issuer.externalAccountBinding) {
      const s = issuer.externalAccountBinding.secret;
      const secret = await this.readSecret(s.namespace, s.name);
      const hmac = secret?.data?.[s.key];
      if (!hmac) throw new Error(`external account binding Secret ${s.namespace}/${s.name} has no key ${s.key}`);
      externalAccountBinding = { kid: issuer.externalAccountBinding.keyID, hmacKey: Buffer.from(hmac, 'base64').toString() };
    }
    // acme-client's own retries (polling, unreachable directory) start at 5 s and go on for minutes;
    // poll faster and fail sooner, since failed orders are retried here with our own back-off.
    return new acme.Client({ directoryUrl: issuer.directoryURL, accountKey, externalAccountBinding, backoffAttempts: 5, backoffMin: 500, backoffMax: 5000 });
  }

  /** The account key from its Secret, created (and the Secret with it) when absent. */
  private async accountKey(issuer: Issuer): Promise<Buffer> {
    const { namespace, name } = issuer.accountKeySecret;
    const existing = await this.readSecret(namespace, name);
    const pem = existing?.data?.['tls.key'];
    if (pem) return Buffer.from(pem, 'base64');
    const key = await acme.crypto.createPrivateKey();
    try {
      await this.deps.core.createNamespacedSecret({ namespace, body: {
        metadata: { name, namespace, annotations: { [ISSUER_ANNOTATION]: issuer.name } },
        type: 'Opaque',
        data: { 'tls.key': key.toString('base64') },
      } });
      return key;
    } catch (err) {
      if (err instanceof ApiException && err.code === 409) return this.accountKey(issuer); // another replica created it
      throw err;
    }
  }

  private async readSecret(namespace: string, name: string): Promise<V1Secret | undefined> {
    try {
      return await this.deps.core.readNamespacedSecret({ name, namespace });
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) return undefined;
      throw err;
    }
  }

  private async writeSecret(w: WantedCertificate, issuer: Issuer, existing: V1Secret | undefined, cert: string, key: Buffer): Promise<void> {
    const body: V1Secret = {
      metadata: {
        ...(existing?.metadata ?? {}),
        name: w.secretName,
        namespace: w.namespace,
        annotations: { ...existing?.metadata?.annotations, [ISSUER_ANNOTATION]: issuer.name, 'portico.dev/acme-hosts': w.hosts.join(',') },
      },
      type: 'kubernetes.io/tls',
      data: { 'tls.crt': Buffer.from(cert).toString('base64'), 'tls.key': key.toString('base64') },
    };
    if (existing) await this.deps.core.replaceNamespacedSecret({ name: w.secretName, namespace: w.namespace, body });
    else await this.deps.core.createNamespacedSecret({ namespace: w.namespace, body });
  }

  /** The leader registers each issuer's account once per generation and reports it in the issuer's status. */
  private registerIfNeeded(o: ACMEIssuerObject): void {
    if (!this.deps.isLeader()) return;
    const issuer = this.issuers.get(o.metadata?.name ?? '');
    if (!issuer) return;
    if (o.status?.registered && o.status.observedGeneration === issuer.generation) return;
    if (this.registered.get(issuer.name) === issuer.generation) return;
    this.registered.set(issuer.name, issuer.generation);
    void (async () => {
      try {
        const client = await this.client(issuer);
        await client.createAccount({ termsOfServiceAgreed: true, contact: [`mailto:${issuer.email}`] });
        await this.setIssuerStatus(issuer.name, { registered: true, accountURL: client.getAccountUrl(), lastError: '', observedGeneration: issuer.generation });
        this.deps.log.info({ issuer: issuer.name }, 'ACME account registered');
      } catch (err) {
        this.registered.delete(issuer.name); // try again on the next change or reconcile
        await this.setIssuerStatus(issuer.name, { registered: false, lastError: errorMessage(err).slice(0, 1024), lastErrorTime: new Date().toISOString(), observedGeneration: issuer.generation });
        this.deps.log.warn({ issuer: issuer.name, err: errorMessage(err) }, 'ACME account registration failed');
      }
    })();
  }

  /** Called when this replica becomes the leader: issuers not yet registered get registered now. */
  onLeadership(objects: readonly ACMEIssuerObject[]): void {
    for (const o of objects) this.registerIfNeeded(o);
  }

  private async setIssuerStatus(name: string, status: NonNullable<ACMEIssuerObject['status']>): Promise<void> {
    const api = this.deps.customObjects;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const current = (await api.getClusterCustomObject({ group: ACME_GROUP, version: ACME_VERSION, plural: ACME_PLURAL, name })) as ACMEIssuerObject;
        current.status = { ...current.status, ...status };
        await api.replaceClusterCustomObjectStatus({ group: ACME_GROUP, version: ACME_VERSION, plural: ACME_PLURAL, name, body: current });
        return;
      } catch (err) {
        if (err instanceof ApiException && err.code === 409) continue;
        this.deps.log.debug({ issuer: name, err: String(err) }, 'could not update the ACMEIssuer status');
        return;
      }
    }
  }
}

/**
 * Fetches the ACME directory once before acme-client does: acme-client turns a network error
 * into "Cannot read properties of undefined", and operators deserve "connect ECONNREFUSED".
 */
function checkDirectory(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // RFC 8555 §6.1: every request carries a User-Agent (pebble enforces it).
    const req = httpsGet(url, { agent: acme.axios.defaults.httpsAgent as Agent, timeout: 10_000, headers: { 'user-agent': 'portico' } }, (res) => {
      res.resume();
      if ((res.statusCode ?? 0) >= 400) reject(new Error(`ACME directory ${url} answered ${res.statusCode}`));
      else resolve();
    });
    req.on('timeout', () => req.destroy(new Error(`ACME directory ${url} did not answer within 10 s`)));
    req.on('error', (err) => reject(new Error(`ACME directory ${url} unreachable: ${err.message}`)));
  });
}

function errorMessage(err: unknown): string {
  if (err instanceof ApiException) return `API ${err.code}: ${typeof err.body === 'string' ? err.body : JSON.stringify(err.body)}`;
  if (err instanceof Error) return err.message;
  return String(err);
}
