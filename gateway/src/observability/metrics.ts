import type { RequestHandler } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { blobIntegrity, type BlobCorruptionAction, type BlobIntegrityMonitor } from '../ports.js';

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** The gateway's Prometheus metrics, in a registry of its own (no global state between tests). */
export class Metrics {
    readonly registry = new Registry();
    readonly httpRequests: Counter<'method' | 'route' | 'status'>;
    readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
    readonly fabricDuration: Histogram<'operation' | 'outcome'>;
    readonly ipfsDuration: Histogram<'operation' | 'outcome'>;
    /** Denied requests (401, 403, 404, 415, 429) by the rule that denied them: short IDs, bounded cardinality. */
    readonly deniedRequests: Counter<'rule' | 'status'>;

    constructor(options: { defaultMetrics?: boolean } = {}) {
        if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
        this.httpRequests = new Counter({
            name: 'ehr_http_requests_total',
            help: 'HTTP requests by route template and status',
            labelNames: ['method', 'route', 'status'],
            registers: [this.registry],
        });
        this.httpDuration = new Histogram({
            name: 'ehr_http_request_duration_seconds',
            help: 'HTTP request latency by route template and status',
            labelNames: ['method', 'route', 'status'],
            buckets: LATENCY_BUCKETS,
            registers: [this.registry],
        });
        this.deniedRequests = new Counter({
            name: 'ehr_denied_requests_total',
            help: 'Requests denied (401, 403, 404, 415, 429) by the rule that denied them and the status',
            labelNames: ['rule', 'status'],
            registers: [this.registry],
        });
        this.fabricDuration = new Histogram({
            name: 'ehr_fabric_call_duration_seconds',
            help: 'Ledger (Fabric) call latency by operation and outcome',
            labelNames: ['operation', 'outcome'],
            buckets: LATENCY_BUCKETS,
            registers: [this.registry],
        });
        this.ipfsDuration = new Histogram({
            name: 'ehr_ipfs_call_duration_seconds',
            help: 'Blob store (IPFS) call latency by operation and outcome',
            labelNames: ['operation', 'outcome'],
            buckets: LATENCY_BUCKETS,
            registers: [this.registry],
        });
        this.blobCorruptions = new Counter({
            name: 'ehr_blob_corruptions_total',
            help: 'Corrupted local blob copies: detected on read, blocks dropped, healed from a replica, unrecoverable',
            labelNames: ['action'],
            registers: [this.registry],
        });
        // The process's metrics (the ones with the default collectors) count the process's blob store.
        if (options.defaultMetrics) this.watchIntegrity(blobIntegrity);
    }

    /** Custody tasks attempted, by kind and outcome (`done`, `failed`: retried after a backoff). */
    readonly custodyAttempts = new Counter({
        name: 'ehr_custody_task_attempts_total',
        help: 'Custody outbox task attempts (deliver, purge, unpin, and the expanding grant/created/purgePatient) by outcome',
        labelNames: ['kind', 'outcome'] as const,
        registers: [this.registry],
    });

    /**
     * The custody outbox's state, read at each scrape: queued tasks by kind, tasks
     * waiting to be retried, the oldest task's age.
     */
    watchCustody(stats: () => { queued: number; retrying: number; oldestAgeSeconds: number; byKind: Record<string, number> }): void {
        new Gauge({
            name: 'ehr_custody_tasks_queued',
            help: 'Custody outbox tasks queued (not yet done), by kind',
            labelNames: ['kind'],
            registers: [this.registry],
            collect() {
                for (const [kind, n] of Object.entries(stats().byKind)) this.set({ kind }, n);
            },
        });
        new Gauge({
            name: 'ehr_custody_tasks_failing',
            help: 'Custody outbox tasks whose last attempt failed (retried after a backoff)',
            registers: [this.registry],
            collect() {
                this.set(stats().retrying);
            },
        });
        new Gauge({
            name: 'ehr_custody_oldest_task_age_seconds',
            help: 'Age of the oldest queued custody task (0 when none)',
            registers: [this.registry],
            collect() {
                this.set(stats().oldestAgeSeconds);
            },
        });
    }

    /** Corrupted blob copies by what was done: `detected`, `dropped` (blocks), `healed`, `unrecoverable`. */
    readonly blobCorruptions: Counter<'action'>;

    /** Counts the corruption reports of a blob store; returns the function that stops counting. */
    watchIntegrity(monitor: BlobIntegrityMonitor): () => void {
        return monitor.subscribe((e) => this.blobCorruptions.inc({ action: e.action satisfies BlobCorruptionAction }, e.action === 'dropped' ? e.blocks : 1));
    }

    timeFabric<T>(operation: string, call: () => Promise<T>): Promise<T> {
        return timed(this.fabricDuration, operation, call);
    }

    timeIpfs<T>(operation: string, call: () => Promise<T>): Promise<T> {
        return timed(this.ipfsDuration, operation, call);
    }

    /** Counts and times every request by its route template, never by its concrete path (bounded cardinality). */
    middleware(): RequestHandler {
        return (req, res, next) => {
            const end = this.httpDuration.startTimer();
            res.once('finish', () => {
                const route = req.route ? req.baseUrl + String((req.route as { path: unknown }).path) : 'unmatched';
                const labels = { method: req.method, route, status: String(res.statusCode) };
                end(labels);
                this.httpRequests.inc(labels);
            });
            next();
        };
    }
}

/** Times a call into a histogram labelled by operation and outcome (ok or error). */
export async function timed<T>(histogram: Histogram<'operation' | 'outcome'>, operation: string, call: () => Promise<T>): Promise<T> {
    const end = histogram.startTimer({ operation });
    try {
        const result = await call();
        end({ outcome: 'ok' });
        return result;
    } catch (err) {
        end({ outcome: 'error' });
        throw err;
    }
}
