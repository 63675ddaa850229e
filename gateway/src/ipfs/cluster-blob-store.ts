import { create, type KuboRPCClient } from 'kubo-rpc-client';
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ComponentHealth } from '../domain.js';
import { DependencyUnavailableError, type BlobStore, type PinLocation, type StoredBlob } from '../ports.js';
import { AllocationGate, AllocationUnavailableError, isAllocationFailure, type ClusterMetric } from './allocation-gate.js';

export interface ClusterBlobStoreOptions {
    /** The hospital's own Kubo RPC API: reads are served here (bitswap fetches missing blocks). */
    kuboApiUrl: string;
    /** Cluster's IPFS proxy: adds through it are pinned with the cluster's replication. */
    clusterProxyUrl: string;
    /** Cluster REST API, for pin status and unpinning. */
    clusterRestUrl: string;
    /** `user:password` for the Cluster REST API. */
    clusterCredentials?: string;
    /** Deadline of metadata calls; add and cat stream for as long as data flows. */
    timeoutMs: number;
    /** Fewest peers a new pin is allocated to (Cluster's replication_factor_min). */
    replicationMin: number;
    /** How a store waits for Cluster to be able to allocate its pin. */
    allocation: { metrics: string[]; waitMs: number; probeIntervalMs: number; trustMs: number };
}

/**
 * POSTs a stream with node:http, whose pipe honours the socket's backpressure:
 * measured on Node 20, fetch() with a streamed body read a slow upload far
 * ahead of the socket and held it all in memory.
 */
function postStreaming(url: URL, contentType: string, body: Readable, signal?: AbortSignal): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
            method: 'POST',
            headers: { 'content-type': contentType, 'transfer-encoding': 'chunked' },
            signal,
        });
        req.on('response', (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
            res.on('error', reject);
        });
        req.on('error', reject);
        pipeline(body, req).catch(reject);
    });
}

/** Cluster answered, but with an error status (not an outage). */
export class ClusterApiError extends Error {
    readonly status: number;

    constructor(message: string, status: number) {
        super(message);
        this.name = 'ClusterApiError';
        this.status = status;
    }
}

/**
 * Encrypted blobs in IPFS: added through IPFS Cluster's proxy, so each is pinned
 * on replication-min..max hospitals, and read from the hospital's own Kubo node.
 */
export class ClusterBlobStore implements BlobStore {
    readonly #reader: KuboRPCClient;
    readonly #options: ClusterBlobStoreOptions;
    readonly #auth: string | undefined;
    readonly #allocation: AllocationGate;

    constructor(options: ClusterBlobStoreOptions) {
        this.#options = options;
        this.#reader = create({ url: options.kuboApiUrl });
        this.#auth = options.clusterCredentials
            ? 'Basic ' + Buffer.from(options.clusterCredentials).toString('base64')
            : undefined;
        this.#allocation = new AllocationGate({
            ...options.allocation,
            replicationMin: options.replicationMin,
            latestMetrics: async (name, signal) =>
                ((await this.#rest('GET', `/monitor/metrics/${encodeURIComponent(name)}`, signal)) as ClusterMetric[] | null) ?? [],
        });
    }

    /**
     * Streams a multipart upload to Cluster's IPFS proxy (`/api/v0/add`, which
     * pins with the cluster's replication). Written by hand because
     * kubo-rpc-client buffers a whole add body in memory (measured: 615 MB of
     * RSS for a 512 MB add).
     */
    async add(content: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<StoredBlob> {
        // Before a byte is read: the body cannot be replayed if the add fails to allocate.
        await this.#allocation.ready(signal);
        let size = 0;
        const boundary = `ehr-${randomUUID()}`;
        const text = new TextEncoder();
        async function* multipart(): AsyncGenerator<Uint8Array> {
            yield text.encode(
                `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="blob"\r\n` +
                    'Content-Type: application/octet-stream\r\n\r\n',
            );
            for await (const chunk of content) {
                size += chunk.byteLength;
                yield chunk;
            }
            yield text.encode(`\r\n--${boundary}--\r\n`);
        }
        const url = new URL(`${this.#options.clusterProxyUrl}/api/v0/add?cid-version=1&raw-leaves=true&pin=true&progress=false`);
        let res: { status: number; body: string };
        try {
            res = await postStreaming(url, `multipart/form-data; boundary=${boundary}`, Readable.from(multipart()), signal);
        } catch (err) {
            if (signal?.aborted) throw err;
            throw new DependencyUnavailableError('cluster', `adding to IPFS Cluster failed: ${(err as Error).message}`, {
                cause: err,
            });
        }
        const body = res.body;
        // Kubo's add answers NDJSON, one object per added node, the root last; errors come as {Message, Code}.
        const lines = body.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as { Hash?: string; Message?: string });
        const root = lines.at(-1);
        if (res.status !== 200 || !root?.Hash) {
            const message = root?.Message ?? body.slice(0, 200);
            if (isAllocationFailure(message)) {
                this.#allocation.invalidate();
                throw new AllocationUnavailableError(`IPFS Cluster could not allocate the pin: ${message}`, 0, { cause: new Error(message) });
            }
            throw new DependencyUnavailableError('cluster', `IPFS Cluster add failed: ${res.status} ${root?.Message ?? body.slice(0, 200)}`);
        }
        return { cid: root.Hash, size };
    }

    cat(cid: string, signal?: AbortSignal): AsyncIterable<Uint8Array> {
        return this.#reader.cat(cid, { signal });
    }

    async pins(cid: string): Promise<PinLocation[]> {
        const body = (await this.#rest('GET', `/pins/${encodeURIComponent(cid)}`)) as {
            peer_map?: Record<string, { peername: string; status: string }>;
        };
        return Object.entries(body.peer_map ?? {})
            .map(([peerId, p]) => ({ peerId, peerName: p.peername, status: p.status }))
            .sort((a, b) => a.peerName.localeCompare(b.peerName));
    }

    /** Removes the cluster-wide pin; each node's garbage collection then drops the blocks. */
    async unpin(cid: string): Promise<void> {
        await this.#rest('DELETE', `/pins/${encodeURIComponent(cid)}`);
    }

    async health(): Promise<ComponentHealth[]> {
        const [kubo, cluster] = await Promise.all([
            this.#reader
                .id({ signal: AbortSignal.timeout(this.#options.timeoutMs) })
                .then(() => ({ name: 'kubo', up: true }))
                .catch((err: Error) => ({ name: 'kubo', up: false, detail: err.message })),
            this.#rest('GET', '/id')
                .then(() => ({ name: 'cluster', up: true }))
                .catch((err: Error) => ({ name: 'cluster', up: false, detail: err.message })),
        ]);
        return [kubo, cluster];
    }

    async #rest(method: string, path: string, signal?: AbortSignal): Promise<unknown> {
        let res: Response;
        const deadline = AbortSignal.timeout(this.#options.timeoutMs);
        try {
            res = await fetch(this.#options.clusterRestUrl + path, {
                method,
                headers: this.#auth ? { authorization: this.#auth } : {},
                signal: signal ? AbortSignal.any([signal, deadline]) : deadline,
            });
        } catch (err) {
            throw new DependencyUnavailableError('cluster', `IPFS Cluster ${method} ${path} failed: ${(err as Error).message}`, {
                cause: err,
            });
        }
        const text = await res.text();
        if (!res.ok) throw new ClusterApiError(`IPFS Cluster ${method} ${path}: ${res.status} ${text.slice(0, 200)}`, res.status);
        return text ? JSON.parse(text) : undefined;
    }
}
