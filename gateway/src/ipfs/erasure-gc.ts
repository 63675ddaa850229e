/**
 * Erasure removes the ciphertext from every repo (DESIGN §9, THREATS #8): after the
 * cluster-wide unpin, every Kubo that held or cached the blocks must garbage-collect.
 * Cluster's `POST /ipfs/gc` runs repo/gc on the Kubo of every peer it can reach, but
 * only helps on a peer that has already released the pin, and a peer that is down is
 * not even asked. So each erased blob waits here, off the request path, until every
 * peer that held it (its allocations) or was ever seen has reported it unpinned and
 * then run a GC that started at least `settleMs` later; rounds are retried with
 * backoff while a peer is down, until `giveUpMs`.
 */

export interface ErasureGcApi {
    /** Cluster peer ID -> tracker status of the CID (`unpinned` once released). */
    pinStatus(cid: string): Promise<Record<string, string>>;
    /** Cluster peer ID -> the error of its repo/gc (undefined: collected). */
    collectGarbage(): Promise<Record<string, string | undefined>>;
}

export interface ErasureGcOptions {
    /** First retry delay; doubled after a round that left work, up to maxDelayMs. */
    firstDelayMs: number;
    maxDelayMs: number;
    /** A peer's GC counts only if it started this long after the peer reported the blob unpinned. */
    settleMs: number;
    /** Past this, a blob still waiting for a peer is given up (and logged). */
    giveUpMs: number;
    logger?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

export const ERASURE_GC_DEFAULTS: ErasureGcOptions = {
    firstDelayMs: 1_000,
    maxDelayMs: 300_000,
    settleMs: 3_000,
    giveUpMs: 86_400_000,
};

interface Pending {
    since: number;
    /** Peers whose repo may still hold the blocks. */
    remaining: Set<string>;
    /** When each peer was first seen reporting the blob unpinned (since its last other status). */
    unpinnedSince: Map<string, number>;
}

export class ErasureCollector {
    readonly #api: ErasureGcApi;
    readonly #o: ErasureGcOptions;
    readonly #now: () => number;
    readonly #pending = new Map<string, Pending>();
    /** Every Cluster peer seen in an answer: a peer that is down later must still collect. */
    readonly #known = new Set<string>();
    #timer: NodeJS.Timeout | undefined;
    #delay: number;
    #round: Promise<void> | undefined;

    constructor(api: ErasureGcApi, options: Partial<ErasureGcOptions> = {}, now: () => number = Date.now) {
        this.#api = api;
        this.#o = { ...ERASURE_GC_DEFAULTS, ...options };
        this.#now = now;
        this.#delay = this.#o.firstDelayMs;
    }

    /** Blobs still waiting for a peer's GC. */
    get pending(): string[] {
        return [...this.#pending.keys()];
    }

    /** Queues an unpinned blob for collection on `holders` (its allocations) and every known peer. */
    schedule(cid: string, holders: string[] = []): void {
        const entry = this.#pending.get(cid) ?? { since: this.#now(), remaining: new Set<string>(), unpinnedSince: new Map() };
        for (const p of [...holders, ...this.#known]) entry.remaining.add(p);
        this.#pending.set(cid, entry);
        this.#delay = this.#o.firstDelayMs;
        this.#arm(this.#o.firstDelayMs);
    }

    /** Stops the retries (pending blobs stay uncollected). */
    close(): void {
        clearTimeout(this.#timer);
        this.#timer = undefined;
    }

    #arm(delay: number): void {
        clearTimeout(this.#timer);
        this.#timer = setTimeout(() => void this.runRound(), delay);
        this.#timer.unref();
    }

    /** One round (exposed for tests); rounds never overlap, and the next is armed while work is left. */
    runRound(): Promise<void> {
        this.#round ??= this.#roundOnce()
            .catch((err: unknown) => this.#o.logger?.warn({ err, pending: this.#pending.size }, 'erased blobs: garbage collection round failed; will retry'))
            .finally(() => {
                this.#round = undefined;
                if (this.#pending.size > 0) {
                    this.#arm(this.#delay);
                    this.#delay = Math.min(this.#delay * 2, this.#o.maxDelayMs);
                }
            });
        return this.#round;
    }

    async #roundOnce(): Promise<void> {
        for (const [cid, entry] of this.#pending) {
            const statuses = await this.#api.pinStatus(cid);
            const at = this.#now();
            for (const [peer, status] of Object.entries(statuses)) {
                this.#known.add(peer);
                if (status === 'unpinned') {
                    if (!entry.unpinnedSince.has(peer)) entry.unpinnedSince.set(peer, at);
                    entry.remaining.add(peer);
                } else {
                    entry.unpinnedSince.delete(peer);
                    entry.remaining.add(peer);
                }
            }
        }
        const start = this.#now();
        const settled = (entry: Pending, peer: string) => {
            const since = entry.unpinnedSince.get(peer);
            return since !== undefined && since <= start - this.#o.settleMs;
        };
        const worth = [...this.#pending.values()].some((e) => [...e.remaining].some((p) => settled(e, p)));
        if (worth) {
            const results = await this.#api.collectGarbage();
            for (const [peer, error] of Object.entries(results)) {
                this.#known.add(peer);
                if (error !== undefined) continue;
                for (const entry of this.#pending.values()) if (settled(entry, peer)) entry.remaining.delete(peer);
            }
        }
        const now = this.#now();
        for (const [cid, entry] of this.#pending) {
            if (entry.remaining.size === 0) {
                this.#pending.delete(cid);
                this.#o.logger?.info({ cid }, 'erased blob collected from every repo');
                this.#delay = this.#o.firstDelayMs;
            } else if (now - entry.since > this.#o.giveUpMs) {
                this.#pending.delete(cid);
                this.#o.logger?.warn({ cid, peers: [...entry.remaining] }, 'erased blob: gave up collecting it on peers that never came back');
            }
        }
    }
}
