import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BlobCorruptedError, BlobIntegrityMonitor, BlobStillPinnedError, BlobUnretrievableError, type BlobIntegrityEvent } from '../ports.js';
import { rawSha256Of } from './cid.js';
import { ClusterBlobStore, readAhead } from './cluster-blob-store.js';
import { parseRepoVerify } from './kubo-integrity.js';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
function base32(bytes: Buffer): string {
    let out = '';
    let bits = 0;
    let value = 0;
    for (const b of bytes) {
        value = (value << 8) | b;
        bits += 8;
        while (bits >= 5) {
            out += BASE32[(value >>> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
    return out;
}
/** The CIDv1 (raw, sha2-256) of a single-block blob. */
const rawCid = (bytes: Buffer) => 'b' + base32(Buffer.concat([Buffer.from([0x01, 0x55, 0x12, 0x20]), createHash('sha256').update(bytes).digest()]));
const DAG_CID = 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi';

/** What the fake Kubo does with the next cat: serve the bytes, fail like HashOnRead, or hold the block back. */
type CatBehaviour = 'ok' | 'corrupt-before' | 'corrupt-trailer' | 'other-trailer' | 'silent' | 'corrupt-bytes';

class FakeKubo {
    readonly dir = mkdtempSync(path.join(tmpdir(), 'fake-kubo-'));
    readonly socket = path.join(this.dir, 'api.sock');
    readonly server: Server;
    readonly cats: { offset: number }[] = [];
    drops = 0;
    /** One behaviour per cat call, in order; `ok` once they run out. */
    plan: CatBehaviour[] = [];
    dropOutput = '{"Msg":"","Progress":1}\n{"Msg":"block bafkx was corrupt (block in storage has different hash than requested), removed","Progress":0}\n{"Msg":"verify complete, 1 blocks corrupt, 1 removed","Progress":0}\n';

    constructor(readonly blob: Buffer) {
        this.server = createServer((req, res) => this.#handle(req, res));
    }

    listen(): Promise<void> {
        return new Promise((resolve) => this.server.listen(this.socket, resolve));
    }

    async close(): Promise<void> {
        this.server.closeAllConnections();
        await new Promise((resolve) => this.server.close(resolve));
        rmSync(this.dir, { recursive: true, force: true });
    }

    /** Blocks this node holds (CID -> its links), and the pinned ones, for refs and block/rm. */
    readonly blocks = new Map<string, string[]>();
    readonly pinned = new Set<string>();

    #handle(req: IncomingMessage, res: ServerResponse): void {
        const url = new URL(req.url ?? '/', 'http://kubo');
        if (url.pathname === '/api/v0/refs') {
            expect(url.searchParams.get('offline')).toBe('true');
            const root = url.searchParams.get('arg')!;
            if (!this.blocks.has(root)) {
                res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ Message: `block was not found locally (offline): ipld: could not find ${root}`, Code: 0, Type: 'error' }));
                return;
            }
            const lines: string[] = [];
            const walk = (c: string) => {
                for (const child of this.blocks.get(c) ?? []) {
                    if (!this.blocks.has(child)) lines.push(JSON.stringify({ Ref: '', Err: `could not find ${child}` }));
                    else {
                        lines.push(JSON.stringify({ Ref: child, Err: '' }));
                        walk(child);
                    }
                }
            };
            walk(root);
            res.writeHead(200, { 'content-type': 'application/json' }).end(lines.map((l) => l + '\n').join(''));
            return;
        }
        if (url.pathname === '/api/v0/block/rm') {
            expect(url.searchParams.get('force')).toBe('true');
            // Kubo's pin check: a block under a pinned root is pinned (indirectly) too.
            const under = (root: string, c: string): boolean => root === c || (this.blocks.get(root) ?? []).some((child) => under(child, c));
            const lines = url.searchParams.getAll('arg').map((c) => {
                if ([...this.pinned].some((p) => under(p, c))) return { Hash: c, Error: `pinned via ${[...this.pinned][0]}` };
                this.blocks.delete(c);
                return { Hash: c };
            });
            res.writeHead(200, { 'content-type': 'application/json' }).end(lines.map((l) => JSON.stringify(l) + '\n').join(''));
            return;
        }
        if (url.pathname === '/api/v0/repo/verify') {
            this.drops++;
            expect(url.searchParams.get('drop')).toBe('true');
            res.writeHead(200, { 'content-type': 'application/json', trailer: 'X-Stream-Error' });
            res.write(this.dropOutput);
            res.addTrailers({ 'X-Stream-Error': '' });
            res.end();
            return;
        }
        if (url.pathname !== '/api/v0/cat') {
            res.writeHead(404).end();
            return;
        }
        const offset = Number(url.searchParams.get('offset') ?? 0);
        this.cats.push({ offset });
        const behaviour = this.plan.shift() ?? 'ok';
        const error = (message: string) => JSON.stringify({ Message: message, Code: 0, Type: 'error' });
        if (behaviour === 'corrupt-before') {
            res.writeHead(500, { 'content-type': 'application/json', trailer: 'X-Stream-Error' }).end(error('block in storage has different hash than requested'));
            return;
        }
        if (behaviour === 'silent') {
            res.writeHead(200, { 'content-type': 'text/plain' });
            res.flushHeaders();
            return; // Kubo waiting for a block no peer has.
        }
        res.writeHead(200, { 'content-type': 'text/plain', trailer: 'X-Stream-Error' });
        const rest = this.blob.subarray(offset);
        if (behaviour === 'corrupt-trailer' || behaviour === 'other-trailer') {
            res.write(rest.subarray(0, 1000));
            res.addTrailers({ 'X-Stream-Error': behaviour === 'corrupt-trailer' ? 'block in storage has different hash than requested' : 'context canceled' });
            res.end();
            return;
        }
        if (behaviour === 'corrupt-bytes') {
            const bad = Buffer.from(rest);
            bad[bad.length - 1] ^= 0xff;
            res.end(bad);
            return;
        }
        res.end(rest);
    }
}

/** A store whose Kubo is the fake one; Cluster is never reached (reads and discards go to Kubo only). */
function storeOn(kubo: FakeKubo, options: Partial<ConstructorParameters<typeof ClusterBlobStore>[0]> = {}): ClusterBlobStore {
    return new ClusterBlobStore({
        kuboApiUrl: `unix://${kubo.socket}`,
        clusterRestUrl: 'http://127.0.0.1:1',
        timeoutMs: 2_000,
        replicationMin: 2,
        allocation: { metrics: ['tag:group'], waitMs: 0, probeIntervalMs: 1, trustMs: 0 },
        ...options,
    });
}

async function readAll(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of source) chunks.push(Buffer.from(c));
    return Buffer.concat(chunks);
}

describe('ClusterBlobStore cat: integrity', () => {
    const blob = randomBytes(62_000);
    let kubo: FakeKubo;
    let monitor: BlobIntegrityMonitor;
    let events: BlobIntegrityEvent[];
    let store: ClusterBlobStore;

    beforeEach(async () => {
        kubo = new FakeKubo(blob);
        await kubo.listen();
        monitor = new BlobIntegrityMonitor();
        events = [];
        monitor.subscribe((e) => events.push(e));
        store = storeOn(kubo, { integrity: { idleMs: 1_000, refetchMs: 300, monitor } });
    });

    afterEach(async () => {
        await kubo.close();
    });

    it('streams an intact blob and reports nothing', async () => {
        expect((await readAll(store.cat(rawCid(blob)))).equals(blob)).toBe(true);
        expect(events).toEqual([]);
        expect(kubo.drops).toBe(0);
    });

    it('fails a cat whose X-Stream-Error trailer is set, even when the body looked whole', async () => {
        kubo.plan = ['other-trailer'];
        await expect(readAll(store.cat(DAG_CID))).rejects.toThrow(/context canceled/);
        expect(events).toEqual([]);
    });

    it('heals a block that fails its hash before the first byte: drops it, refetches, serves the same bytes', async () => {
        const cid = rawCid(blob);
        kubo.plan = ['corrupt-before'];
        expect((await readAll(store.cat(cid))).equals(blob)).toBe(true);
        expect(kubo.drops).toBe(1);
        expect(kubo.cats).toEqual([{ offset: 0 }, { offset: 0 }]);
        expect(events.map((e) => e.action)).toEqual(['detected', 'dropped', 'healed']);
        expect(events.every((e) => e.cid === cid)).toBe(true);
    });

    it('heals a block that fails half-way (trailer) and resumes at the byte it reached', async () => {
        kubo.plan = ['corrupt-trailer'];
        expect((await readAll(store.cat(DAG_CID))).equals(blob)).toBe(true);
        expect(kubo.cats).toEqual([{ offset: 0 }, { offset: 1000 }]);
        expect(events.map((e) => e.action)).toEqual(['detected', 'dropped', 'healed']);
    });

    it('fails with BlobCorruptedError, before any byte, when no replica supplies the dropped block', async () => {
        kubo.plan = ['corrupt-before', 'silent'];
        const chunks: Uint8Array[] = [];
        const reading = (async () => {
            for await (const c of store.cat(rawCid(blob))) chunks.push(c);
        })();
        await expect(reading).rejects.toBeInstanceOf(BlobCorruptedError);
        expect(chunks).toEqual([]);
        expect(events.map((e) => e.action)).toEqual(['detected', 'dropped', 'unrecoverable']);
    });

    it('gives up after maxHeals when corruption keeps coming back', async () => {
        kubo.plan = ['corrupt-before', 'corrupt-before', 'corrupt-before', 'corrupt-before'];
        await expect(readAll(store.cat(rawCid(blob)))).rejects.toBeInstanceOf(BlobCorruptedError);
        expect(kubo.drops).toBe(3);
        expect(events.at(-1)?.action).toBe('unrecoverable');
    });

    it('hashes a single-block blob itself: wrong bytes from a node without HashOnRead are corruption', async () => {
        kubo.plan = ['corrupt-bytes'];
        await expect(readAll(store.cat(rawCid(blob)))).rejects.toBeInstanceOf(BlobCorruptedError);
        expect(events.map((e) => e.action)).toEqual(['detected', 'dropped', 'unrecoverable']);
        // The next read gets the refetched block.
        expect((await readAll(store.cat(rawCid(blob)))).equals(blob)).toBe(true);
    });

    it('fails with BlobUnretrievableError when Kubo sends nothing (a missing block), without reporting corruption', async () => {
        kubo.plan = ['silent'];
        await expect(readAll(store.cat(DAG_CID))).rejects.toBeInstanceOf(BlobUnretrievableError);
        expect(events).toEqual([]);
    });

    it('shares one repo/verify between concurrent reads that meet corruption', async () => {
        kubo.plan = ['corrupt-before', 'corrupt-before'];
        const [a, b] = await Promise.all([readAll(store.cat(rawCid(blob))), readAll(store.cat(rawCid(blob)))]);
        expect(a.equals(blob) && b.equals(blob)).toBe(true);
        expect(kubo.drops).toBe(1);
    });
});

describe('ClusterBlobStore discard: an erased blob leaves the node', () => {
    let kubo: FakeKubo;
    let store: ClusterBlobStore;
    const root = 'bafyroot';
    const others = { 'bafyother': ['bafyotherleaf'], 'bafyotherleaf': [] };
    /** This peer's Cluster status of the blob (GET /pins/<cid>?local=true); undefined: not in the pinset (404). */
    let clusterStatus: string | undefined;
    let cluster: Server;

    beforeAll(async () => {
        cluster = createServer((req, res) => {
            if (req.method !== 'GET' || !req.url?.startsWith(`/pins/${root}?local=true`)) {
                res.writeHead(404).end('{}');
                return;
            }
            if (clusterStatus === undefined) {
                res.writeHead(404).end('{"message":"not found"}');
                return;
            }
            res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ cid: root, peer_map: { self: { status: clusterStatus } } }));
        });
        await new Promise<void>((resolve) => cluster.listen(0, '127.0.0.1', resolve));
    });

    afterAll(async () => {
        await new Promise<void>((resolve) => cluster.close(() => resolve()));
    });

    beforeEach(async () => {
        clusterStatus = 'unpinned';
        kubo = new FakeKubo(Buffer.alloc(0));
        await kubo.listen();
        store = storeOn(kubo, { clusterRestUrl: `http://127.0.0.1:${(cluster.address() as AddressInfo).port}` });
        for (const [c, links] of Object.entries({ [root]: ['bafyn1', 'bafyl3'], bafyn1: ['bafyl1', 'bafyl2'], bafyl1: [], bafyl2: [], bafyl3: [], ...others })) {
            kubo.blocks.set(c, links);
        }
        kubo.pinned.add('bafyother');
    });

    afterEach(async () => {
        await kubo.close();
    });

    it("deletes every block of the blob this node holds, and only those", async () => {
        await expect(store.discard(root)).resolves.toBe(5);
        expect([...kubo.blocks.keys()].sort()).toEqual(['bafyother', 'bafyotherleaf']);
    });

    it('refuses while this node still pins the blob, and deletes nothing', async () => {
        kubo.pinned.add(root);
        await expect(store.discard(root)).rejects.toBeInstanceOf(BlobStillPinnedError);
        expect(kubo.blocks.has(root) && kubo.blocks.has('bafyl2')).toBe(true);
    });

    it('refuses while this hospital\'s Cluster peer is still pinning it (Kubo still fetching blocks), and deletes nothing', async () => {
        for (const state of ['pinning', 'pin_queued']) {
            clusterStatus = state;
            await expect(store.discard(root)).rejects.toBeInstanceOf(BlobStillPinnedError);
            expect(kubo.blocks.has(root)).toBe(true);
        }
        clusterStatus = undefined; // gone from the pinset
        await expect(store.discard(root)).resolves.toBe(5);
    });

    it('answers 0 when the node holds none of it (never fetched, or discarded already)', async () => {
        await store.discard(root);
        await expect(store.discard(root)).resolves.toBe(0);
        await expect(store.discard('bafynever')).resolves.toBe(0);
    });

    it('deletes what is there when the node holds part of the blob (a partial read cached some blocks)', async () => {
        kubo.blocks.delete('bafyn1');
        kubo.blocks.delete('bafyl1');
        await expect(store.discard(root)).resolves.toBe(2);
        expect(kubo.blocks.has(root) || kubo.blocks.has('bafyl3')).toBe(false);
    });
});

describe('CIDs and Kubo output', () => {
    it('reads the SHA-256 a raw CIDv1 names, and nothing from other CIDs', () => {
        const bytes = randomBytes(100);
        expect(rawSha256Of(rawCid(bytes))?.equals(createHash('sha256').update(bytes).digest())).toBe(true);
        expect(rawSha256Of('bafkreia7hpof4kqae2xbeqlsqe5yrleng3i6dkeiaswaoycbipyywt2k5i')?.toString('hex')).toMatch(/^[0-9a-f]{64}$/);
        expect(rawSha256Of(DAG_CID)).toBeUndefined();
        expect(rawSha256Of('QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn')).toBeUndefined();
        expect(rawSha256Of('b!!')).toBeUndefined();
    });

    it('counts the blocks repo/verify --drop removed and those it could not', () => {
        expect(
            parseRepoVerify(
                [
                    '{"Msg":"","Progress":1}',
                    '{"Msg":"block bafkreia was corrupt (block in storage has different hash than requested), removed","Progress":0}',
                    '{"Msg":"block bafkreib was corrupt (block in storage has different hash than requested), failed to remove: busy","Progress":0}',
                    '{"Msg":"verify complete, 2 blocks corrupt, 1 removed","Progress":0}',
                    'not json',
                ].join('\n'),
            ),
        ).toEqual({ dropped: 1, failed: 1 });
    });
});

describe('readAhead (which way an add goes)', () => {
    async function* chunks(sizes: number[]) {
        for (const [i, n] of sizes.entries()) yield new Uint8Array(n).fill(i + 1);
    }
    const collect = async (it: AsyncIterable<Uint8Array>) => {
        const parts: Uint8Array[] = [];
        for await (const c of it) parts.push(c);
        return Buffer.concat(parts);
    };

    it('a stream that ends within the limit: ended, and the same bytes again', async () => {
        const whole = await collect(chunks([3, 4, 5]));
        const ahead = await readAhead(chunks([3, 4, 5]), 12);
        expect(ahead.ended).toBe(true);
        expect(await collect(ahead.content)).toEqual(whole);
    });

    it('a longer one: not ended, and every byte in order, what was read ahead first', async () => {
        const whole = await collect(chunks([5, 5, 5, 5]));
        const ahead = await readAhead(chunks([5, 5, 5, 5]), 7);
        expect(ahead.ended).toBe(false);
        expect(await collect(ahead.content)).toEqual(whole);
    });
});
