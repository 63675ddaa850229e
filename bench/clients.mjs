// The clients the bench scripts drive the network with: REST calls to the gateways,
// bare fabric-gateway connections, and bare IPFS adds (Cluster REST or Kubo RPC).
import * as grpc from '@grpc/grpc-js';
import { connect, signers } from '@hyperledger/fabric-gateway';
import { createPrivateKey, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import path from 'node:path';

export async function call(url, init, expected) {
    const res = await fetch(url, init);
    const body = res.headers.get('content-type')?.includes('json') ? await res.json() : await res.arrayBuffer();
    if (res.status !== expected) throw new Error(`${init?.method ?? 'GET'} ${url}: ${res.status} ${JSON.stringify(body)}`);
    return body;
}
/**
 * Approves at the home hospital a request made at another: its peer may not have
 * committed the request's block yet (404 for a moment), so a 404 is asked again.
 */
export async function approve(home, requestId, patientToken) {
    const url = `${home.gatewayUrl}/api/v1/access-requests/${requestId}/approve`;
    for (let i = 0; ; i++) {
        const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${patientToken}` } });
        const body = await res.text();
        if (res.status === 200) return JSON.parse(body);
        if (res.status !== 404 || i >= 50) throw new Error(`POST ${url}: ${res.status} ${body}`);
        await new Promise((r) => setTimeout(r, 100));
    }
}
export const json = (tok, body) => ({ method: 'POST', headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

export function clusterAuth(h) {
    return 'Basic ' + Buffer.from(readFileSync(path.join(h.stateDir, 'secrets', 'cluster-rest-credentials'), 'utf8').trim()).toString('base64');
}

export async function pinnedOn(h, cid) {
    const res = await fetch(`${h.cluster.rest}/pins/${cid}`, { headers: { authorization: clusterAuth(h) } });
    if (!res.ok) return 0;
    const body = await res.json();
    return Object.values(body.peer_map ?? {}).filter((p) => p.status === 'pinned').length;
}

/**
 * A multipart add (CIDv1, raw leaves) to `api`: Cluster's REST /add, or Kubo's
 * RPC over its unix socket (`unix:///…/api.sock`); resolves with the root CID.
 */
export function ipfsAdd(api, pathAndQuery, data, headers = {}) {
    const target = new URL(api);
    const socketPath = target.protocol === 'unix:' ? decodeURIComponent(target.pathname) : undefined;
    const boundary = `bench-${randomUUID()}`;
    const body = Buffer.concat([
        Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="blob"\r\nContent-Type: application/octet-stream\r\n\r\n`),
        data,
        Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    return new Promise((resolve, reject) => {
        const req = httpRequest(new URL(pathAndQuery, socketPath ? 'http://kubo' : api), {
            method: 'POST',
            socketPath,
            headers: { ...headers, 'content-type': `multipart/form-data; boundary=${boundary}` },
        });
        req.on('response', (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => {
                const text = Buffer.concat(chunks).toString('utf8');
                if (res.statusCode !== 200) return reject(new Error(`add at ${api}: ${res.statusCode} ${text.slice(0, 200)}`));
                // Kubo answers NDJSON ({Hash}), Cluster a JSON array ({cid: {"/": …}}); the root is last.
                const last = text.trim().startsWith('[') ? JSON.parse(text).at(-1) : JSON.parse(text.trim().split('\n').at(-1));
                resolve(last.Hash ?? last.cid?.['/'] ?? last.cid);
            });
            res.on('error', reject);
        });
        req.on('error', reject);
        req.end(body);
    });
}

/** Time from the start of an add through Cluster until the blob is pinned on 2 peers. */
export async function replicationLag(h, bytes) {
    const data = randomBytes(bytes);
    const t = performance.now();
    const cid = await ipfsAdd(h.cluster.rest, '/add?cid-version=1&raw-leaves=true&stream-channels=false', data, {
        authorization: clusterAuth(h),
    });
    const added = performance.now() - t;
    while ((await pinnedOn(h, cid)) < 2) await new Promise((r) => setTimeout(r, 20));
    return { bytes, addMs: Number(added.toFixed(1)), pinnedOn2Ms: Number((performance.now() - t).toFixed(1)) };
}

export function fabricConnection(h) {
    const client = new grpc.Client(h.peer.endpoint, grpc.credentials.createSsl(readFileSync(path.join(h.stateDir, 'peer/tls/ca.crt'))), {
        'grpc.ssl_target_name_override': h.peer.tlsServerName,
    });
    const msp = path.join(h.stateDir, 'users/gateway/msp');
    const gateway = connect({
        client,
        identity: { mspId: h.mspId, credentials: readFileSync(path.join(msp, 'signcerts/cert.pem')) },
        signer: signers.newPrivateKeySigner(createPrivateKey(readFileSync(path.join(msp, 'keystore/key.pem')))),
    });
    const network = gateway.getNetwork('ehr');
    return { network, contract: network.getContract('ehr'), close: () => (gateway.close(), client.close()) };
}

