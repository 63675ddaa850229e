import { ErasureCollector, type ErasureGcApi } from './erasure-gc.js';

/** A cluster of peers whose pin status and GC answers the test sets. */
class FakeCluster implements ErasureGcApi {
    status: Record<string, string> = {};
    down = new Set<string>();
    gcRuns = 0;
    gcAt: number[] = [];
    constructor(private readonly clock: { now: number }) {}
    async pinStatus(): Promise<Record<string, string>> {
        return Object.fromEntries(Object.entries(this.status).filter(([p]) => !this.down.has(p)));
    }
    async collectGarbage(): Promise<Record<string, string | undefined>> {
        this.gcRuns++;
        this.gcAt.push(this.clock.now);
        return Object.fromEntries(Object.keys(this.status).filter((p) => !this.down.has(p)).map((p) => [p, undefined]));
    }
}

describe('ErasureCollector', () => {
    const clock = { now: 1_000_000 };
    let cluster: FakeCluster;
    let gc: ErasureCollector;
    const infos: string[] = [];

    beforeEach(() => {
        clock.now = 1_000_000;
        cluster = new FakeCluster(clock);
        infos.length = 0;
        gc = new ErasureCollector(
            cluster,
            { firstDelayMs: 1e9, maxDelayMs: 1e9, settleMs: 3_000, giveUpMs: 60_000, logger: { info: (_o, m) => infos.push(m), warn: (_o, m) => infos.push(m) } },
            () => clock.now,
        );
    });

    afterEach(() => gc.close());

    it('runs no GC before every holder reported the blob unpinned and it settled, then collects once', async () => {
        cluster.status = { A: 'unpinning', B: 'unpinned', C: 'unpinned' };
        gc.schedule('cid1', ['A', 'B']);
        await gc.runRound();
        expect(cluster.gcRuns).toBe(0); // nothing settled yet
        clock.now += 3_000;
        cluster.status.A = 'unpinned';
        await gc.runRound();
        expect(cluster.gcRuns).toBe(1); // B and C settled: collected there
        expect(gc.pending).toEqual(['cid1']); // A released too late for that GC
        clock.now += 3_000;
        await gc.runRound();
        expect(cluster.gcRuns).toBe(2);
        expect(gc.pending).toEqual([]);
        expect(infos).toContain('erased blob collected from every repo');
    });

    it('keeps waiting for a holder that is down, and collects on it when it is back', async () => {
        cluster.status = { A: 'unpinned', B: 'unpinned', C: 'unpinned' };
        cluster.down.add('C');
        gc.schedule('cid2', ['A', 'C']);
        await gc.runRound();
        clock.now += 5_000;
        await gc.runRound();
        expect(cluster.gcRuns).toBe(1);
        expect(gc.pending).toEqual(['cid2']);
        clock.now += 5_000;
        await gc.runRound();
        expect(gc.pending).toEqual(['cid2']);
        // C is back: its status still names the pin until its tracker releases it.
        cluster.down.delete('C');
        cluster.status.C = 'pinned';
        clock.now += 5_000;
        await gc.runRound();
        expect(gc.pending).toEqual(['cid2']);
        cluster.status.C = 'unpinned';
        await gc.runRound();
        clock.now += 3_000;
        await gc.runRound();
        expect(gc.pending).toEqual([]);
    });

    it('a peer once seen must collect later blobs even when it is down at their erasure', async () => {
        cluster.status = { A: 'unpinned', B: 'unpinned' };
        gc.schedule('first');
        await gc.runRound();
        clock.now += 3_000;
        await gc.runRound();
        expect(gc.pending).toEqual([]);
        cluster.down.add('B');
        gc.schedule('second');
        await gc.runRound();
        clock.now += 3_000;
        await gc.runRound();
        expect(gc.pending).toEqual(['second']);
    });

    it('gives up on a peer that never comes back, and survives a failing round', async () => {
        cluster.status = { A: 'unpinned' };
        gc.schedule('cid3', ['GONE']);
        const failing = cluster.pinStatus;
        cluster.pinStatus = () => Promise.reject(new Error('cluster down'));
        await gc.runRound();
        expect(infos.at(-1)).toMatch(/round failed/);
        cluster.pinStatus = failing;
        clock.now += 61_000;
        await gc.runRound();
        expect(gc.pending).toEqual([]);
        expect(infos.at(-1)).toMatch(/gave up/);
    });
});
