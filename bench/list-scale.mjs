// `npm run bench -- --list-scale 1000,10000`: how a patient's list costs as the
// ledger grows. Records are seeded as real Records:CreateRecord transactions
// (concurrent bare fabric-gateway submits as hospital 1's gateway, an envelope for
// hospital 1 in transient data, random CIDs with no blob behind them: the lists read
// the ledger only), all of one "big" patient, so the ledger and that patient grow
// together. At each size: a small patient's whole list (10 records), the big
// patient's first and second page (limit 50) through the REST gateway, and, for
// contrast, the unpaginated Records:ListRecords of the big patient (O(its records)).
import { randomBytes, randomUUID } from 'node:crypto';
import { call, fabricConnection, json } from './clients.mjs';
import { percentiles, timeN } from './stats.mjs';

const SAMPLES = 60;
const SEED_CLIENTS = 24;

/** A fresh CIDv1 (raw, sha2-256) in base32, as the chaincode accepts: every record names its own. */
function randomCid() {
    const bytes = Buffer.concat([Buffer.from([0x01, 0x55, 0x12, 0x20]), randomBytes(32)]);
    const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
    let out = 'b';
    let acc = 0;
    let bits = 0;
    for (const byte of bytes) {
        acc = ((acc << 8) | byte) & 0xffff;
        bits += 8;
        for (; bits >= 5; bits -= 5) out += alphabet[(acc >>> (bits - 5)) & 31];
    }
    return bits > 0 ? out + alphabet[(acc << (5 - bits)) & 31] : out;
}

function stats(samples) {
    const { p50Ms, p95Ms, p100Ms } = percentiles(samples, [50, 95, 100]);
    return { n: samples.length, p50Ms, p95Ms, maxMs: p100Ms };
}

const timed = async (n, fn) => stats(await timeN(n, fn));

export async function runListScale(statusDoc, token, sizes, progress) {
    if (!sizes.length || sizes.some((n) => !(n > 0)) || sizes.some((n, i) => i > 0 && n <= sizes[i - 1])) {
        throw new Error('--list-scale takes increasing record counts, e.g. 1000,10000');
    }
    const h1 = statusDoc.hospitals[0];
    const h2 = statusDoc.hospitals[1];
    const clinician = token(1, 'bench-list-scale', 'clinician');
    const small = `${h1.mspId}:bench-list-small-${randomUUID().slice(0, 8)}`;
    const big = `${h1.mspId}:bench-list-big-${randomUUID().slice(0, 8)}`;
    for (const pid of [small, big]) await call(`${h1.gatewayUrl}/api/v1/patients`, json(clinician, { patientId: pid }), 201);
    for (let i = 0; i < 10; i++) {
        await call(`${h1.gatewayUrl}/api/v1/patients/${small}/records?category=lab`, {
            method: 'POST',
            headers: { authorization: `Bearer ${clinician}`, 'content-type': 'text/plain' },
            body: `bench list-scale ${i}`,
        }, 201);
    }
    const fab = fabricConnection(h1);
    const actor = JSON.stringify({ id: 'bench-list-scale', role: 'clinician' });
    const envelopes = new TextEncoder().encode(JSON.stringify({ [h1.mspId]: randomBytes(125).toString('base64') }));
    const get = (path) => call(`${h1.gatewayUrl}${path}`, { headers: { authorization: `Bearer ${clinician}` } }, 200);
    const head = async (path) => {
        const res = await fetch(`${h1.gatewayUrl}${path}`, { headers: { authorization: `Bearer ${clinician}` } });
        await res.arrayBuffer();
        return /^<([^>]+)>/.exec(res.headers.get('link') ?? '')?.[1];
    };

    const out = [];
    let seeded = 0;
    for (const size of sizes) {
        const want = size - seeded;
        progress(`list-scale: seeding ${want} records (to ${size}) with ${SEED_CLIENTS} concurrent CreateRecord submits`);
        const t = performance.now();
        let next = 0;
        await Promise.all(
            Array.from({ length: SEED_CLIENTS }, async () => {
                while (next < want) {
                    next++;
                    if (next % 250 === 0) progress(`list-scale: ${seeded + next} of ${size} submitted (${Math.round((performance.now() - t) / 1000)} s)`);
                    await fab.contract.submit('Records:CreateRecord', {
                        arguments: [randomUUID(), big, randomCid(), '1024', 'lab', '', actor],
                        transientData: { envelopes },
                        endorsingOrganizations: [h1.mspId, h2.mspId],
                    });
                }
            }),
        );
        const seedMs = performance.now() - t;
        seeded = size;
        progress(`list-scale: ${size} records seeded (${Math.round(seedMs / 1000)} s); timing the lists`);
        const second = await head(`/api/v1/patients/${big}/records?limit=50`);
        if (!second) throw new Error('the big patient has no second page');
        const row = {
            ledgerRecordsSeeded: size,
            seedSeconds: Number((seedMs / 1000).toFixed(1)),
            seedRecordsPerSec: Number(((want * 1000) / seedMs).toFixed(1)),
            smallPatientList: await timed(SAMPLES, () => get(`/api/v1/patients/${small}/records`)),
            bigPatientFirstPage: await timed(SAMPLES, () => get(`/api/v1/patients/${big}/records?limit=50`)),
            bigPatientSecondPage: await timed(SAMPLES, () => get(second)),
        };
        progress(`list-scale at ${size}: ${JSON.stringify(row)}`);
        // The contrast, last: at 100k records the whole list outlives the peer's chaincode
        // execute timeout, which is itself the answer (a run once lost its paged figures to it).
        const whole = [];
        try {
            for (let i = 0; i < 3; i++) {
                const t0 = performance.now();
                await fab.contract.evaluate('Records:ListRecords', { arguments: [big, ''] });
                whole.push(performance.now() - t0);
            }
            row.bigPatientUnpaginatedChaincodeList = stats(whole);
        } catch (err) {
            row.bigPatientUnpaginatedChaincodeList = { failed: String(err.details?.[0]?.message ?? err.message).slice(0, 200) };
        }
        out.push(row);
    }
    fab.close();
    const first = out[0];
    const last = out.at(-1);
    const ratio = (k) => (last[k]?.p50Ms && first[k]?.p50Ms ? Number((last[k].p50Ms / first[k].p50Ms).toFixed(2)) : null);
    const result = {
        sizes: out,
        p50RatioLargestToSmallest: {
            smallPatientList: ratio('smallPatientList'),
            bigPatientFirstPage: ratio('bigPatientFirstPage'),
            bigPatientSecondPage: ratio('bigPatientSecondPage'),
            bigPatientUnpaginatedChaincodeList: ratio('bigPatientUnpaginatedChaincodeList'),
        },
        goal: 'paginated ratios <= 1.2',
    };
    progress(`list-scale: p50 ratios ${JSON.stringify(result.p50RatioLargestToSmallest)}`);
    return result;
}
