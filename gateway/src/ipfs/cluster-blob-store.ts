import { create, type KuboRPCClient } from 'kubo-rpc-client';
import type { ComponentHealth } from '../domain.js';
import { DependencyUnavailableError, type BlobStore, type PinLocation, type StoredBlob } from '../ports.js';

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
    readonly #adder: KuboRPCClient;
    readonly #reader: KuboRPCClient;
    readonly #options: ClusterBlobStoreOptions;
    readonly #auth: string | undefined;

    constructor(options: ClusterBlobStoreOptions) {
        this.#options = options;
        this.#adder = create({ url: options.clusterProxyUrl });
        this.#reader = create({ url: options.kuboApiUrl });
        this.#auth = options.clusterCredentials
            ? 'Basic ' + Buffer.from(options.clusterCredentials).toString('base64')
            : undefined;
    }

    async add(content: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<StoredBlob> {
        let size = 0;
        async function* counted(): AsyncGenerator<Uint8Array> {
            for await (const chunk of content) {
                size += chunk.byteLength;
                yield chunk;
            }
        }
        try {
            const result = await this.#adder.add(counted(), { cidVersion: 1, rawLeaves: true, pin: true, signal });
            return { cid: result.cid.toString(), size };
        } catch (err) {
            if (signal?.aborted) throw err;
            throw new DependencyUnavailableError('cluster', `adding to IPFS Cluster failed: ${(err as Error).message}`, {
                cause: err,
            });
        }
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

    async #rest(method: string, path: string): Promise<unknown> {
        let res: Response;
        try {
            res = await fetch(this.#options.clusterRestUrl + path, {
                method,
                headers: this.#auth ? { authorization: this.#auth } : {},
                signal: AbortSignal.timeout(this.#options.timeoutMs),
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
