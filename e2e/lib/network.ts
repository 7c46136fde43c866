import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { criLoggedDaemon, daemon, run, stopProcess, waitUntil } from './exec.ts';

/**
 * Pods the cni0 way: one network namespace per pod, a veth pair into a bridge, addresses
 * from a pod CIDR. The API server refuses loopback endpoints, so this is how the e2e suite
 * gets real pod IPs; Portico reaches them from the root namespace like a hostNetwork pod.
 */
export interface Pod {
  name: string;
  ip: string;
  port: number;
  netns: string;
  process: ChildProcess;
}

/** A pod's network namespace and its address on the bridge. */
export interface Sandbox {
  name: string;
  ip: string;
  netns: string;
  index: number;
}

export class PodNetwork {
  /** Every pod address is inside this range; a blackhole route keeps it on this machine. */
  static readonly POD_RANGE = '10.244.0.0/16';
  readonly bridge: string;
  readonly subnet: number;
  readonly gateway: string;
  private readonly pods: Pod[] = [];
  private readonly logDir: string;
  private next = 10;
  /** Addresses of removed sandboxes, given out again. */
  private readonly free: number[] = [];

  constructor(logDir: string, subnet = 77, bridge = 'ptc0') {
    this.logDir = logDir;
    this.subnet = subnet;
    this.bridge = bridge;
    this.gateway = `10.244.${subnet}.1`;
  }

  async setUp(): Promise<void> {
    await this.tearDown(); // leftovers of an interrupted run
    // Safety net first: nothing for the pod range may ever leave this machine. The bridge's
    // own /24 is more specific, so pods stay reachable.
    await run('ip', ['route', 'replace', 'blackhole', PodNetwork.POD_RANGE]);
    await run('ip', ['link', 'add', this.bridge, 'type', 'bridge']);
    await run('ip', ['addr', 'add', `${this.gateway}/24`, 'dev', this.bridge]);
    await run('ip', ['link', 'set', this.bridge, 'up']);
  }

  /** Starts a pod: a namespace with its own address, running the e2e echo server. */
  async startPod(name: string, port = 8080): Promise<Pod> {
    const sandbox = await this.sandbox(name);
    const server = join(import.meta.dirname, 'pod-server.ts');
    const process_ = this.exec(sandbox, [process.execPath, server, name, String(port)], {}, join(this.logDir, `pod-${name}.log`));
    const pod: Pod = { name, ip: sandbox.ip, port, netns: sandbox.netns, process: process_ };
    this.pods.push(pod);
    await waitUntil(`pod ${name} at ${sandbox.ip}:${port}`, async () => (await fetch(`http://${sandbox.ip}:${port}/`)).ok, 20_000, 100);
    return pod;
  }

  /** Another address of the node on the bridge (below the pods' range, which starts at .10). */
  async addNodeAddress(n: number): Promise<string> {
    if (n < 2 || n >= 10) throw new Error(`node address .${n}: only .2 to .9 are below the pods' range`);
    const ip = `10.244.${this.subnet}.${n}`;
    await run('ip', ['addr', 'replace', `${ip}/24`, 'dev', this.bridge]);
    return ip;
  }

  /** A pod's sandbox: a network namespace with an address of its own on the bridge. */
  async sandbox(name: string): Promise<Sandbox> {
    const n = this.free.pop() ?? this.next++;
    if (n > 250) throw new Error(`pod network ${this.subnet}: no address left for ${name}`);
    const sandbox = { name, ip: `10.244.${this.subnet}.${n}`, netns: `ptc-${this.subnet}-${n}`, index: n };
    const host = `ptcv${this.subnet}x${n}`;
    await run('ip', ['netns', 'add', sandbox.netns]);
    await run('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', sandbox.netns]);
    await run('ip', ['link', 'set', host, 'master', this.bridge]);
    await run('ip', ['link', 'set', host, 'up']);
    const inNs = (...args: string[]) => run('ip', ['netns', 'exec', sandbox.netns, 'ip', ...args]);
    await inNs('addr', 'add', `${sandbox.ip}/24`, 'dev', 'eth0');
    await inNs('link', 'set', 'eth0', 'up');
    await inNs('link', 'set', 'lo', 'up');
    await inNs('route', 'add', 'default', 'via', this.gateway);
    return sandbox;
  }

  /** Runs a command inside a sandbox; its output goes to `logFile`. */
  /** A process in the sandbox; its output goes to `logFile` as is, or in the kubelet's CRI format. */
  exec(sandbox: Sandbox, argv: string[], env: Record<string, string>, logFile: string, format: 'raw' | 'cri' = 'raw'): ChildProcess {
    return (format === 'cri' ? criLoggedDaemon : daemon)('ip', ['netns', 'exec', sandbox.netns, ...argv], logFile, { ...process.env, ...env });
  }

  /** Deletes a sandbox (its veth goes with it) and frees its address. */
  async removeSandbox(sandbox: Sandbox): Promise<void> {
    await run('ip', ['netns', 'delete', sandbox.netns]).catch(() => {});
    this.free.push(sandbox.index);
  }

  async tearDown(): Promise<void> {
    await Promise.all(this.pods.map((p) => stopProcess(p.process)));
    for (const p of this.pods) await run('ip', ['netns', 'delete', p.netns]).catch(() => {});
    this.pods.length = 0;
    const leftover = (await run('ip', ['netns', 'list'])).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(`ptc-${this.subnet}-`));
    for (const ns of leftover) await run('ip', ['netns', 'delete', ns]).catch(() => {});
    await run('ip', ['link', 'delete', this.bridge]).catch(() => {});
    await run('ip', ['route', 'delete', 'blackhole', PodNetwork.POD_RANGE]).catch(() => {});
  }
}
