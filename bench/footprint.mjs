// On-chain bytes per record: what a store leaves in the ledger, for documents of
// several sizes. The CreateRecord transaction as committed in its block (qscc
// GetTransactionByID: the envelope with its read/write set, endorsements and
// signatures) and the record's world-state value. The document itself goes to IPFS
// and its key envelopes to private data, so both figures should not grow with it.
import { randomBytes } from 'node:crypto';
import { call, fabricConnection } from './clients.mjs';

export const FOOTPRINT_SIZES = [1_024, 62_300, 1 << 20];

/** Stores one document of each size for `patientId` at hospital `h` and measures what the ledger holds. */
export async function onChainFootprint(h, clinicianToken, patientId, sizes = FOOTPRINT_SIZES) {
    const fab = fabricConnection(h);
    const qscc = fab.network.getContract('qscc');
    try {
        const rows = [];
        for (const bytes of sizes) {
            const rec = await call(`${h.gatewayUrl}/api/v1/patients/${patientId}/records?category=lab&title=footprint`, {
                method: 'POST',
                headers: { authorization: `Bearer ${clinicianToken}`, 'content-type': 'application/octet-stream' },
                body: randomBytes(bytes),
            }, 201);
            const tx = await qscc.evaluateTransaction('GetTransactionByID', 'ehr', rec.txId);
            const state = await fab.contract.evaluateTransaction('Records:GetRecord', rec.recordId);
            rows.push({ documentBytes: bytes, transactionBytes: tx.length, worldStateRecordBytes: state.length });
        }
        const txBytes = rows.map((r) => r.transactionBytes);
        return { perRecord: rows, independentOfDocumentSize: Math.max(...txBytes) - Math.min(...txBytes) < 256 };
    } finally {
        fab.close();
    }
}
