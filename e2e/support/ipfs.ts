// The few Kubo RPC calls the suites need, over plain fetch. kubo-rpc-client is
// not loaded into the test VM: under Jest's ESM VM, once several suites share a
// process its adds come back empty ("Invalid body") for the later suites, so
// the one add that must go through it runs in a child process.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

async function rpc(api: string, command: string, params: Record<string, string>, init: RequestInit = {}): Promise<Response> {
  const url = new URL(`/api/v0/${command}`, api);
  for (const [k, v] of Object.entries(params)) url.searchParams.append(k, v);
  const res = await fetch(url, { method: 'POST', ...init });
  if (!res.ok) throw new Error(`${command} at ${api}: HTTP ${res.status} ${await res.text()}`);
  return res;
}

/**
 * Adds one blob as the gateways do (CIDv1, raw leaves) and returns its CID;
 * works against Kubo and Cluster's IPFS proxy.
 */
export async function ipfsAdd(api: string, bytes: Uint8Array): Promise<string> {
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(bytes)]), 'blob');
  const res = await rpc(api, 'add', { 'cid-version': '1', 'raw-leaves': 'true', progress: 'false' }, { body: form });
  // One JSON object per line; the last one names the added file.
  const lines = (await res.text()).trim().split('\n');
  const last = JSON.parse(lines[lines.length - 1]) as { Hash?: string };
  if (!last.Hash) throw new Error(`add at ${api}: no Hash in ${lines[lines.length - 1]}`);
  return last.Hash;
}

export async function ipfsCat(api: string, cid: string, timeoutMs = 60_000): Promise<Buffer> {
  const res = await rpc(api, 'cat', { arg: cid }, { signal: AbortSignal.timeout(timeoutMs) });
  return Buffer.from(await res.arrayBuffer());
}

export async function ipfsId(api: string): Promise<string> {
  const res = await rpc(api, 'id', {});
  return ((await res.json()) as { ID: string }).ID;
}

/** Resolves when the connection is made; rejects with Kubo's error otherwise. */
export async function ipfsSwarmConnect(api: string, multiaddr: string, timeoutMs: number): Promise<void> {
  await rpc(api, 'swarm/connect', { arg: multiaddr, timeout: `${timeoutMs}ms` }, { signal: AbortSignal.timeout(timeoutMs + 5_000) });
}

export async function ipfsSwarmPeers(api: string): Promise<string[]> {
  const res = await rpc(api, 'swarm/peers', {});
  const body = (await res.json()) as { Peers: { Peer: string }[] | null };
  return (body.Peers ?? []).map((p) => p.Peer);
}

/** Adds one blob with kubo-rpc-client itself, in a plain Node process. */
export function kuboRpcClientAdd(api: string, bytes: Uint8Array): Promise<string> {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'kubo-rpc-add.mjs');
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, [script, api], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`kubo-rpc-client add at ${api} failed: ${stderr.trim() || err.message}`, { cause: err }));
      else resolve(stdout.trim());
    });
    child.stdin?.end(Buffer.from(bytes));
  });
}
