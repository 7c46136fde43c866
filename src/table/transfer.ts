import ipaddr from 'ipaddr.js';
import RE2 from 're2';
import { PatternSet } from './pattern-set.ts';
import type { RoutingTable } from './types.ts';

/**
 * A routing table crosses to the worker threads by structured clone, which copies plain data,
 * Maps, Sets and arrays but drops the prototype of a class instance and refuses functions. The
 * table's few compiled parts (RE2 regexes, PatternSets, ipaddr.js addresses) therefore travel as
 * their source and are compiled again on arrival, once per table, never per request. Anything else
 * that is not plain data is an error at the sender, naming where it is, instead of a method
 * missing at request time.
 */

/** The marker key of a compiled part; no key of plain table data contains a colon (header names cannot). */
const COMPILED = 'portico:compiled';

type Compiled =
  | { [COMPILED]: 're2'; source: string; flags: string }
  | { [COMPILED]: 'patterns'; patterns: readonly string[] }
  | { [COMPILED]: 'ip'; text: string };

/** The table as plain data, ready for `postMessage`; the same object graph (shared objects stay shared). */
export type TransferableTable = { readonly transferable: unknown };

export function encodeTable(table: RoutingTable): TransferableTable {
  const seen = new Map<object, unknown>();
  const encode = (value: unknown, path: string): unknown => {
    if (typeof value === 'function') throw new Error(`routing table transfer: ${path} is a function`);
    if (value === null || typeof value !== 'object') return value;
    const known = seen.get(value);
    if (known !== undefined) return known;
    let out: unknown;
    if (Array.isArray(value)) {
      const items: unknown[] = [];
      seen.set(value, items);
      for (let i = 0; i < value.length; i++) items.push(encode(value[i], `${path}[${i}]`));
      out = items;
    } else if (value instanceof Map) {
      const map = new Map();
      seen.set(value, map);
      for (const [k, v] of value) map.set(encode(k, `${path} key`), encode(v, `${path}.get(${String(k)})`));
      out = map;
    } else if (value instanceof Set) {
      const set = new Set();
      seen.set(value, set);
      for (const v of value) set.add(encode(v, `${path} member`));
      out = set;
    } else if (value instanceof RE2) {
      out = { [COMPILED]: 're2', source: value.source, flags: value.flags } satisfies Compiled;
    } else if (value instanceof PatternSet) {
      out = { [COMPILED]: 'patterns', patterns: value.patterns } satisfies Compiled;
    } else if (value instanceof ipaddr.IPv4 || value instanceof ipaddr.IPv6) {
      out = { [COMPILED]: 'ip', text: value.toString() } satisfies Compiled;
    } else {
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) throw new Error(`routing table transfer: ${path} is a ${proto?.constructor?.name ?? 'class instance'}, not plain data`);
      const record: Record<string, unknown> = {};
      seen.set(value, record);
      for (const [k, v] of Object.entries(value)) record[k] = encode(v, `${path}.${k}`);
      out = record;
    }
    seen.set(value, out);
    return out;
  };
  return { transferable: encode(table, 'table') };
}

/**
 * Compiles a structured-cloned table again, in place (the clone belongs to the receiver). One
 * decoder per receiver: a PatternSet whose paths did not change since the last table is reused.
 */
export class TableDecoder {
  private patternSets = new Map<string, PatternSet>();

  decode(encoded: TransferableTable): RoutingTable {
    const seen = new Map<object, unknown>();
    const used = new Map<string, PatternSet>();
    const compile = (c: Compiled): unknown => {
      switch (c[COMPILED]) {
        case 're2': return new RE2(c.source, c.flags);
        case 'ip': return ipaddr.parse(c.text);
        case 'patterns': {
          const key = JSON.stringify(c.patterns);
          const set = this.patternSets.get(key) ?? used.get(key) ?? new PatternSet(c.patterns);
          used.set(key, set);
          return set;
        }
      }
    };
    const decode = (value: unknown): unknown => {
      if (value === null || typeof value !== 'object') return value;
      const known = seen.get(value);
      if (known !== undefined) return known;
      if (COMPILED in value) {
        const compiled = compile(value as Compiled);
        seen.set(value, compiled);
        return compiled;
      }
      seen.set(value, value);
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) value[i] = decode(value[i]);
      } else if (value instanceof Map) {
        for (const [k, v] of value) value.set(k, decode(v));
      } else if (value instanceof Set) {
        const members = [...value].map(decode);
        value.clear();
        for (const m of members) value.add(m);
      } else {
        const record = value as Record<string, unknown>;
        for (const k of Object.keys(record)) record[k] = decode(record[k]);
      }
      return value;
    };
    const table = decode(encoded.transferable) as RoutingTable;
    this.patternSets = used;
    return table;
  }
}
