import { createHash } from 'node:crypto';
import type { ComponentHealth } from '../domain.js';
import { BlobCorruptedError, BlobStillPinnedError, blobIntegrity, type BlobStore, type PinLocation, type StoredBlob } from '../ports.js';

/** IPFS in a Map: content-addressed by SHA-256, streamed out in small chunks. */
export class FakeBlobStore implements BlobStore {
    readonly blobs = new Map<string, Buffer>();
    readonly pinned = new Set<string>();
    adds = 0;
    kuboUp = true;
    clusterUp = true;

    async add(content: AsyncIterable<Uint8Array>): Promise<StoredBlob> {
        this.adds++;
        if (!this.clusterUp) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9095'), { code: 'ECONNREFUSED' });
        const chunks: Buffer[] = [];
        for await (const chunk of content) chunks.push(Buffer.from(chunk));
        const blob = Buffer.concat(chunks);
        const cid = 'bafk' + createHash('sha256').update(blob).digest('hex').slice(0, 52);
        this.blobs.set(cid, blob);
        this.pinned.add(cid);
        return { cid, size: blob.length };
    }

    /** Local copies that fail their hash check; `replicaIntact` says whether a replica can heal them. */
    readonly corrupted = new Map<string, { replicaIntact: boolean }>();

    /** Corrupts the local copy, as a flipped byte in the node's block file would. */
    corrupt(cid: string, options: { replicaIntact: boolean }): void {
        this.corrupted.set(cid, options);
    }

    /** Heals as ClusterBlobStore does: reports the corruption, drops the copy, serves a replica's or fails. */
    async *cat(cid: string): AsyncIterable<Uint8Array> {
        if (!this.kuboUp) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5001'), { code: 'ECONNREFUSED' });
        const blob = this.blobs.get(cid);
        if (!blob) throw new Error(`block ${cid} not found`);
        const damage = this.corrupted.get(cid);
        if (damage) {
            blobIntegrity.report({ cid, action: 'detected', blocks: 1 });
            blobIntegrity.report({ cid, action: 'dropped', blocks: 1 });
            if (!damage.replicaIntact) {
                blobIntegrity.report({ cid, action: 'unrecoverable', blocks: 1 });
                throw new BlobCorruptedError(cid, `blob ${cid}: no replica supplied intact blocks`);
            }
            this.corrupted.delete(cid);
            blobIntegrity.report({ cid, action: 'healed', blocks: 1 });
        }
        for (let i = 0; i < blob.length; i += 10_000) yield blob.subarray(i, i + 10_000);
    }

    async pins(cid: string): Promise<PinLocation[]> {
        return this.pinned.has(cid) ? ['hospital1', 'hospital2'].map((peerName) => ({ peerId: `12D3-${peerName}`, peerName, status: 'pinned' })) : [];
    }

    async unpin(cid: string): Promise<void> {
        this.pinned.delete(cid);
    }

    async discard(cid: string): Promise<number> {
        if (this.pinned.has(cid)) throw new BlobStillPinnedError(cid);
        return this.blobs.delete(cid) ? 1 : 0;
    }

    async health(): Promise<ComponentHealth[]> {
        return [
            { name: 'kubo', up: this.kuboUp },
            { name: 'cluster', up: this.clusterUp },
        ];
    }
}
