import { z } from 'zod';
import { readStateFile, writeStateFile } from './state-file.js';

/**
 * The custody work of a hospital (DESIGN §9): each delivery, purge and unpin is a
 * task of its own. The expanding tasks (`grant`, `created`, `purgePatient`) look up
 * what to do and add the fine-grained ones.
 */
export type CustodyTask =
    /** Deliver the patient's records this hospital holds an envelope for to a new grantee. */
    | { kind: 'grant'; patientId: string; grantee: string }
    /** Deliver a new record to the patient's current grantees. */
    /** `holders`: who got an envelope in the record's own transaction (absent in journals written before it was kept). */
    | { kind: 'created'; recordId: string; patientId: string; custodian: string; holders?: string[] }
    | { kind: 'deliver'; recordId: string; grantee: string }
    /** Purge every envelope this hospital holds for the patient (its consent ended). */
    | { kind: 'purgePatient'; patientId: string }
    | { kind: 'purge'; recordId: string }
    | { kind: 'unpin'; recordId: string }
    /** Remove an erased blob's blocks from this hospital's own IPFS node (every hospital). */
    | { kind: 'discard'; cid: string };

export type CustodyKind = CustodyTask['kind'];
export const CUSTODY_KINDS: readonly CustodyKind[] = ['grant', 'created', 'deliver', 'purgePatient', 'purge', 'unpin', 'discard'];

const taskSchema = z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('grant'), patientId: z.string().min(1), grantee: z.string().min(1) }),
    z.object({ kind: z.literal('created'), recordId: z.string().min(1), patientId: z.string().min(1), custodian: z.string().min(1), holders: z.array(z.string().min(1)).optional() }),
    z.object({ kind: z.literal('deliver'), recordId: z.string().min(1), grantee: z.string().min(1) }),
    z.object({ kind: z.literal('purgePatient'), patientId: z.string().min(1) }),
    z.object({ kind: z.literal('purge'), recordId: z.string().min(1) }),
    z.object({ kind: z.literal('unpin'), recordId: z.string().min(1) }),
    z.object({ kind: z.literal('discard'), cid: z.string().min(1) }),
]);

const entrySchema = z.object({
    id: z.string().min(1),
    task: taskSchema,
    seq: z.number().int(),
    attempts: z.number().int().min(0),
    enqueuedAt: z.number(),
    dueAt: z.number(),
    lastError: z.string().optional(),
});
type Entry = z.infer<typeof entrySchema>;

const journalSchema = z.object({ version: z.literal(1), seq: z.number().int(), tasks: z.array(entrySchema) });

/** The task's identity: adding the same work twice is one task (idempotence). */
export function taskId(task: CustodyTask): string {
    switch (task.kind) {
        case 'grant':
            return `grant:${task.patientId}:${task.grantee}`;
        case 'created':
            return `created:${task.recordId}`;
        case 'deliver':
            return `deliver:${task.grantee}:${task.recordId}`;
        case 'purgePatient':
            return `purgePatient:${task.patientId}`;
        case 'purge':
            return `purge:${task.recordId}`;
        case 'unpin':
            return `unpin:${task.recordId}`;
        case 'discard':
            return `discard:${task.cid}`;
    }
}

/**
 * Tasks that run together: deliveries to one grantee share a lane and go in batches,
 * one batch in flight per grantee (a grantee that is down holds up only its own lane).
 * Every other task is a lane of its own.
 */
const laneOf = (id: string, task: CustodyTask) => (task.kind === 'deliver' ? `deliver:${task.grantee}` : id);

/** What became of a task: done (also: refused for good), or to be retried after a backoff. */
export type TaskOutcome = { done: true } | { done: false; error: string };

export interface OutboxStats {
    queued: number;
    /** Tasks whose last attempt failed (waiting for the next one, or in it). */
    retrying: number;
    inFlight: number;
    /** Age of the oldest queued task, 0 when none. */
    oldestAgeSeconds: number;
    byKind: Record<CustodyKind, number>;
    /** Queued deliveries per grantee. */
    deliveriesByGrantee: Record<string, number>;
}

export interface CustodyOutboxOptions {
    /** The journal (JSON, replaced atomically). */
    path: string;
    /**
     * Runs tasks: one, or a batch of deliveries to one grantee. Answers one outcome
     * per task, in order; a throw counts as a failure of every task given.
     */
    execute: (tasks: CustodyTask[]) => Promise<TaskOutcome[]>;
    /** Batches or single tasks in flight at once. */
    concurrency: number;
    /** Deliveries per batch. */
    batchSize: number;
    /**
     * Batches in flight per grantee (default 1). Batches of one grantee write disjoint
     * keys, so a few at once overlap one's wrapping with another's commit. A lane whose
     * last attempt failed (a grantee that is down) gets one at a time, so it never holds
     * more than one of the `concurrency` slots.
     */
    laneConcurrency?: number;
    /** Backoff after the first failure; doubles per failure up to maxBackoffMs, with jitter. */
    initialBackoffMs: number;
    maxBackoffMs: number;
    /** Called after each attempt (for metrics). */
    onAttempt?: (kind: CustodyKind, outcome: 'done' | 'failed', tasks: number) => void;
    /** Called when the queue changed, at most every statusIntervalMs (for the status file). */
    onStatus?: (stats: OutboxStats) => void;
    statusIntervalMs?: number;
    /** How long changes wait to be written together (default 100 ms); flush() writes at once. */
    saveDelayMs?: number;
    now?: () => number;
    random?: () => number;
}

/**
 * A durable outbox of independent custody tasks. `add` records tasks in memory and
 * the journal is written (synced) within `saveDelayMs`, once for every change made
 * meanwhile: group commit, since one synced write per event cost a tenth of the
 * gateway's CPU under load. A caller that must not go on before the tasks are on
 * disk calls `flush()`: the event follower before it persists its checkpoint, so an
 * event is checkpointed once its work is recorded (after a crash, events past the
 * checkpoint are replayed and add their tasks again). Each task has its own retry
 * with exponential backoff; a task that keeps failing never holds up another lane.
 * Replaying a task after a crash is harmless (the work is idempotent).
 */
export class CustodyOutbox {
    readonly #o: CustodyOutboxOptions;
    readonly #now: () => number;
    readonly #random: () => number;
    readonly #entries = new Map<string, Entry>();
    /** Task IDs being executed now, and lanes busy. */
    readonly #running = new Set<string>();
    /** Groups in flight per lane. */
    readonly #busyLanes = new Map<string, number>();
    /** Lanes whose last attempt failed: one group at a time until one succeeds. */
    readonly #failingLanes = new Set<string>();
    /** Tasks added again while running: rerun once more when they finish. */
    readonly #again = new Set<string>();
    #seq = 0;
    #groups = 0;
    #timer: NodeJS.Timeout | undefined;
    #saveTimer: NodeJS.Timeout | undefined;
    #statusTimer: NodeJS.Timeout | undefined;
    #lastStatus = 0;
    #started = false;
    #idle: (() => void)[] = [];

    constructor(options: CustodyOutboxOptions) {
        this.#o = options;
        this.#now = options.now ?? Date.now;
        this.#random = options.random ?? Math.random;
        const journal = load(options.path);
        for (const e of journal?.tasks ?? []) this.#entries.set(e.id, e);
        this.#seq = journal?.seq ?? 0;
    }

    start(): void {
        this.#started = true;
        this.#pump();
    }

    /**
     * Stops starting tasks, waits a while (`waitMs`) for those running, and saves the
     * journal. A task still running then (a grantee that does not answer) is simply
     * run again by the next process: it is in the journal, and the work is idempotent.
     */
    async stop(waitMs = 2_000): Promise<void> {
        this.#started = false;
        clearTimeout(this.#timer);
        clearTimeout(this.#saveTimer);
        clearTimeout(this.#statusTimer);
        if (this.#groups > 0) {
            let timer: NodeJS.Timeout | undefined;
            await Promise.race([
                new Promise<void>((r) => this.#idle.push(r)),
                new Promise<void>((r) => {
                    timer = setTimeout(r, waitMs);
                }),
            ]);
            clearTimeout(timer);
        }
        this.#save();
        // The last status, now: no timer may write it after the outbox stopped.
        this.#status(true);
        clearTimeout(this.#statusTimer);
        this.#statusTimer = undefined;
    }

    /** Records the tasks (on disk within saveDelayMs, or at flush()); already queued ones are kept as they are. */
    add(tasks: CustodyTask[], options: { delayMs?: number } = {}): void {
        if (tasks.length === 0) return;
        const now = this.#now();
        let changed = false;
        for (const task of tasks) {
            const id = taskId(task);
            const existing = this.#entries.get(id);
            if (existing) {
                if (this.#running.has(id)) this.#again.add(id);
                continue;
            }
            this.#entries.set(id, { id, task, seq: ++this.#seq, attempts: 0, enqueuedAt: now, dueAt: now + (options.delayMs ?? 0) });
            changed = true;
        }
        if (changed) this.#saveSoon();
        this.#pump();
    }

    /** Writes the journal now if anything changed since it was last written. */
    flush(): void {
        if (this.#saveTimer) this.#save();
    }

    has(task: CustodyTask): boolean {
        return this.#entries.has(taskId(task));
    }

    stats(): OutboxStats {
        const now = this.#now();
        const byKind = Object.fromEntries(CUSTODY_KINDS.map((k) => [k, 0])) as Record<CustodyKind, number>;
        const deliveriesByGrantee: Record<string, number> = {};
        let retrying = 0;
        let oldest = now;
        for (const e of this.#entries.values()) {
            byKind[e.task.kind]++;
            if (e.task.kind === 'deliver') deliveriesByGrantee[e.task.grantee] = (deliveriesByGrantee[e.task.grantee] ?? 0) + 1;
            if (e.attempts > 0) retrying++;
            oldest = Math.min(oldest, e.enqueuedAt);
        }
        return {
            queued: this.#entries.size,
            retrying,
            inFlight: this.#running.size,
            oldestAgeSeconds: Math.max(0, (now - oldest) / 1000),
            byKind,
            deliveriesByGrantee,
        };
    }

    /** Resolves when nothing is queued any more (tests, shutdown diagnostics). */
    async drained(pollMs = 10): Promise<void> {
        while (this.#entries.size > 0) await new Promise((r) => setTimeout(r, pollMs));
    }

    /** Starts every due group that fits, then sleeps until the next task is due. */
    #pump(): void {
        if (!this.#started) return;
        clearTimeout(this.#timer);
        this.#timer = undefined;
        const now = this.#now();
        const waiting = [...this.#entries.values()]
            .filter((e) => !this.#running.has(e.id))
            .sort((a, b) => a.dueAt - b.dueAt || a.seq - b.seq);
        let next = Infinity;
        for (const e of waiting) {
            if (this.#groups >= this.#o.concurrency) break;
            const lane = laneOf(e.id, e.task);
            if (this.#laneFull(lane) || this.#running.has(e.id)) continue;
            if (e.dueAt > now) {
                next = Math.min(next, e.dueAt);
                continue;
            }
            const group =
                e.task.kind === 'deliver'
                    ? waiting
                          .filter((x) => x.dueAt <= now && !this.#running.has(x.id) && laneOf(x.id, x.task) === lane)
                          .sort((a, b) => a.seq - b.seq)
                          .slice(0, this.#o.batchSize)
                    : [e];
            this.#launch(lane, group);
        }
        if (this.#groups < this.#o.concurrency) {
            for (const e of waiting) {
                if (!this.#running.has(e.id) && !this.#laneFull(laneOf(e.id, e.task)) && e.dueAt > now) next = Math.min(next, e.dueAt);
            }
        }
        if (next !== Infinity) {
            this.#timer = setTimeout(() => this.#pump(), Math.max(1, next - now));
            this.#timer.unref();
        }
        this.#status();
    }

    #laneFull(lane: string): boolean {
        const limit = lane.startsWith('deliver:') && !this.#failingLanes.has(lane) ? (this.#o.laneConcurrency ?? 1) : 1;
        return (this.#busyLanes.get(lane) ?? 0) >= limit;
    }

    #launch(lane: string, group: Entry[]): void {
        this.#groups++;
        this.#busyLanes.set(lane, (this.#busyLanes.get(lane) ?? 0) + 1);
        for (const e of group) this.#running.add(e.id);
        void this.#execute(group).finally(() => {
            this.#groups--;
            const left = (this.#busyLanes.get(lane) ?? 1) - 1;
            if (left > 0) this.#busyLanes.set(lane, left);
            else this.#busyLanes.delete(lane);
            for (const e of group) this.#running.delete(e.id);
            if (this.#groups === 0) for (const r of this.#idle.splice(0)) r();
            this.#pump();
        });
    }

    async #execute(group: Entry[]): Promise<void> {
        let outcomes: TaskOutcome[];
        try {
            outcomes = await this.#o.execute(group.map((e) => e.task));
        } catch (err) {
            const error = (err as Error)?.message ?? String(err);
            outcomes = group.map(() => ({ done: false, error }));
        }
        const now = this.#now();
        let done = 0;
        for (const [i, e] of group.entries()) {
            const outcome = outcomes[i] ?? { done: false, error: 'no outcome' };
            if (this.#again.delete(e.id)) {
                // Added again while running: the state it read may be older than the new work.
                Object.assign(e, { attempts: 0, dueAt: now, lastError: undefined });
                continue;
            }
            if (outcome.done) {
                this.#entries.delete(e.id);
                done++;
                continue;
            }
            e.attempts++;
            e.lastError = outcome.error.slice(0, 500);
            e.dueAt = now + this.#backoff(e.attempts);
        }
        const lane = laneOf(group[0].id, group[0].task);
        if (done < group.length) this.#failingLanes.add(lane);
        else this.#failingLanes.delete(lane);
        const kind = group[0].task.kind;
        if (done > 0) this.#o.onAttempt?.(kind, 'done', done);
        if (done < group.length) this.#o.onAttempt?.(kind, 'failed', group.length - done);
        // Failures change what is due: save them at once; completions may be saved later.
        if (done < group.length) this.#save();
        else this.#saveSoon();
    }

    #backoff(attempts: number): number {
        const base = Math.min(this.#o.maxBackoffMs, this.#o.initialBackoffMs * 2 ** Math.min(attempts - 1, 30));
        return Math.round(base * (0.75 + this.#random() / 2));
    }

    #saveSoon(): void {
        if (this.#saveTimer) return;
        this.#saveTimer = setTimeout(() => {
            this.#saveTimer = undefined;
            this.#save();
        }, this.#o.saveDelayMs ?? 100);
        this.#saveTimer.unref();
    }

    /** Written whole to a temporary file, synced, and renamed into place: a crash leaves the old or the new journal. */
    #save(): void {
        clearTimeout(this.#saveTimer);
        this.#saveTimer = undefined;
        writeStateFile(this.#o.path, { version: 1, seq: this.#seq, tasks: [...this.#entries.values()] }, { sync: true });
        this.#status();
    }

    /**
     * The status file, at most every statusIntervalMs: a change inside the interval is
     * written at its end, so the file never stays behind the queue for longer.
     */
    #status(force = false): void {
        if (!this.#o.onStatus) return;
        const now = this.#now();
        const interval = this.#o.statusIntervalMs ?? 1_000;
        if (!force && now - this.#lastStatus < interval) {
            if (!this.#statusTimer) {
                this.#statusTimer = setTimeout(() => {
                    this.#statusTimer = undefined;
                    this.#status(true);
                }, interval - (now - this.#lastStatus));
                this.#statusTimer.unref();
            }
            return;
        }
        clearTimeout(this.#statusTimer);
        this.#statusTimer = undefined;
        this.#lastStatus = now;
        try {
            this.#o.onStatus(this.stats());
        } catch {
            // A status writer's failure must not stop custody.
        }
    }
}

function load(path: string): z.infer<typeof journalSchema> | undefined {
    return readStateFile(path, journalSchema, 'a custody journal');
}
