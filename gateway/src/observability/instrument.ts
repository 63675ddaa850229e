import type { BlobStore, Ledger } from '../ports.js';
import type { Metrics } from './metrics.js';

/** Wraps every Ledger method so its latency lands in the fabric histogram. */
export function instrumentLedger(ledger: Ledger, metrics: Metrics): Ledger {
    return new Proxy(ledger, {
        get(target, property, receiver) {
            const value = Reflect.get(target, property, receiver) as unknown;
            if (typeof value !== 'function' || typeof property !== 'string') return value;
            return (...args: unknown[]) => metrics.timeFabric(property, () => (value as (...a: unknown[]) => Promise<unknown>).apply(target, args));
        },
    });
}

/** Times the blob store's calls; `cat` is timed from the request to the end of the stream. */
export function instrumentBlobStore(store: BlobStore, metrics: Metrics): BlobStore {
    return {
        add: (content, signal) => metrics.timeIpfs('add', () => store.add(content, signal)),
        cat: (cid, signal) => timedIterable(metrics, store.cat(cid, signal)),
        pins: (cid) => metrics.timeIpfs('pins', () => store.pins(cid)),
        unpin: (cid) => metrics.timeIpfs('unpin', () => store.unpin(cid)),
        discard: (cid) => metrics.timeIpfs('discard', () => store.discard(cid)),
        health: () => store.health(),
    };
}

async function* timedIterable(metrics: Metrics, source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    const end = metrics.ipfsDuration.startTimer({ operation: 'cat' });
    let outcome = 'error';
    try {
        yield* source;
        outcome = 'ok';
    } finally {
        end({ outcome });
    }
}
