import type { ChaincodeEvent, Checkpointer } from '@hyperledger/fabric-gateway';
import { BatchedCheckpoint } from './batched-checkpoint.js';

const event = (block: bigint, txId: string) => ({ blockNumber: block, transactionId: txId }) as unknown as ChaincodeEvent;

/** A checkpointer that records what it was told, in order. */
function recording() {
    const written: string[] = [];
    const cp = {
        checkpointChaincodeEvent: async (e: ChaincodeEvent) => {
            await new Promise((r) => setTimeout(r, 5));
            written.push(`${e.blockNumber}:${e.transactionId}`);
        },
    } as unknown as Checkpointer;
    return { cp, written };
}

describe('BatchedCheckpoint', () => {
    test('writes the last event noted once per delay, after the outbox flush', async () => {
        const { cp, written } = recording();
        const order: string[] = [];
        const batched = new BatchedCheckpoint(cp, () => order.push(`flush before ${written.length}`), 30);
        for (let i = 1; i <= 5; i++) batched.note(event(BigInt(i), `tx${i}`));
        expect(written).toEqual([]);
        await new Promise((r) => setTimeout(r, 80));
        expect(written).toEqual(['5:tx5']);
        expect(order).toEqual(['flush before 0']);
    });

    test('flush() writes at once, never an older event after a newer one, and nothing when nothing is new', async () => {
        const { cp, written } = recording();
        let flushes = 0;
        const batched = new BatchedCheckpoint(cp, () => flushes++, 10_000);
        batched.note(event(1n, 'a'));
        const first = batched.flush();
        batched.note(event(2n, 'b'));
        await Promise.all([first, batched.flush()]);
        await batched.flush();
        // The second event was noted before the first write began: it covers both.
        expect(written).toEqual(['2:b']);
        expect(flushes).toBe(1);
        batched.note(event(3n, 'c'));
        await batched.flush();
        expect(written).toEqual(['2:b', '3:c']);
    });
});
