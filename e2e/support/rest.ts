/* eslint-disable @typescript-eslint/no-explicit-any -- reply bodies are untyped JSON; the tests narrow them with expectations */
import { generateKeyPairSync, sign } from 'node:crypto';
import { hospital, networkOn, status, testInstance, type InstanceRef, type InstanceStatus } from './instance.js';

/** A role a dev token can carry (DESIGN §7). */
export type Role = 'clinician' | 'patient' | 'auditor' | 'admin' | 'researcher';

/** A response, read whole: its status, headers, raw bytes and (when it is JSON) the parsed body. */
export interface Reply<T = any> {
  status: number;
  headers: Headers;
  contentType: string;
  bytes: Buffer;
  body: T;
}

/** RFC 9457 problem details as the gateway answers them. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  [extension: string]: unknown;
}

const tokenCache = new Map<string, string>();

/** A dev JWT from `network.sh token` for hospital n's gateway of the test instance (cached per hospital, sub and role). */
export async function token(n: number, sub: string, role: Role, ttlSeconds?: number): Promise<string> {
  const key = `${n}|${sub}|${role}`;
  if (ttlSeconds === undefined && tokenCache.has(key)) return tokenCache.get(key)!;
  const jwt = await tokenOn(testInstance, n, sub, role, ttlSeconds);
  if (ttlSeconds === undefined) tokenCache.set(key, jwt);
  return jwt;
}

/** A dev JWT from `network.sh token` for hospital n's gateway of any instance. */
export async function tokenOn(target: InstanceRef, n: number, sub: string, role: Role, ttlSeconds?: number): Promise<string> {
  const args = ['token', `hospital${n}`, sub, role, ...(ttlSeconds === undefined ? [] : ['--ttl', String(ttlSeconds)])];
  const jwt = (await networkOn(target, ...args)).trim();
  if (!/^[\w-]+\.[\w-]+\.[\w-]+$/.test(jwt)) throw new Error(`network.sh token printed no JWT: ${jwt}`);
  return jwt;
}

/** The claims of a JWT (not verified: for crafting test tokens). */
export function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** Signs the given claims ES256 with a key of our own: a token no identity provider issued. */
export function forgeToken(claims: Record<string, unknown>): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${b64({ alg: 'ES256', typ: 'JWT' })}.${b64(claims)}`;
  const signature = sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

/** The same token with one signature byte flipped. */
export function tamperSignature(jwt: string): string {
  const [h, p, s] = jwt.split('.');
  const sig = Buffer.from(s, 'base64url');
  sig[sig.length >> 1] ^= 0x01;
  return `${h}.${p}.${sig.toString('base64url')}`;
}

export interface CallOptions {
  /** Bearer token; omitted: no Authorization header. */
  token?: string;
  /** A JSON value (serialised), or raw bytes/string sent as they are. */
  json?: unknown;
  body?: Buffer | Uint8Array | string;
  headers?: Record<string, string>;
}

/** A client of the hospital gateways of the test instance. */
export class Rest {
  constructor(readonly instance: InstanceStatus) {}

  static async open(): Promise<Rest> {
    return new Rest(await status());
  }

  url(n: number): string {
    return hospital(this.instance, n).gatewayUrl;
  }

  mspId(n: number): string {
    return hospital(this.instance, n).mspId;
  }

  /** One HTTP call to hospital n's gateway, read whole. */
  async call<T = any>(n: number, method: string, path: string, options: CallOptions = {}): Promise<Reply<T>> {
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    let body: BodyInit | undefined;
    if (options.json !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.body !== undefined) {
      body = typeof options.body === 'string' ? options.body : new Uint8Array(options.body);
    }
    const res = await fetch(this.url(n) + path, { method, headers, body });
    const bytes = Buffer.from(await res.arrayBuffer());
    const contentType = res.headers.get('content-type') ?? '';
    let parsed: unknown = undefined;
    if (/^application\/(?:[\w.+-]+\+)?json\b/.test(contentType) && bytes.length > 0) {
      parsed = JSON.parse(bytes.toString('utf8'));
    }
    return { status: res.status, headers: res.headers, contentType, bytes, body: parsed as T };
  }
}

/** Stores a document for a patient at hospital n's gateway; the store's answer, whatever its status. */
export function storeDocument(rest: Rest, n: number, token: string, patientId: string, bytes: Uint8Array, query: string): Promise<Reply> {
  return rest.call(n, 'POST', `/api/v1/patients/${patientId}/records?${query}`, {
    token,
    body: bytes,
    headers: { 'content-type': 'application/octet-stream' },
  });
}

/**
 * One HTTP call with a body exactly as given (FormData, Blob, bytes, or none) and only the
 * headers given: fetch adds a Content-Type only for FormData (multipart, with its boundary)
 * and strings, so a Uint8Array body goes with no Content-Type at all.
 */
export async function send<T = any>(rest: Rest, n: number, method: string, path: string, init: { token?: string; body?: BodyInit; headers?: Record<string, string> } = {}): Promise<Reply<T>> {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
  const res = await fetch(rest.url(n) + path, { method, headers, body: init.body });
  const bytes = Buffer.from(await res.arrayBuffer());
  const contentType = res.headers.get('content-type') ?? '';
  const parsed = /^application\/(?:[\w.+-]+\+)?json\b/.test(contentType) && bytes.length > 0 ? JSON.parse(bytes.toString('utf8')) : undefined;
  return { status: res.status, headers: res.headers, contentType, bytes, body: parsed as T };
}

/** Describes a reply for a failed expectation: status, content type and a prefix of the body. */
export function describeReply(r: Reply): string {
  const text = r.bytes.subarray(0, 600).toString('utf8');
  return `${r.status} ${r.contentType} ${/json/.test(r.contentType) ? text : `<${r.bytes.length} bytes>`}`;
}

/**
 * Asserts that a reply is an RFC 9457 problem with the given status, and returns it.
 * The status is checked through a readable string so a mismatch shows the gateway's answer.
 */
export function expectProblem(r: Reply, status: number): Problem {
  expect(`${r.status} ${describeReply(r)}`).toMatch(new RegExp(`^${status} `));
  expect(r.contentType).toMatch(/^application\/problem\+json/);
  const p = r.body as Problem;
  expect(p).toEqual(expect.objectContaining({ type: expect.any(String), title: expect.any(String), status, detail: expect.any(String) }));
  return p;
}

/** Asserts a success status (showing the problem when it is not one) and returns the body. */
export function expectStatus<T = any>(r: Reply<T>, status: number): T {
  expect(`${r.status} ${describeReply(r)}`).toMatch(new RegExp(`^${status} `));
  return r.body;
}
