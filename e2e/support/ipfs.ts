// The few Kubo RPC and Cluster REST calls the suites need, over node:http:
// a hospital's Kubo RPC API is a unix socket (`unix:///…/api.sock`), which
// fetch() cannot reach.
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import path from 'node:path';
import { readSecret, type HospitalStatus } from './instance.js';

interface Answer {
  status: number;
  body: Buffer;
}

/** One HTTP request to `api` (http://host:port or unix:///path.sock), read whole. */
export function httpCall(
  api: string,
  pathAndQuery: string,
  init: { method?: string; headers?: Record<string, string>; body?: Buffer; timeoutMs?: number } = {},
): Promise<Answer> {
  const target = new URL(api);
  const socketPath = target.protocol === 'unix:' ? decodeURIComponent(target.pathname) : undefined;
  const url = new URL(pathAndQuery, socketPath ? 'http://kubo' : api);
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: init.method ?? 'POST',
      headers: init.headers,
      socketPath,
      signal: AbortSignal.timeout(init.timeoutMs ?? 60_000),
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

async function rpc(api: string, command: string, params: Record<string, string>, timeoutMs?: number): Promise<Buffer> {
  const query = new URLSearchParams(params).toString();
  const res = await httpCall(api, `/api/v0/${command}${query ? `?${query}` : ''}`, { timeoutMs });
  if (res.status !== 200) throw new Error(`${command} at ${api}: HTTP ${res.status} ${res.body.toString('utf8')}`);
  return res.body;
}

export async function ipfsCat(api: string, cid: string, timeoutMs = 60_000): Promise<Buffer> {
  return rpc(api, 'cat', { arg: cid }, timeoutMs);
}

export async function ipfsId(api: string): Promise<string> {
  return (JSON.parse((await rpc(api, 'id', {})).toString('utf8')) as { ID: string }).ID;
}

/** Every recursive pin of a Kubo node. */
export async function ipfsPins(api: string): Promise<string[]> {
  const { Keys } = JSON.parse((await rpc(api, 'pin/ls', { type: 'recursive' })).toString('utf8')) as { Keys: Record<string, unknown> };
  return Object.keys(Keys ?? {});
}

/** Resolves when the connection is made; rejects with Kubo's error otherwise. */
export async function ipfsSwarmConnect(api: string, multiaddr: string, timeoutMs: number): Promise<void> {
  await rpc(api, 'swarm/connect', { arg: multiaddr, timeout: `${timeoutMs}ms` }, timeoutMs + 5_000);
}

export async function ipfsSwarmPeers(api: string): Promise<string[]> {
  const body = JSON.parse((await rpc(api, 'swarm/peers', {})).toString('utf8')) as { Peers: { Peer: string }[] | null };
  return (body.Peers ?? []).map((p) => p.Peer);
}

/** Basic credentials of a hospital's Cluster REST API (its 0600 secret file). */
export function clusterAuth(h: HospitalStatus): string {
  const pass = readSecret(path.join(h.stateDir, 'secrets', 'cluster-rest'));
  return 'Basic ' + Buffer.from(`ehr-admin:${pass}`).toString('base64');
}

/** Adds one blob as the gateways do (Cluster REST /add: CIDv1, raw leaves, the cluster's replication). */
export async function clusterAdd(h: HospitalStatus, bytes: Uint8Array, pinOptions: Record<string, string> = {}): Promise<string> {
  const boundary = `e2e-${Date.now()}`;
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="blob"\r\nContent-Type: application/octet-stream\r\n\r\n`),
    Buffer.from(bytes),
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  const query = new URLSearchParams({ 'cid-version': '1', 'raw-leaves': 'true', 'stream-channels': 'false', ...pinOptions });
  const res = await httpCall(h.cluster.rest, `/add?${query}`, {
    headers: { authorization: clusterAuth(h), 'content-type': `multipart/form-data; boundary=${boundary}` },
    body,
  });
  if (res.status !== 200) throw new Error(`Cluster add at ${h.name}: HTTP ${res.status} ${res.body.toString('utf8')}`);
  const out = JSON.parse(res.body.toString('utf8')) as { cid: string | { '/': string } }[];
  const cid = out.at(-1)?.cid;
  if (!cid) throw new Error(`Cluster add at ${h.name}: no CID in ${res.body.toString('utf8')}`);
  return typeof cid === 'string' ? cid : cid['/'];
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/**
 * Where a block lives in a hospital's Kubo repo: flatfs names a block file by the base32
 * (upper case, unpadded) of the CID's multihash, in a directory named by the two
 * characters before the last (`/repo/flatfs/shard/v1/next-to-last/2`).
 */
export function blockFile(h: HospitalStatus, cid: string): string {
  if (!cid.startsWith('b')) throw new Error(`not a base32 CIDv1: ${cid}`);
  const bytes: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of cid.slice(1)) {
    value = (value << 5) | BASE32.indexOf(ch);
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  // Skip the version and codec varints; the rest is the multihash.
  let at = 0;
  for (let field = 0; field < 2; field++) while (bytes[at++] & 0x80);
  const multihash = Buffer.from(bytes.slice(at));
  let name = '';
  bits = 0;
  value = 0;
  for (const b of multihash) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      name += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) name += BASE32[(value << (5 - bits)) & 31];
  name = name.toUpperCase();
  return path.join(h.stateDir, 'kubo', 'blocks', name.slice(-3, -1), `${name}.data`);
}

/** Flips one byte of a file in place (the middle one unless told), as a failing disk would. */
export function flipByte(file: string, at?: number): void {
  const bytes = readFileSync(file);
  const i = at ?? bytes.length >> 1;
  bytes[i] ^= 0xff;
  writeFileSync(file, bytes);
}

/** The CIDs of every block of a blob, root first (`refs -r` over the unix socket; a single-block blob is just its CID). */
export async function ipfsBlocks(api: string, cid: string): Promise<string[]> {
  const out = (await rpc(api, 'refs', { arg: cid, recursive: 'true', unique: 'true' })).toString('utf8');
  const refs = out
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => (JSON.parse(l) as { Ref: string }).Ref);
  return [cid, ...refs];
}

/** Whether a node's repo holds the block itself (offline: never fetched from a peer for the question). */
export async function ipfsHasBlock(api: string, cid: string): Promise<boolean> {
  const res = await httpCall(api, `/api/v0/block/stat?arg=${encodeURIComponent(cid)}&offline=true`);
  if (res.status === 200) return true;
  const message = res.body.toString('utf8');
  if (/not found|could not find/i.test(message)) return false;
  throw new Error(`block/stat ${cid} at ${api}: HTTP ${res.status} ${message}`);
}
