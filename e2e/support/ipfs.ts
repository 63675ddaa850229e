// The few Kubo RPC and Cluster REST calls the suites need, over node:http:
// a hospital's Kubo RPC API is a unix socket (`unix:///…/api.sock`), which
// fetch() cannot reach.
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
export async function clusterAdd(h: HospitalStatus, bytes: Uint8Array): Promise<string> {
  const boundary = `e2e-${Date.now()}`;
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="blob"\r\nContent-Type: application/octet-stream\r\n\r\n`),
    Buffer.from(bytes),
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  const res = await httpCall(h.cluster.rest, '/add?cid-version=1&raw-leaves=true&stream-channels=false', {
    headers: { authorization: clusterAuth(h), 'content-type': `multipart/form-data; boundary=${boundary}` },
    body,
  });
  if (res.status !== 200) throw new Error(`Cluster add at ${h.name}: HTTP ${res.status} ${res.body.toString('utf8')}`);
  const out = JSON.parse(res.body.toString('utf8')) as { cid: string | { '/': string } }[];
  const cid = out.at(-1)?.cid;
  if (!cid) throw new Error(`Cluster add at ${h.name}: no CID in ${res.body.toString('utf8')}`);
  return typeof cid === 'string' ? cid : cid['/'];
}
