import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CustodyOutbox, type CustodyOutboxOptions, type CustodyTask, type TaskOutcome } from './custody-outbox.js';

const deliver = (recordId: string, grantee: string): CustodyTask => ({ kind: 'deliver', recordId, grantee });
const purge = (recordId: string): CustodyTask => ({ kind: 'purge', recordId });

async function until(what: string, condition: () => boolean, timeoutMs = 3_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 2));
    }
}

describe('CustodyOutbox', () => {
    let dir: string;
    let journal: string;
    let runs: CustodyTask[][];
    let fail: (task: CustodyTask) => boolean;
    let outboxes: CustodyOutbox[];

    const outbox = (o: Partial<CustodyOutboxOptions> = {}) => {
        const box = new CustodyOutbox({
            path: journal,
            execute: async (tasks): Promise<TaskOutcome[]> => {
                runs.push(tasks);
                await new Promise((r) => setTimeout(r, 2));
                return tasks.map((t) => (fail(t) ? { done: false, error: 'UNAVAILABLE' } : { done: true }));
            },
            concurrency: 4,
            batchSize: 3,
            initialBackoffMs: 10,
            maxBackoffMs: 40,
            random: () => 0.5,
            ...o,
        });
        outboxes.push(box);
        return box;
    };

    beforeEach(() => {
        dir = mkdtempSync(path.join(tmpdir(), 'outbox-'));
        journal = path.join(dir, 'custody.json');
        runs = [];
        fail = () => false;
        outboxes = [];
    });

    afterEach(async () => {
        await Promise.all(outboxes.map((b) => b.stop()));
        rmSync(dir, { recursive: true, force: true });
    });

    it('records tasks in the journal at flush(), and removes them once done', async () => {
        const box = outbox();
        box.add([purge('r1'), deliver('r1', 'H2')]);
        box.flush();
        const saved = JSON.parse(readFileSync(journal, 'utf8')) as { tasks: { id: string }[] };
        expect(saved.tasks.map((t) => t.id)).toEqual(['purge:r1', 'deliver:H2:r1']);
        box.start();
        await box.drained(2);
        await box.stop();
        expect((JSON.parse(readFileSync(journal, 'utf8')) as { tasks: unknown[] }).tasks).toEqual([]);
    });

    it('without flush(), writes the journal once for every change within saveDelayMs (group commit)', async () => {
        const box = outbox({ saveDelayMs: 50 });
        box.add([purge('r1')]);
        box.add([purge('r2')]);
        expect(() => readFileSync(journal, 'utf8')).toThrow(/ENOENT/);
        await new Promise((r) => setTimeout(r, 150));
        const saved = JSON.parse(readFileSync(journal, 'utf8')) as { tasks: { id: string }[] };
        expect(saved.tasks.map((t) => t.id)).toEqual(['purge:r1', 'purge:r2']);
    });

    it('batches deliveries per grantee in the order added, up to the batch size', async () => {
        const box = outbox({ concurrency: 1 });
        box.add(['a', 'b', 'c', 'd'].map((r) => deliver(r, 'H2')));
        box.add([deliver('x', 'H3')]);
        box.start();
        await box.drained(2);
        expect(runs.map((g) => g.map((t) => (t as { recordId: string }).recordId))).toEqual([['a', 'b', 'c'], ['d'], ['x']]);
    });

    it('is idempotent: the same task added twice is queued and run once', async () => {
        const box = outbox();
        box.add([deliver('a', 'H2'), deliver('a', 'H2')]);
        box.add([deliver('a', 'H2')]);
        expect(box.stats().queued).toBe(1);
        box.start();
        await box.drained(2);
        expect(runs.flat()).toHaveLength(1);
    });

    it('restarts from the journal: tasks recorded but not done run in the next process', async () => {
        const first = outbox();
        first.add([deliver('a', 'H2'), purge('b')]);
        await first.stop(); // never started: a crash before any work
        const second = outbox();
        expect(second.stats().queued).toBe(2);
        second.start();
        await second.drained(2);
        expect(runs.flat().map((t) => t.kind).sort()).toEqual(['deliver', 'purge']);
    });

    it('a poison task that keeps failing does not block the others, and is retried with growing backoff', async () => {
        fail = (t) => t.kind === 'deliver' && t.grantee === 'H3';
        const times: number[] = [];
        const box = outbox({
            execute: async (tasks) => {
                runs.push(tasks);
                if (tasks[0].kind === 'deliver' && tasks[0].grantee === 'H3') times.push(Date.now());
                return tasks.map((t) => (fail(t) ? { done: false, error: 'UNAVAILABLE' } : { done: true }));
            },
        });
        box.start();
        box.add([deliver('p', 'H3')]);
        box.add([deliver('a', 'H2'), purge('b'), deliver('c', 'H2')]);
        await until('the others to be done', () => box.stats().queued === 1);
        await until('four attempts of the poison task', () => times.length >= 4);
        expect(box.stats()).toMatchObject({ queued: 1, byKind: { deliver: 1 }, deliveriesByGrantee: { H3: 1 } });
        // 10, 20, 40, 40 ms (capped; jitter fixed at 1×): each wait at least as long as the one before, up to the cap.
        const gaps = times.slice(1).map((t, i) => t - times[i]);
        expect(gaps[0]).toBeGreaterThanOrEqual(9);
        expect(gaps[1]).toBeGreaterThanOrEqual(19);
        expect(gaps[2]).toBeGreaterThanOrEqual(39);
        const saved = JSON.parse(readFileSync(journal, 'utf8')) as { tasks: { id: string; attempts: number; lastError: string }[] };
        expect(saved.tasks).toEqual([expect.objectContaining({ id: 'deliver:H3:p', lastError: 'UNAVAILABLE' })]);
        expect(saved.tasks[0].attempts).toBeGreaterThanOrEqual(1);
        fail = () => false;
        await box.drained(2);
    });

    it('a slow lane (one grantee whose endorsement hangs) does not hold up other lanes', async () => {
        let release: () => void = () => undefined;
        const hanging = new Promise<void>((r) => (release = r));
        const box = outbox({
            execute: async (tasks) => {
                runs.push(tasks);
                if (tasks[0].kind === 'deliver' && tasks[0].grantee === 'H3') await hanging;
                return tasks.map(() => ({ done: true }));
            },
        });
        box.start();
        box.add([deliver('p', 'H3'), deliver('q', 'H3')]);
        box.add([deliver('a', 'H2'), purge('b')]);
        await until('the other lanes to be done', () => box.stats().queued === 2);
        expect(box.stats().inFlight).toBe(2);
        release();
        await box.drained(2);
    });

    it('runs a few batches of one grantee at once, but one at a time while its last attempt failed', async () => {
        let inFlight = 0;
        let most = 0;
        let failing = true;
        const box = outbox({
            laneConcurrency: 3,
            batchSize: 1,
            execute: async (tasks) => {
                inFlight++;
                most = Math.max(most, inFlight);
                await new Promise((r) => setTimeout(r, 5));
                inFlight--;
                return tasks.map(() => (failing ? { done: false, error: 'UNAVAILABLE' } : { done: true }));
            },
        });
        box.add(['a', 'b', 'c', 'd', 'e', 'f'].map((r) => deliver(r, 'H3')));
        box.start();
        await until('a failure', () => box.stats().retrying > 0);
        most = 0;
        await new Promise((r) => setTimeout(r, 150));
        expect(most).toBe(1);
        failing = false;
        box.add(['g', 'h', 'i', 'j', 'k', 'l'].map((r) => deliver(r, 'H3')));
        await box.drained(2);
        expect(most).toBe(3);
    });

    it('delays tasks added with a delay', async () => {
        const box = outbox();
        box.start();
        const t0 = Date.now();
        box.add([deliver('a', 'H2')], { delayMs: 50 });
        await box.drained(2);
        expect(Date.now() - t0).toBeGreaterThanOrEqual(45);
    });

    it('reports its state: queued, failing, oldest age', async () => {
        let now = 1_000_000;
        const box = outbox({ now: () => now });
        box.add([deliver('a', 'H2'), purge('b')]);
        now += 5_000;
        expect(box.stats()).toMatchObject({ queued: 2, retrying: 0, oldestAgeSeconds: 5, byKind: { deliver: 1, purge: 1 } });
    });

    it('refuses a journal it cannot read rather than losing its tasks', () => {
        writeFileSync(journal, '{"version":1,"tasks":[{"id":1}]}');
        expect(() => outbox()).toThrow(/not a custody journal/);
    });
});
