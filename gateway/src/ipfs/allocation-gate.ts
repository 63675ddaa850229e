import { DependencyUnavailableError } from '../ports.js';

/** One entry of Cluster's `GET /monitor/metrics/{name}`. */
export interface ClusterMetric {
    name: string;
    peer: string;
    valid?: boolean;
}

export interface AllocationGateOptions {
    /** Fewest peers a new pin must be allocated to (Cluster's replication_factor_min). */
    replicationMin: number;
    /** The metrics Cluster's allocator ranks peers by (allocator.balanced.allocate_by). */
    metrics: readonly string[];
    /** How long a store waits for Cluster to be able to allocate before it answers 503. */
    waitMs: number;
    /** Pause between two looks at the metrics while waiting. */
    probeIntervalMs: number;
    /** How long one observation that allocation works is trusted without looking again. */
    trustMs: number;
    /** Reads the latest valid metrics of one name from the hospital's Cluster peer. */
    latestMetrics: (name: string, signal: AbortSignal) => Promise<ClusterMetric[]>;
    now?: () => number;
    sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** Cluster cannot place a new pin on replication-min peers yet (e.g. peers restarting). */
export class AllocationUnavailableError extends DependencyUnavailableError {
    readonly candidates: number;

    constructor(message: string, candidates: number, options?: ErrorOptions) {
        super('cluster', message, options);
        this.name = 'AllocationUnavailableError';
        this.candidates = candidates;
    }
}

const defaultSleep = (ms: number, signal?: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, ms);
        signal?.addEventListener(
            'abort',
            () => {
                clearTimeout(timer);
                reject(signal.reason as Error);
            },
            { once: true },
        );
    });

/**
 * Holds a store back until IPFS Cluster can allocate its pin. Cluster counts a
 * peer as a candidate only once it holds a valid metric from it for every
 * allocator metric; after a restart those arrive some seconds after the peers
 * see each other, and an add in between fails with "not enough peers to
 * allocate". A store body is a stream that cannot be replayed, so the wait
 * happens before the add starts, not as a retry after it failed.
 */
export class AllocationGate {
    readonly #o: Required<AllocationGateOptions>;
    #readyUntil = 0;

    constructor(options: AllocationGateOptions) {
        this.#o = { now: Date.now, sleep: defaultSleep, ...options };
    }

    /** Peers that could take a new pin now: those with a valid value of every allocator metric. */
    async candidates(signal: AbortSignal): Promise<number> {
        const sets = await Promise.all(
            this.#o.metrics.map(async (name) => {
                const metrics = await this.#o.latestMetrics(name, signal);
                return new Set(metrics.filter((m) => m.valid !== false).map((m) => m.peer));
            }),
        );
        if (sets.length === 0) return 0;
        const [first, ...rest] = sets;
        return [...first].filter((peer) => rest.every((s) => s.has(peer))).length;
    }

    /** Resolves once allocation works; throws AllocationUnavailableError after waitMs. */
    async ready(signal?: AbortSignal): Promise<void> {
        const o = this.#o;
        const started = o.now();
        if (started < this.#readyUntil) return;
        let seen = 0;
        let lastError: unknown;
        for (;;) {
            signal?.throwIfAborted();
            try {
                const probe = AbortSignal.timeout(Math.max(1, Math.min(o.waitMs, 5_000)));
                seen = await this.candidates(signal ? AbortSignal.any([signal, probe]) : probe);
                lastError = undefined;
                if (seen >= o.replicationMin) {
                    this.#readyUntil = o.now() + o.trustMs;
                    return;
                }
            } catch (err) {
                if (signal?.aborted) throw err;
                lastError = err;
            }
            const waited = o.now() - started;
            if (waited + o.probeIntervalMs > o.waitMs) {
                throw new AllocationUnavailableError(
                    `IPFS Cluster can allocate to ${seen} of the ${o.replicationMin} peers a pin needs (waited ${waited} ms)`,
                    seen,
                    lastError ? { cause: lastError } : undefined,
                );
            }
            await o.sleep(o.probeIntervalMs, signal);
        }
    }

    /** An add failed to allocate after all: look again before the next store. */
    invalidate(): void {
        this.#readyUntil = 0;
    }
}

/** Cluster's add answers this when it has fewer candidates than replication min. */
export function isAllocationFailure(message: string): boolean {
    return /not enough peers to allocate/i.test(message);
}
