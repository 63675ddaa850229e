/*
 * One live view: a Server-Sent Events response that samples are pushed to. Memory is
 * bounded: samples wait only while the socket is full, and a client that falls more than
 * maxBufferedSamples behind is told so (`end`, reason `overflow`) and dropped, never buffered
 * without limit. Idle streams get a comment line now and then so proxies keep them open.
 */
import type { Response } from 'express';
import type { Actor, Purpose } from '../domain.js';
import type { VitalSample } from './samples.js';

export interface LiveSessionOptions {
    maxBufferedSamples: number;
    heartbeatMs: number;
    maxSessionMs: number;
}

/** Why a live view ended (the `end` event's `reason`). */
export type EndReason = 'consent-revoked' | 'access-ended' | 'overflow' | 'max-duration' | 'shutdown';

/** Who watches which patient, on what basis: what the hub and the re-checks need. */
export interface LiveWatch {
    readonly patientId: string;
    readonly actor: Actor;
    readonly purpose: Purpose;
    /** `custodian`, `home` or the consentId the session's access entry was allowed by. */
    readonly basis: string;
    /** The vitals chunk whose read the session's access entry logged. */
    readonly anchorRecordId: string;
}

export class LiveSession implements LiveWatch {
    readonly #res: Response;
    readonly #options: LiveSessionOptions;
    readonly #onClose: (session: LiveSession) => void;
    #queue: VitalSample[] = [];
    #blocked = false;
    #closed = false;
    readonly #timers: NodeJS.Timeout[] = [];

    constructor(
        readonly watch: LiveWatch,
        res: Response,
        options: LiveSessionOptions,
        onClose: (session: LiveSession) => void,
    ) {
        this.#res = res;
        this.#options = options;
        this.#onClose = onClose;
    }

    get patientId(): string {
        return this.watch.patientId;
    }
    get actor(): Actor {
        return this.watch.actor;
    }
    get purpose(): Purpose {
        return this.watch.purpose;
    }
    get basis(): string {
        return this.watch.basis;
    }
    get anchorRecordId(): string {
        return this.watch.anchorRecordId;
    }
    get closed(): boolean {
        return this.#closed;
    }

    /** Starts the event stream; `open` carries the access entry that audits this session. */
    start(open: Record<string, unknown>): void {
        const res = this.#res;
        res.status(200);
        res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
        res.setHeader('Cache-Control', 'no-store');
        res.setHeader('X-Content-Type-Options', 'nosniff');
        res.setHeader('X-Accel-Buffering', 'no');
        res.flushHeaders();
        // The client went away: release the session at once.
        res.on('close', () => this.#release());
        res.on('drain', () => this.#drain());
        // Gone while the access was being logged: its 'close' came before anyone listened.
        if (res.destroyed || !res.socket || res.socket.destroyed) {
            this.#release();
            return;
        }
        this.#write('open', open);
        const heartbeat = setInterval(() => this.#comment('keep-alive'), this.#options.heartbeatMs);
        const deadline = setTimeout(() => this.end('max-duration'), this.#options.maxSessionMs);
        this.#timers.push(heartbeat, deadline);
    }

    /** Pushes samples now, or queues them while the socket is full (bounded). */
    push(samples: readonly VitalSample[]): void {
        if (this.#closed || samples.length === 0) return;
        if (this.#blocked) {
            this.#queue.push(...samples);
            if (this.#queue.length > this.#options.maxBufferedSamples) this.end('overflow');
            return;
        }
        this.#blocked = !this.#write('samples', { samples });
    }

    /** Tells the client why, then closes the stream. */
    end(reason: EndReason): void {
        if (this.#closed) return;
        this.#queue = [];
        this.#write('end', { reason });
        this.#res.end();
        this.#release();
    }

    #drain(): void {
        this.#blocked = false;
        if (this.#queue.length === 0 || this.#closed) return;
        const queued = this.#queue;
        this.#queue = [];
        this.push(queued);
    }

    #write(event: string, data: unknown): boolean {
        if (this.#res.writableEnded || this.#res.destroyed) return true;
        return this.#res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    }

    #comment(text: string): void {
        if (!this.#res.writableEnded && !this.#res.destroyed) this.#res.write(`: ${text}\n\n`);
    }

    #release(): void {
        if (this.#closed) return;
        this.#closed = true;
        this.#queue = [];
        for (const t of this.#timers) clearTimeout(t);
        this.#onClose(this);
    }
}
