import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ComponentHealth } from '../domain.js';
import {
    BlobCorruptedError,
    BlobStillPinnedError,
    BlobUnretrievableError,
    DependencyUnavailableError,
    blobIntegrity,
    type BlobCorruptionAction,
    type BlobIntegrityMonitor,
    type BlobStore,
    type PinLocation,
    type StoredBlob,
} from '../ports.js';
import { AllocationGate, AllocationUnavailableError, isAllocationFailure, type ClusterMetric } from './allocation-gate.js';
import { rawSha256Of } from './cid.js';
import { call, parseEndpoint, streamError, text, type HttpEndpoint } from './http-call.js';
import { isCorruptionMessage, KuboCorruptBlockError, parseRepoVerify, type DropReport } from './kubo-integrity.js';

export interface ClusterBlobStoreOptions {
    /**
     * The hospital's own Kubo RPC API, `unix:///path/api.sock` by default: reads
     * are served here (bitswap fetches missing blocks).
     */
    kuboApiUrl: string;
    /** Cluster REST API: adds (pinned with the cluster's replication), pin status and unpinning. */
    clusterRestUrl: string;
    /** `user:password` for the Cluster REST API. */
    clusterCredentials?: string;
    /** Deadline of metadata calls; add and cat stream for as long as data flows. */
    timeoutMs: number;
    /** Fewest peers a new pin is allocated to (Cluster's replication_factor_min). */
    replicationMin: number;
    /** How a store waits for Cluster to be able to allocate its pin. */
    allocation: { metrics: string[]; waitMs: number; probeIntervalMs: number; trustMs: number };
    /** How reads heal a corrupted local copy; defaults in INTEGRITY_DEFAULTS. */
    integrity?: Partial<IntegrityOptions>;
    /** Blobs larger than this go the large-blob way (see add); LARGE_BLOB_DEFAULTS. */
    largeBlob?: Partial<LargeBlobOptions>;
}

export interface LargeBlobOptions {
    /** Ciphertext read ahead before the way is chosen; held in memory meanwhile. */
    thresholdBytes: number;
    /** How long a large add waits for replication-min peers to hold the blob. */
    replicationWaitMs: number;
    pollMs: number;
}

export const LARGE_BLOB_DEFAULTS: LargeBlobOptions = { thresholdBytes: 16 * 1024 * 1024, replicationWaitMs: 600_000, pollMs: 500 };

/** Blocks per `block/rm` call (a 1 GiB blob has about 4,000). */
const DISCARD_BATCH = 256;
/** Cluster pin states in which this peer holds, or is still fetching, the blob's blocks. */
const ACTIVE_PIN_STATES = new Set(['pinned', 'pinning', 'pin_queued']);

export interface IntegrityOptions {
    /** A cat that yields nothing for this long fails (BlobUnretrievableError): Kubo waits for a missing block forever. */
    idleMs: number;
    /** After corrupted blocks were dropped: how long the refetch from a replica may stay silent before the read fails. */
    refetchMs: number;
    /** Deadline of one `repo/verify?drop=true` (it reads every block of the repo). */
    dropTimeoutMs: number;
    /** Heals one read may attempt before it gives up. */
    maxHeals: number;
    /** Where corruption is reported (metrics and logs watch it). */
    monitor: BlobIntegrityMonitor;
}

export const INTEGRITY_DEFAULTS: IntegrityOptions = {
    idleMs: 60_000,
    refetchMs: 15_000,
    dropTimeoutMs: 300_000,
    maxHeals: 3,
    monitor: blobIntegrity,
};

/** One line of Cluster's add output; its CID comes as `{"/": cid}` (or a string from older peers). */
interface AddedOutput {
    name?: string;
    cid?: string | { '/': string };
}

/** Kubo or Cluster answered, but with an error status (not an outage). */
export class IpfsApiError extends Error {
    constructor(
        readonly service: 'kubo' | 'cluster',
        message: string,
        readonly status: number,
    ) {
        super(message);
        this.name = 'IpfsApiError';
    }
}

/**
 * Encrypted blobs in IPFS: added through IPFS Cluster's REST API, so each is pinned
 * on replication-min..max hospitals, and read from the hospital's own Kubo node.
 */
export class ClusterBlobStore implements BlobStore {
    readonly #kubo: HttpEndpoint;
    readonly #cluster: HttpEndpoint;
    readonly #options: ClusterBlobStoreOptions;
    readonly #auth: string | undefined;
    readonly #allocation: AllocationGate;
    readonly #integrity: IntegrityOptions;
    readonly #large: LargeBlobOptions;
    /** The one `repo/verify?drop=true` under way: concurrent reads that meet corruption share it. */
    #dropping: Promise<DropReport> | undefined;

    constructor(options: ClusterBlobStoreOptions) {
        this.#options = options;
        this.#integrity = { ...INTEGRITY_DEFAULTS, ...options.integrity };
        this.#large = { ...LARGE_BLOB_DEFAULTS, ...options.largeBlob };
        this.#kubo = parseEndpoint(options.kuboApiUrl);
        this.#cluster = parseEndpoint(options.clusterRestUrl);
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
     * Adds a blob, pinned with the cluster's replication; answers once replication-min
     * peers hold it. Up to `largeBlob.thresholdBytes` it streams to Cluster's REST
     * `/add`, which writes every block to the allocated peers as it goes. A larger
     * blob is added to this hospital's own Kubo and then pinned through Cluster, whose
     * allocated peers fetch it over bitswap, and the add waits until replication-min of
     * them hold it: Cluster's `/add` streams blocks into Kubo's unix socket with a
     * client that writes the whole request before it reads Kubo's per-block answers,
     * and deadlocks once those fill the socket (measured: a 100 MB add stalled for
     * good; bench, --large).
     */
    async add(content: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<StoredBlob> {
        // Before a byte is read: the body cannot be replayed if the add fails to allocate.
        await this.#allocation.ready(signal);
        const ahead = await readAhead(content, this.#large.thresholdBytes);
        if (!ahead.ended) return this.#addLarge(ahead.content, signal);
        return this.#addThroughCluster(ahead.content, signal);
    }

    /** Streams a multipart upload to Cluster's REST `/add`. */
    async #addThroughCluster(content: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<StoredBlob> {
        let size = 0;
        const boundary = `ehr-${randomUUID()}`;
        const counted = counting(content, (n) => (size += n));
        // stream-channels=false: one JSON answer at the end, an error as {code, message}.
        const path = '/add?cid-version=1&raw-leaves=true&stream-channels=false&name=blob';
        let status: number;
        let body: string;
        try {
            const res = await call(this.#cluster, path, {
                headers: {
                    'content-type': `multipart/form-data; boundary=${boundary}`,
                    'transfer-encoding': 'chunked',
                    ...(this.#auth ? { authorization: this.#auth } : {}),
                },
                body: Readable.from(multipartOf(boundary, counted)),
                signal,
            });
            status = res.statusCode ?? 0;
            body = await text(res);
        } catch (err) {
            if (signal?.aborted) throw err;
            throw new DependencyUnavailableError('cluster', `adding to IPFS Cluster failed: ${(err as Error).message}`, {
                cause: err,
            });
        }
        let parsed: unknown;
        try {
            parsed = JSON.parse(body);
        } catch {
            parsed = undefined;
        }
        const root = Array.isArray(parsed) ? (parsed.at(-1) as AddedOutput | undefined) : undefined;
        const cid = typeof root?.cid === 'string' ? root.cid : root?.cid?.['/'];
        if (status !== 200 || !cid) {
            const message = (parsed as { message?: string } | undefined)?.message ?? body.slice(0, 200);
            if (isAllocationFailure(message)) {
                this.#allocation.invalidate();
                throw new AllocationUnavailableError(`IPFS Cluster could not allocate the pin: ${message}`, 0, { cause: new Error(message) });
            }
            if (status === 401 || status === 403) throw new IpfsApiError('cluster', `IPFS Cluster refused the add: ${status} ${message}`, status);
            throw new DependencyUnavailableError('cluster', `IPFS Cluster add failed: ${status} ${message}`);
        }
        return { cid, size };
    }

    /** Kubo add (this node), Cluster pin, then wait until replication-min peers hold it. */
    async #addLarge(content: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<StoredBlob> {
        let size = 0;
        const counted = counting(content, (n) => (size += n));
        const boundary = `ehr-${randomUUID()}`;
        // Unpinned here: Cluster pins it on the peers it allocates (this one among them or not).
        const path = '/api/v0/add?cid-version=1&raw-leaves=true&pin=false&progress=false&quieter=true';
        let res;
        try {
            res = await call(this.#kubo, path, {
                headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'transfer-encoding': 'chunked' },
                body: Readable.from(multipartOf(boundary, counted)),
                signal,
            });
        } catch (err) {
            if (signal?.aborted) throw err;
            throw new DependencyUnavailableError('kubo', `adding to Kubo failed: ${(err as Error).message}`, { cause: err });
        }
        const body = await text(res);
        let cid: string | undefined;
        try {
            cid = (JSON.parse(body.trim().split('\n').at(-1) ?? '') as { Hash?: string }).Hash;
        } catch {
            cid = undefined;
        }
        if (res.statusCode !== 200 || !cid) throw new DependencyUnavailableError('kubo', `Kubo add failed: ${res.statusCode} ${body.slice(0, 200)}`);
        try {
            await this.#rest('POST', `/pins/ipfs/${encodeURIComponent(cid)}?name=blob`, signal);
        } catch (err) {
            const message = (err as Error).message;
            if (isAllocationFailure(message)) {
                this.#allocation.invalidate();
                throw new AllocationUnavailableError(`IPFS Cluster could not allocate the pin: ${message}`, 0, { cause: err });
            }
            throw err;
        }
        const deadline = Date.now() + this.#large.replicationWaitMs;
        for (;;) {
            const held = (await this.pins(cid).catch(() => [])).filter((p) => p.status === 'pinned').length;
            if (held >= this.#options.replicationMin) return { cid, size };
            if (signal?.aborted || Date.now() > deadline) {
                // Not acknowledged, so not kept: no record will name it.
                await this.unpin(cid).catch(() => undefined);
                if (signal?.aborted) throw signal.reason;
                throw new DependencyUnavailableError('cluster', `the blob reached ${held} of ${this.#options.replicationMin} peers within ${this.#large.replicationWaitMs} ms`);
            }
            await new Promise((r) => setTimeout(r, this.#large.pollMs));
        }
    }

    /**
     * Kubo hashes every block it reads (Datastore.HashOnRead), so a corrupted local block
     * fails the cat: with a 500 before the first byte, or an `X-Stream-Error` trailer after
     * some. Then the corrupted blocks are dropped (`repo/verify?drop=true`; `block/rm`
     * refuses pinned blocks) and the cat resumes at the byte it reached, which makes Kubo
     * refetch the dropped blocks over bitswap from a replica (bitswap checks what it
     * receives against the CID). A single-block blob is also hashed here, so a node
     * without HashOnRead cannot pass off a corrupted copy as the blob.
     */
    async *cat(cid: string, signal?: AbortSignal): AsyncIterable<Uint8Array> {
        const o = this.#integrity;
        const report = (action: BlobCorruptionAction, blocks = 1) => o.monitor.report({ cid, action, blocks });
        const expected = rawSha256Of(cid);
        const hash = expected ? createHash('sha256') : undefined;
        let offset = 0;
        let heals = 0;
        let refetching = false;
        for (;;) {
            try {
                for await (const chunk of this.#catFrom(cid, offset, refetching ? o.refetchMs : o.idleMs, signal)) {
                    if (refetching) {
                        refetching = false;
                        report('healed');
                    }
                    offset += chunk.length;
                    hash?.update(chunk);
                    yield chunk;
                }
                if (refetching) report('healed');
                if (expected && hash && !hash.digest().equals(expected)) {
                    throw new KuboCorruptBlockError(`blob ${cid} does not hash to its CID`);
                }
                return;
            } catch (err) {
                if (signal?.aborted) throw err;
                if (refetching && err instanceof BlobUnretrievableError) {
                    report('unrecoverable');
                    throw new BlobCorruptedError(cid, `blob ${cid}: the local copy was corrupted and no replica supplied intact blocks in time`, { cause: err });
                }
                if (!(err instanceof KuboCorruptBlockError)) throw err;
                report('detected');
                if (heals >= o.maxHeals) {
                    report('unrecoverable');
                    throw new BlobCorruptedError(cid, `blob ${cid}: corrupted blocks remain after ${heals} heals`, { cause: err });
                }
                heals++;
                let dropped: DropReport;
                try {
                    dropped = await this.#dropCorrupt();
                } catch (dropErr) {
                    report('unrecoverable');
                    throw new BlobCorruptedError(cid, `blob ${cid} is corrupted and dropping its blocks failed: ${(dropErr as Error).message}`, { cause: dropErr });
                }
                if (dropped.dropped > 0) report('dropped', dropped.dropped);
                if (expected && offset > 0) {
                    // The whole-blob hash covered bytes already sent: the read cannot be resumed honestly.
                    report('unrecoverable');
                    throw new BlobCorruptedError(cid, `blob ${cid} did not hash to its CID after ${offset} bytes were read`, { cause: err });
                }
                refetching = true;
            }
        }
    }

    /** One cat from `offset`, failing when Kubo stays silent for `idleMs` or reports an error in its trailer. */
    async *#catFrom(cid: string, offset: number, idleMs: number, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
        const idle = new AbortController();
        const silent = new BlobUnretrievableError(cid, `blob ${cid}: Kubo sent nothing for ${idleMs} ms (no reachable node holds the block)`);
        let timer = setTimeout(() => idle.abort(silent), idleMs);
        const rearm = () => {
            clearTimeout(timer);
            timer = setTimeout(() => idle.abort(silent), idleMs);
        };
        const both = signal ? AbortSignal.any([signal, idle.signal]) : idle.signal;
        const path = `/api/v0/cat?arg=${encodeURIComponent(cid)}${offset > 0 ? `&offset=${offset}` : ''}`;
        try {
            const res = await this.#kuboCall(path, both);
            rearm();
            for await (const chunk of res) {
                rearm();
                yield chunk as Buffer;
            }
            const trailer = streamError(res);
            if (trailer) {
                if (isCorruptionMessage(trailer)) throw new KuboCorruptBlockError(`Kubo cat of ${cid}: ${trailer}`);
                throw new IpfsApiError('kubo', `Kubo cat of ${cid} failed after ${offset} bytes: ${trailer}`, 200);
            }
        } catch (err) {
            if (idle.signal.aborted && !signal?.aborted) throw silent;
            if (err instanceof IpfsApiError && err.service === 'kubo' && isCorruptionMessage(err.message)) throw new KuboCorruptBlockError(err.message, { cause: err });
            throw err;
        } finally {
            clearTimeout(timer);
        }
    }

    /** Drops every corrupted block of the repo; concurrent callers share one run. */
    #dropCorrupt(): Promise<DropReport> {
        this.#dropping ??= (async () => {
            try {
                const res = await this.#kuboCall('/api/v0/repo/verify?drop=true', AbortSignal.timeout(this.#integrity.dropTimeoutMs));
                const report = parseRepoVerify(await text(res));
                const trailer = streamError(res);
                if (trailer && report.dropped === 0) throw new IpfsApiError('kubo', `Kubo repo/verify: ${trailer}`, 200);
                return report;
            } finally {
                this.#dropping = undefined;
            }
        })();
        return this.#dropping;
    }

    async pins(cid: string): Promise<PinLocation[]> {
        const body = (await this.#rest('GET', `/pins/${encodeURIComponent(cid)}`)) as {
            peer_map?: Record<string, { peername: string; status: string }>;
        };
        return Object.entries(body.peer_map ?? {})
            .map(([peerId, p]) => ({ peerId, peerName: p.peername, status: p.status }))
            .sort((a, b) => a.peerName.localeCompare(b.peerName));
    }

    /** Removes the cluster-wide pin; every peer then releases its Kubo pin (also one that is down, when it returns). */
    async unpin(cid: string): Promise<void> {
        await this.#rest('DELETE', `/pins/${encodeURIComponent(cid)}`);
    }

    /**
     * Deletes this blob's blocks from the hospital's own Kubo. Not `repo/gc`: a GC also
     * deletes the blocks a concurrent add has written but not yet pinned, so a store
     * racing it would lose its blob; this touches only the erased blob's blocks, and Kubo
     * refuses to delete a pinned one. Only blocks the node holds are listed (offline), and
     * the root goes last, so an interrupted run leaves it to list the rest the next time.
     */
    async discard(cid: string): Promise<number> {
        const signal = () => AbortSignal.timeout(this.#options.timeoutMs);
        const arg = encodeURIComponent(cid);
        // While this hospital's Cluster peer is still pinning the blob, Kubo is fetching its
        // blocks: those that arrive after the deletion would stay behind, unreachable from a
        // root already gone. So wait (retried) until the cluster-wide unpin has stopped it.
        const local = (await this.#rest('GET', `/pins/${arg}?local=true`).catch((err: unknown) => {
            if (err instanceof IpfsApiError && err.status === 404) return null; // not in the pinset at all
            throw err;
        })) as { peer_map?: Record<string, { status: string }> } | null;
        if (Object.values(local?.peer_map ?? {}).some((p) => ACTIVE_PIN_STATES.has(p.status))) throw new BlobStillPinnedError(cid);
        const children: string[] = [];
        try {
            const res = await this.#kuboCall(`/api/v0/refs?arg=${arg}&recursive=true&unique=true&offline=true`, signal());
            for (const line of (await text(res)).split('\n')) {
                if (!line.trim()) continue;
                const ref = (JSON.parse(line) as { Ref?: string }).Ref;
                // A line with Err instead: a block this node lacks (nothing to delete below it).
                if (ref) children.push(ref);
            }
        } catch (err) {
            // The root is not here: never fetched, or discarded already (the root goes last).
            if (err instanceof IpfsApiError && /not found|could not find/i.test(err.message)) return 0;
            throw err;
        }
        const blocks = [...children, cid];
        let removed = 0;
        const pinned: string[] = [];
        for (let i = 0; i < blocks.length; i += DISCARD_BATCH) {
            const args = blocks.slice(i, i + DISCARD_BATCH).map((c) => `arg=${encodeURIComponent(c)}`).join('&');
            // force: blocks already gone are not an error (a retry after a partial run).
            const res = await this.#kuboCall(`/api/v0/block/rm?${args}&force=true`, signal());
            for (const line of (await text(res)).split('\n')) {
                if (!line.trim()) continue;
                const out = JSON.parse(line) as { Hash?: string; Error?: string };
                if (!out.Error) removed++;
                else if (/pinned/i.test(out.Error)) pinned.push(out.Hash ?? cid);
                else throw new IpfsApiError('kubo', `Kubo block/rm of ${out.Hash ?? cid}: ${out.Error}`, 200);
            }
        }
        if (pinned.length > 0) throw new BlobStillPinnedError(cid);
        return removed;
    }

    async health(): Promise<ComponentHealth[]> {
        const [kubo, cluster] = await Promise.all([
            this.#kuboCall('/api/v0/id', AbortSignal.timeout(this.#options.timeoutMs))
                .then((res) => (res.resume(), { name: 'kubo', up: true }))
                .catch((err: Error) => ({ name: 'kubo', up: false, detail: err.message })),
            this.#rest('GET', '/id')
                .then(() => ({ name: 'cluster', up: true }))
                .catch((err: Error) => ({ name: 'cluster', up: false, detail: err.message })),
        ]);
        return [kubo, cluster];
    }

    async #rest(method: string, path: string, signal?: AbortSignal, timeoutMs = this.#options.timeoutMs): Promise<unknown> {
        let res: Response;
        const deadline = AbortSignal.timeout(timeoutMs);
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
        if (!res.ok) throw new IpfsApiError('cluster', `IPFS Cluster ${method} ${path}: ${res.status} ${text.slice(0, 200)}`, res.status);
        return text ? JSON.parse(text) : undefined;
    }

    /** A Kubo RPC call answered 200, with its body still to read. */
    async #kuboCall(path: string, signal?: AbortSignal) {
        let res;
        try {
            res = await call(this.#kubo, path, { signal });
        } catch (err) {
            if (signal?.aborted && !(signal.reason instanceof DOMException && signal.reason.name === 'TimeoutError')) throw err;
            throw new DependencyUnavailableError('kubo', `Kubo RPC ${path.split('?')[0]} failed: ${(err as Error).message}`, { cause: err });
        }
        if (res.statusCode !== 200) {
            // Kubo answered, so it is up: the call itself failed (e.g. a block that does not hash to its CID).
            const detail = (await text(res)).slice(0, 200);
            throw new IpfsApiError('kubo', `Kubo RPC ${path.split('?')[0]}: ${res.statusCode} ${detail}`, res.statusCode ?? 0);
        }
        return res;
    }
}

/** A multipart/form-data body of one file part. */
async function* multipartOf(boundary: string, content: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    const encoder = new TextEncoder();
    yield encoder.encode(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="blob"\r\n` + 'Content-Type: application/octet-stream\r\n\r\n',
    );
    yield* content;
    yield encoder.encode(`\r\n--${boundary}--\r\n`);
}

/**
 * Reads up to `limit` bytes ahead: whether the stream ended within them, and the whole
 * stream again (what was read, then the rest).
 */
export async function readAhead(content: AsyncIterable<Uint8Array>, limit: number): Promise<{ ended: boolean; content: AsyncIterable<Uint8Array> }> {
    const it = content[Symbol.asyncIterator]();
    const head: Uint8Array[] = [];
    let bytes = 0;
    let ended = false;
    while (bytes <= limit) {
        const next = await it.next();
        if (next.done) {
            ended = true;
            break;
        }
        head.push(next.value);
        bytes += next.value.byteLength;
    }
    async function* all() {
        yield* head;
        if (ended) return;
        for (let next = await it.next(); !next.done; next = await it.next()) yield next.value;
    }
    return { ended, content: all() };
}

/** The same stream, telling `count` each chunk's size as it passes. */
async function* counting(content: AsyncIterable<Uint8Array>, count: (bytes: number) => void): AsyncGenerator<Uint8Array> {
    for await (const chunk of content) {
        count(chunk.byteLength);
        yield chunk;
    }
}
