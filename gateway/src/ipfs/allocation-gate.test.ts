import { AllocationGate, AllocationUnavailableError, isAllocationFailure, type ClusterMetric } from './allocation-gate.js';

const metric = (name: string, peer: string, valid = true): ClusterMetric => ({ name, peer, valid });

/** A gate over scripted metric answers and a virtual clock. */
function gateOver(answers: Array<Record<string, ClusterMetric[]> | Error>, overrides: { waitMs?: number; trustMs?: number } = {}) {
    let clock = 0;
    let calls = 0;
    const sleeps: number[] = [];
    const gate = new AllocationGate({
        replicationMin: 2,
        metrics: ['tag:group', 'freespace'],
        waitMs: overrides.waitMs ?? 1_000,
        probeIntervalMs: 250,
        trustMs: overrides.trustMs ?? 2_000,
        now: () => clock,
        sleep: async (ms) => {
            sleeps.push(ms);
            clock += ms;
        },
        latestMetrics: async (name) => {
            const answer = answers[Math.min(Math.floor(calls++ / 2), answers.length - 1)];
            if (answer instanceof Error) throw answer;
            return answer[name] ?? [];
        },
    });
    return { gate, sleeps, advance: (ms: number) => (clock += ms), calls: () => calls };
}

const both = (peers: string[]) => ({
    'tag:group': peers.map((p) => metric('tag:group', p)),
    freespace: peers.map((p) => metric('freespace', p)),
});

describe('AllocationGate', () => {
    test('counts only peers that have a valid value of every allocator metric', async () => {
        const { gate } = gateOver([
            {
                'tag:group': [metric('tag:group', 'A'), metric('tag:group', 'B'), metric('tag:group', 'C')],
                freespace: [metric('freespace', 'A'), metric('freespace', 'B', false)],
            },
        ]);
        await expect(gate.candidates(new AbortController().signal)).resolves.toBe(1);
    });

    test('resolves at once when enough peers can take the pin', async () => {
        const { gate, sleeps } = gateOver([both(['A', 'B', 'C'])]);
        await gate.ready();
        expect(sleeps).toEqual([]);
    });

    test('waits while metrics arrive, then resolves', async () => {
        const { gate, sleeps } = gateOver([both(['A']), both(['A']), both(['A', 'B'])]);
        await gate.ready();
        expect(sleeps).toEqual([250, 250]);
    });

    test('a Cluster that does not answer counts as not ready, not as a crash', async () => {
        const { gate } = gateOver([new Error('ECONNREFUSED'), both(['A', 'B'])]);
        await expect(gate.ready()).resolves.toBeUndefined();
    });

    test('gives up after waitMs with a 503-able error naming what is missing', async () => {
        const { gate, sleeps } = gateOver([both(['A'])], { waitMs: 1_000 });
        const err = await gate.ready().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(AllocationUnavailableError);
        expect((err as AllocationUnavailableError).dependency).toBe('cluster');
        expect((err as AllocationUnavailableError).candidates).toBe(1);
        expect((err as Error).message).toMatch(/allocate to 1 of the 2 peers/);
        expect(sleeps.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(1_000);
    });

    test('trusts a success for trustMs, looks again after it or after invalidate()', async () => {
        const { gate, advance, calls } = gateOver([both(['A', 'B'])], { trustMs: 2_000 });
        await gate.ready();
        const afterFirst = calls();
        await gate.ready();
        expect(calls()).toBe(afterFirst);
        advance(2_001);
        await gate.ready();
        expect(calls()).toBe(afterFirst * 2);
        gate.invalidate();
        await gate.ready();
        expect(calls()).toBe(afterFirst * 3);
    });

    test('an aborted request stops waiting', async () => {
        const { gate } = gateOver([both(['A'])]);
        const ac = new AbortController();
        ac.abort(new Error('client went away'));
        await expect(gate.ready(ac.signal)).rejects.toThrow('client went away');
    });

    test("recognises Cluster's allocation error", () => {
        expect(
            isAllocationFailure('not enough peers to allocate CID. Needed at least: 2. Wanted at most: 3. Available candidates: 1.'),
        ).toBe(true);
        expect(isAllocationFailure('context canceled')).toBe(false);
    });
});
