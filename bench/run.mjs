// `npm run bench`: brings up a network instance of its own ('bench', port base
// 27000), measures the product's paths end to end beside the raw floor measured
// in the same run, prints one JSON document, and removes the instance.
//
//   npm run bench                       62.3 KB paths, replication lag (62.3 KB, 50 MB)
//   npm run bench -- --large 1024       also a 1 GiB upload and download, with the gateway's peak RSS
//   npm run bench -- --keep             leave the instance running afterwards
//   npm run bench -- --fan-out 500      records of the patient whose consent is timed (consentFanOut)
//   npm run bench -- --concurrency 12 --duration 60
//                                       instead: N clients over all gateways, S seconds per phase (stores alone, consented
//                                       reads alone, then a mix with grants) beside the floor under the same load, CPU per
//                                       op per component, on-chain bytes per record
//                                       (add --sequential to measure the sequential figures in the same run too)
//   npm run bench -- --list-scale 1000,10000
//                                       instead: list latency of a patient as the ledger grows (bench/list-scale.mjs)
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { approve, call, fabricConnection, ipfsAdd, json, replicationLag } from './clients.mjs';
import { runConcurrent } from './concurrent.mjs';
import { benchOptions, networkOf } from './instance.mjs';
import { percentiles, timeN } from './stats.mjs';

const opts = benchOptions(
    import.meta.url,
    { instance: 'bench', portBase: '27000' },
    {
        iterations: { type: 'string', default: '30' },
        large: { type: 'string', default: '0' },
        'fan-out': { type: 'string', default: '500' },
        concurrency: { type: 'string' },
        duration: { type: 'string', default: '30' },
        sequential: { type: 'boolean', default: false },
        'list-scale': { type: 'string' },
    },
    15,
);
const N = Number(opts.iterations);
const DOC_BYTES = 62_300; // the seed paper's MRI report
const progress = (msg) => process.stderr.write(`[bench] ${msg}\n`);
const network = networkOf(opts);
const token = (h, sub, role) => network('token', `hospital${h}`, sub, role).trim();

function summary(samplesMs, bytesEach = 0) {
    const total = samplesMs.reduce((a, b) => a + b, 0);
    const { p50Ms, p90Ms, p99Ms, p100Ms } = percentiles(samplesMs, [50, 90, 99, 100]);
    const out = { n: samplesMs.length, opsPerSec: Number(((samplesMs.length * 1000) / total).toFixed(2)), p50Ms, p90Ms, p99Ms, maxMs: p100Ms };
    if (bytesEach) out.mbPerSec = Number(((bytesEach * samplesMs.length) / 1e6 / (total / 1000)).toFixed(2));
    return out;
}

function peakRssMb(hospitalName) {
    const pid = readFileSync(path.join(statusDoc.stateDir, 'run', `${hospitalName}-gateway.pid`), 'utf8').trim();
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmHWM'));
    return Number((Number(line.split(/\s+/)[1]) / 1024).toFixed(1));
}

async function* zeroes(total, chunk = 1 << 20) {
    const buf = Buffer.alloc(chunk, 7);
    for (let sent = 0; sent < total; sent += chunk) yield sent + chunk <= total ? buf : buf.subarray(0, total - sent);
}

let statusDoc;
/**
 * A patient with `n` records at hospital 1 grants hospital 3 a consent: how long until
 * every record is readable there (its envelope committed on hospital 3's peer: the
 * EnvelopesDelivered events of its batches; Access:ListHeld and a sample read through
 * the REST API confirm). Per-record readiness is the commit of the batch that carried it.
 */
async function consentFanOut(h1, h3, clin1, n) {
    progress(`consent fan-out: ${n} records at hospital 1, then a consent to hospital 3`);
    const patientId = `Hospital1MSP:bench-fan-${randomUUID().slice(0, 8)}`;
    await call(`${h1.gatewayUrl}/api/v1/patients`, json(clin1, { patientId }), 201);
    const ids = [];
    let next = 0;
    await Promise.all(
        Array.from({ length: 8 }, async () => {
            while (next < n) {
                next++;
                const rec = await call(`${h1.gatewayUrl}/api/v1/patients/${patientId}/records?category=lab&title=fan`, {
                    method: 'POST',
                    headers: { authorization: `Bearer ${clin1}`, 'content-type': 'application/octet-stream' },
                    body: randomBytes(1_024),
                }, 201);
                ids.push(rec.recordId);
            }
        }),
    );
    const fab = fabricConnection(h3);
    // Readiness as hospital 3's peer sees it: the commit of each batch delivery (its
    // EnvelopesDelivered event on hospital 3's peer), checked against Access:ListHeld after.
    const wanted = new Set(ids);
    const readyAt = new Map();
    const events = await fab.network.getChaincodeEvents('ehr');
    const patient = token(1, patientId, 'patient');
    const t0 = performance.now();
    const watching = (async () => {
        for await (const e of events) {
            if (e.eventName !== 'EnvelopesDelivered') continue;
            const payload = JSON.parse(new TextDecoder().decode(e.payload));
            if (payload.grantee !== h3.mspId) continue;
            const now = performance.now() - t0;
            for (const id of payload.recordIds) if (wanted.has(id) && !readyAt.has(id)) readyAt.set(id, now);
            if (readyAt.size === ids.length) return;
        }
    })();
    await call(`${h1.gatewayUrl}/api/v1/patients/${patientId}/consents`, json(patient, { grantee: h3.mspId, purposes: ['treatment'] }), 201);
    const grantedMs = performance.now() - t0;
    const timeout = setTimeout(() => events.close(), 300_000);
    await watching.catch(() => undefined);
    clearTimeout(timeout);
    events.close();
    if (readyAt.size < ids.length) throw new Error(`consent fan-out: ${readyAt.size} of ${ids.length} delivered after 300 s`);
    const held = JSON.parse(new TextDecoder().decode(await fab.contract.evaluateTransaction('Access:ListHeld', patientId)));
    if (held.length !== ids.length) throw new Error(`consent fan-out: hospital 3 holds ${held.length} of ${ids.length}`);
    fab.close();
    const allReadableMs = Math.max(...readyAt.values());
    const clin3 = token(3, 'bench-clinician-3', 'clinician');
    for (const id of ids.slice(0, 5)) await call(`${h3.gatewayUrl}/api/v1/records/${id}/content`, { headers: { authorization: `Bearer ${clin3}` } }, 200);
    const s = [...readyAt.values()].sort((a, b) => a - b);
    const out = {
        records: ids.length,
        grantCommittedMs: Math.round(grantedMs),
        allReadableMs: Math.round(allReadableMs),
        perRecordReadyP50Ms: Math.round(s[Math.floor(0.5 * s.length)]),
        perRecordReadyP95Ms: Math.round(s[Math.min(s.length - 1, Math.floor(0.95 * s.length))]),
        goalMs: 3_000,
    };
    progress(`consent fan-out: ${JSON.stringify(out)}`);
    return out;
}

async function main() {
    progress(`bringing up instance '${opts.instance}'`);
    network('up');
    statusDoc = JSON.parse(network('status', '--json'));
    const machine = { cpus: (await import('node:os')).cpus().length, loadAverage: (await import('node:os')).loadavg().map((l) => Number(l.toFixed(2))) };
    if (opts['list-scale'] !== undefined) {
        const { runListScale } = await import('./list-scale.mjs');
        const sizes = opts['list-scale'].split(',').map(Number);
        process.stdout.write(JSON.stringify({ instance: opts.instance, machine, listScale: await runListScale(statusDoc, token, sizes, progress) }, null, 2) + '\n');
        return;
    }
    if (opts.concurrency !== undefined) {
        const concurrent = await runConcurrent(statusDoc, token, { clients: Number(opts.concurrency), durationS: Number(opts.duration), docBytes: DOC_BYTES }, progress);
        if (!opts.sequential) {
            process.stdout.write(JSON.stringify({ instance: opts.instance, documentBytes: DOC_BYTES, machine, concurrent }, null, 2) + '\n');
            return;
        }
        await sequential(machine, { concurrent });
        return;
    }
    await sequential(machine, {});
}

/** The sequential figures (one operation at a time), as the bench always measured them. */
async function sequential(machine, extra) {
    const [h1, h2, h3] = statusDoc.hospitals;
    const result = { instance: opts.instance, iterations: N, documentBytes: DOC_BYTES, machine, ...extra };

    const clin1 = token(1, 'bench-clinician', 'clinician');
    const clin2 = token(2, 'bench-clinician-2', 'clinician');
    const patientId = `Hospital1MSP:bench-${randomUUID().slice(0, 8)}`;
    const patient = token(1, patientId, 'patient');
    await call(`${h1.gatewayUrl}/api/v1/patients`, json(clin1, { patientId }), 201);
    const doc = randomBytes(DOC_BYTES);

    progress('raw floor: bare fabric-gateway submit and bare IPFS add');
    const fab = fabricConnection(h1);
    const actor = JSON.stringify({ id: 'bench', role: 'admin' });
    const rawSubmit = await timeN(N, () => fab.contract.submitTransaction('Patients:RegisterPatient', `Hospital1MSP:raw-${randomUUID()}`, actor));
    fab.close();
    const rawAdd = await timeN(N, () =>
        ipfsAdd(h1.kubo.rpc, '/api/v0/add?cid-version=1&raw-leaves=true&progress=false', randomBytes(DOC_BYTES)),
    );
    result.floor = { fabricSubmit: summary(rawSubmit), ipfsAdd62KB: summary(rawAdd, DOC_BYTES) };

    progress('store: 62.3 KB documents through hospital 1 gateway');
    const recordIds = [];
    const store = await timeN(N, async () => {
        const rec = await call(`${h1.gatewayUrl}/api/v1/patients/${patientId}/records?category=imaging&title=MRI`, {
            method: 'POST',
            headers: { authorization: `Bearer ${clin1}`, 'content-type': 'application/pdf' },
            body: doc,
        }, 201);
        recordIds.push(rec.recordId);
    });

    progress('consent: access requests approved by the patient (a patient with no records, so no deliveries follow)');
    const otherId = `Hospital1MSP:bench-${randomUUID().slice(0, 8)}`;
    await call(`${h1.gatewayUrl}/api/v1/patients`, json(clin1, { patientId: otherId }), 201);
    const other = token(1, otherId, 'patient');
    const grant = await timeN(Math.min(N, 20), async () => {
        const req = await call(`${h2.gatewayUrl}/api/v1/access-requests`, json(clin2, { patientId: otherId, purpose: 'treatment', reason: 'other' }), 201);
        await approve(h1, req.requestId, other);
    });

    progress('read: hospital 2 reads with the consent check and access log');
    const req = await call(`${h2.gatewayUrl}/api/v1/access-requests`, json(clin2, { patientId, purpose: 'treatment', reason: 'other' }), 201);
    await approve(h1, req.requestId, patient);
    // Envelope delivery is asynchronous (the custodian's event follower): wait for every record.
    // Every record is probed at once, so the figure is the delivery time plus
    // about one read, not the sum of 30 reads.
    const deliveryStart = performance.now();
    await Promise.all(
        recordIds.map(async (id) => {
            for (;;) {
                const res = await fetch(`${h2.gatewayUrl}/api/v1/records/${id}/content`, { headers: { authorization: `Bearer ${clin2}` } });
                await res.arrayBuffer();
                if (res.status === 200) return;
                if (res.status !== 503) throw new Error(`reading ${id} at hospital 2: HTTP ${res.status}`);
                await new Promise((r) => setTimeout(r, 200));
            }
        }),
    );
    const deliveryMs = performance.now() - deliveryStart;
    const read = await timeN(N, async (i) => {
        const body = await call(`${h2.gatewayUrl}/api/v1/records/${recordIds[i % recordIds.length]}/content`, { headers: { authorization: `Bearer ${clin2}` } }, 200);
        if (body.byteLength !== DOC_BYTES) throw new Error('read returned wrong size');
    });
    result.gateway = {
        store62KB: summary(store, DOC_BYTES),
        readWithConsent62KB: summary(read, DOC_BYTES),
        grantConsentViaRequest: summary(grant),
        envelopeDeliveryAfterApproval: { records: recordIds.length, allReadableMs: Math.round(deliveryMs) },
    };

    result.consentFanOut = await consentFanOut(h1, h3, clin1, Number(opts['fan-out']));

    progress('replication lag: add through Cluster until pinned on 2 peers');
    result.replication = [await replicationLag(h3, DOC_BYTES), await replicationLag(h3, 50 * 1024 * 1024)];

    const largeMiB = Number(opts.large);
    if (largeMiB > 0) {
        progress(`large document: ${largeMiB} MiB upload and download through hospital 1 gateway`);
        const bytes = largeMiB * 1024 * 1024;
        const before = peakRssMb('hospital1');
        let t = performance.now();
        const rec = await call(`${h1.gatewayUrl}/api/v1/patients/${patientId}/records?category=imaging&title=large`, {
            method: 'POST',
            headers: { authorization: `Bearer ${clin1}`, 'content-type': 'application/octet-stream' },
            body: Readable.from(zeroes(bytes)),
            duplex: 'half',
        }, 201);
        const uploadMs = performance.now() - t;
        const afterUpload = peakRssMb('hospital1');
        t = performance.now();
        const res = await fetch(`${h1.gatewayUrl}/api/v1/records/${rec.recordId}/content`, { headers: { authorization: `Bearer ${clin1}` } });
        let received = 0;
        for await (const chunk of res.body) received += chunk.byteLength;
        if (received !== bytes) throw new Error(`download returned ${received} of ${bytes} bytes`);
        result.large = {
            bytes,
            uploadMs: Math.round(uploadMs),
            downloadMs: Math.round(performance.now() - t),
            gatewayPeakRssMbBefore: before,
            gatewayPeakRssMbAfterUpload: afterUpload,
            gatewayPeakRssMbAfterDownload: peakRssMb('hospital1'),
        };
    }

    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
}

try {
    await main();
} finally {
    if (!opts.keep) {
        progress(`removing instance '${opts.instance}'`);
        network('clean', '--yes');
    }
}
