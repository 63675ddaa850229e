import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Rest, expectStatus, storeDocument, token } from '../support/rest.js';

// A document larger than Cluster's /add can take over Kubo's unix socket (it stalled
// for good at about 100 MB: Cluster writes the whole block stream before it reads
// Kubo's per-block answers). The gateway adds such a blob to its own Kubo and pins it
// through Cluster; the store answers once two hospitals hold it.
const SIZE = 120 * 1024 * 1024;
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('a 120 MiB document', () => {
  test('is stored, replicated on two hospitals before 201, read back identical, and verifies intact', async () => {
    const rest = await Rest.open();
    const clinician = await token(1, 'dr-large-h1', 'clinician');
    const patientId = `Hospital1MSP:e2e-large-${randomUUID()}`;
    expectStatus(await rest.call(1, 'POST', '/api/v1/patients', { token: clinician, json: { patientId } }), 201);
    const document = randomBytes(SIZE);
    const started = Date.now();
    const stored = expectStatus(await storeDocument(rest, 1, clinician, patientId, document, 'category=imaging&title=large'), 201);
    process.stderr.write(`[large] 120 MiB stored in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    expect(stored.plaintextSize).toBe(SIZE);

    // Replicated when the store answered: no waiting here.
    const verified = expectStatus(await rest.call(1, 'GET', `/api/v1/records/${stored.recordId}/verify`, { token: clinician }), 200);
    expect(verified.intact).toBe(true);
    expect((verified.pinnedOn as string[]).length).toBeGreaterThanOrEqual(2);

    const read = await rest.call(1, 'GET', `/api/v1/records/${stored.recordId}/content`, { token: clinician });
    expect(read.status).toBe(200);
    expect(read.bytes.length).toBe(SIZE);
    expect(sha256(read.bytes)).toBe(sha256(document));
  }, 300_000);
});
