// `npm run bench -- --concurrency N --duration S`: N clients spread over every
// gateway, for S seconds per phase: stores only (62.3 KB), consented reads only,
// then the three kinds in turn (store, read, consent grant); then the floor under the
// same load, measured the same way in the same run: N clients doing bare
// fabric-gateway submits, then N clients doing bare IPFS Cluster adds of the same
// bytes. Throughput is completed operations per second of wall time; CPU seconds per
// operation per component come from /proc (work a phase leaves queued, such as
// envelope deliveries after stores, is counted in the phase that runs it).
import { randomBytes, randomUUID } from 'node:crypto';
import { approve, call, clusterAuth, fabricConnection, ipfsAdd, json } from './clients.mjs';
import { cpuByComponent, cpuDelta } from './cpu.mjs';
import { onChainFootprint } from './footprint.mjs';
import { percentiles } from './stats.mjs';

/** Latency percentiles and throughput of samples gathered over durationS seconds. */
function stats(samplesMs, durationS, errors) {
    const { p50Ms, p95Ms, p99Ms, p100Ms } = percentiles(samplesMs, [50, 95, 99, 100]);
    return { ops: samplesMs.length, errors, opsPerSec: Number((samplesMs.length / durationS).toFixed(2)), p50Ms, p95Ms, p99Ms, maxMs: p100Ms };
}

/**
 * Runs `clients` loops until the deadline; client i calls op(i, k) for its k-th operation,
 * which answers the operation's kind. Latencies and errors are kept per kind.
 */
async function load(clients, durationS, op) {
    const samples = {};
    const errors = {};
    const firstErrors = [];
    const deadline = performance.now() + durationS * 1000;
    const t0 = performance.now();
    await Promise.all(
        Array.from({ length: clients }, async (_, i) => {
            for (let k = 0; performance.now() < deadline; k++) {
                const t = performance.now();
                let kind = 'op';
                try {
                    kind = await op(i, k);
                    (samples[kind] ??= []).push(performance.now() - t);
                } catch (err) {
                    kind = err.kind ?? kind;
                    errors[kind] = (errors[kind] ?? 0) + 1;
                    if (firstErrors.length < 5) firstErrors.push(String(err.message ?? err).slice(0, 300));
                }
            }
        }),
    );
    const elapsedS = (performance.now() - t0) / 1000;
    const kinds = [...new Set([...Object.keys(samples), ...Object.keys(errors)])].sort();
    const out = Object.fromEntries(kinds.map((k) => [k, stats(samples[k] ?? [], elapsedS, errors[k] ?? 0)]));
    return { byKind: out, all: stats(Object.values(samples).flat(), elapsedS, Object.values(errors).reduce((a, b) => a + b, 0)), elapsedS, firstErrors };
}

/** Tags a failure with the operation kind it belongs to. */
const as = (kind, p) => p.then(() => kind, (err) => Promise.reject(Object.assign(err instanceof Error ? err : new Error(String(err)), { kind })));

/** Runs one measured phase: CPU per component before and after, per operation of the phase. */
async function phase(stateDir, name, progress, clients, durationS, op) {
    progress(`${name}: ${clients} clients for ${durationS} s`);
    const before = cpuByComponent(stateDir);
    const result = await load(clients, durationS, op);
    const cpu = cpuDelta(before, cpuByComponent(stateDir), result.all.ops);
    return { ...result, cpu };
}

/**
 * Per hospital: a patient at home there with records another hospital may read under
 * consent (delivered before timing starts), and a patient with no records whose grants
 * are timed (so no envelope deliveries ride on the grant figures).
 */
async function prepare(hospitals, token, docBytes, progress) {
    progress('concurrent: preparing a patient per hospital, with records readable by the next hospital');
    const doc = randomBytes(docBytes);
    const sites = [];
    for (const [i, h] of hospitals.entries()) {
        const n = i + 1;
        const reader = hospitals[(i + 1) % hospitals.length];
        const clinician = token(n, `bench-conc-h${n}`, 'clinician');
        const patientId = `${h.mspId}:bench-conc-${randomUUID().slice(0, 8)}`;
        const granterId = `${h.mspId}:bench-conc-g-${randomUUID().slice(0, 8)}`;
        for (const pid of [patientId, granterId]) await call(`${h.gatewayUrl}/api/v1/patients`, json(clinician, { patientId: pid }), 201);
        const patient = token(n, patientId, 'patient');
        const recordIds = [];
        for (let k = 0; k < 5; k++) {
            const rec = await call(`${h.gatewayUrl}/api/v1/patients/${patientId}/records?category=imaging&title=bench`, {
                method: 'POST',
                headers: { authorization: `Bearer ${clinician}`, 'content-type': 'application/pdf' },
                body: doc,
            }, 201);
            recordIds.push(rec.recordId);
        }
        const readerN = ((i + 1) % hospitals.length) + 1;
        const readerToken = token(readerN, `bench-conc-h${readerN}`, 'clinician');
        const req = await call(`${reader.gatewayUrl}/api/v1/access-requests`, json(readerToken, { patientId, purpose: 'treatment', reason: 'other' }), 201);
        await approve(h, req.requestId, patient);
        sites.push({ n, h, clinician, patientId, granter: token(n, granterId, 'patient'), granterId, recordIds, reader, readerToken });
    }
    // Envelope delivery is asynchronous: wait until every record reads at its reader.
    for (const s of sites) {
        for (const id of s.recordIds) {
            for (let tries = 0; ; tries++) {
                const res = await fetch(`${s.reader.gatewayUrl}/api/v1/records/${id}/content`, { headers: { authorization: `Bearer ${s.readerToken}` } });
                await res.arrayBuffer();
                if (res.status === 200) break;
                if (res.status !== 503 || tries > 300) throw new Error(`record ${id} not readable at ${s.reader.mspId}: ${res.status}`);
                await new Promise((r) => setTimeout(r, 200));
            }
        }
    }
    return { doc, sites };
}

export async function runConcurrent(statusDoc, token, { clients, durationS, docBytes }, progress) {
    if (!(clients >= 1) || !(durationS >= 1)) throw new Error('--concurrency and --duration must be positive numbers');
    const hospitals = statusDoc.hospitals;
    const { doc, sites } = await prepare(hospitals, token, docBytes, progress);
    const stateDir = statusDoc.stateDir;
    const siteOf = (i) => sites[i % sites.length];
    progress('on-chain bytes per record: one store each of 1 KiB, 62.3 KB and 1 MiB');
    const footprint = await onChainFootprint(sites[0].h, sites[0].clinician, sites[0].patientId);

    const store = (s) =>
        as('store', call(`${s.h.gatewayUrl}/api/v1/patients/${s.patientId}/records?category=lab&title=bench`, {
            method: 'POST',
            headers: { authorization: `Bearer ${s.clinician}`, 'content-type': 'application/pdf' },
            body: doc,
        }, 201));
    const read = (s, k) => {
        // The reader of the previous site's records is this client's gateway.
        const from = sites.find((x) => x.reader === s.h) ?? s;
        const id = from.recordIds[k % from.recordIds.length];
        return as('read', call(`${s.h.gatewayUrl}/api/v1/records/${id}/content`, { headers: { authorization: `Bearer ${from.readerToken}` } }, 200).then((body) => {
            if (body.byteLength !== doc.length) throw new Error('read returned the wrong size');
        }));
    };
    const grant = (s, k) => {
        const grantee = hospitals[(s.n + (k % 2)) % hospitals.length].mspId;
        return as('grant', call(`${s.h.gatewayUrl}/api/v1/patients/${s.granterId}/consents`, json(s.granter, { grantee, purposes: ['treatment'] }), 201));
    };

    // Each kind alone (the issue's table), then the three at once.
    const storesOnly = await phase(stateDir, 'stores only', progress, clients, durationS, (i) => store(siteOf(i)));
    const readsOnly = await phase(stateDir, 'consented reads only', progress, clients, durationS, (i, k) => read(siteOf(i), k));
    const product = await phase(stateDir, 'product mix (store, consented read, grant)', progress, clients, durationS, (i, k) => {
        const s = siteOf(i);
        return [store, read, grant][(i + k) % 3](s, k);
    });

    // The floor: the same number of clients over the same hospitals, doing only the bare step.
    const fabrics = hospitals.map((h) => fabricConnection(h));
    const actor = JSON.stringify({ id: 'bench', role: 'admin' });
    const floorFabric = await phase(stateDir, 'floor: bare fabric-gateway submit', progress, clients, durationS, (i) =>
        as('fabricSubmit', fabrics[i % fabrics.length].contract.submitTransaction('Patients:RegisterPatient', `${hospitals[i % hospitals.length].mspId}:raw-${randomUUID()}`, actor)),
    );
    for (const f of fabrics) f.close();
    const floorCluster = await phase(stateDir, 'floor: bare IPFS Cluster add', progress, clients, durationS, (i) => {
        const h = hospitals[i % hospitals.length];
        return as('clusterAdd', ipfsAdd(h.cluster.rest, '/add?cid-version=1&raw-leaves=true&stream-channels=false', randomBytes(doc.length), { authorization: clusterAuth(h) }));
    });

    const rate = (r, kind) => r.byKind[kind]?.opsPerSec ?? 0;
    const ratio = (a, b) => (b > 0 ? Number((a / b).toFixed(3)) : null);
    const fabricRate = rate(floorFabric, 'fabricSubmit');
    const clusterRate = rate(floorCluster, 'clusterAdd');
    // A store needs a commit and an add on the same cores: its floor is their harmonic sum.
    const combinedRate = fabricRate > 0 && clusterRate > 0 ? Number((1 / (1 / fabricRate + 1 / clusterRate)).toFixed(2)) : 0;
    const alone = (r, kind) => ({ ...r.byKind[kind], cpuPerComponent: r.cpu, firstErrors: r.firstErrors });
    const result = {
        clients,
        durationS,
        hospitals: hospitals.length,
        storesOnly: alone(storesOnly, 'store'),
        readsOnly: alone(readsOnly, 'read'),
        product: { ...product.byKind, all: product.all, cpuPerComponent: product.cpu, firstErrors: product.firstErrors },
        floor: {
            fabricSubmit: { ...floorFabric.byKind.fabricSubmit, cpuPerComponent: floorFabric.cpu, firstErrors: floorFabric.firstErrors },
            clusterAdd: { ...floorCluster.byKind.clusterAdd, bytes: doc.length, cpuPerComponent: floorCluster.cpu, firstErrors: floorCluster.firstErrors },
        },
        // Each product operation commits one transaction (a store also adds one blob), so each
        // is set against the floor it cannot beat. The product runs the three kinds at once,
        // so its rates share the machine: compare `all` too.
        combinedStoreFloorOpsPerSec: combinedRate,
        onChainBytesPerRecord: footprint,
        ratios: {
            storesOnlyVsCombinedFloor: ratio(rate(storesOnly, 'store'), combinedRate),
            readsOnlyVsFabricSubmit: ratio(rate(readsOnly, 'read'), fabricRate),
            storeVsFabricSubmit: ratio(rate(product, 'store'), fabricRate),
            storeVsClusterAdd: ratio(rate(product, 'store'), clusterRate),
            readVsFabricSubmit: ratio(rate(product, 'read'), fabricRate),
            grantVsFabricSubmit: ratio(rate(product, 'grant'), fabricRate),
            allProductOpsVsFabricSubmit: ratio(product.all.opsPerSec, fabricRate),
        },
    };
    progress(humanSummary(result));
    return result;
}

function humanSummary(r) {
    const line = (name, s) => (s ? `${name.padEnd(14)} ${String(s.opsPerSec).padStart(7)} ops/s  p50 ${s.p50Ms} ms  p95 ${s.p95Ms} ms  p99 ${s.p99Ms} ms  errors ${s.errors}` : `${name}: none`);
    const top = (cpu) =>
        Object.entries(cpu)
            .filter(([, v]) => v.cpuMsPerOp !== undefined)
            .sort((a, b) => b[1].cpuMsPerOp - a[1].cpuMsPerOp)
            .slice(0, 3)
            .map(([k, v]) => `${k} ${v.cpuMsPerOp} ms`)
            .join(', ');
    return [
        `concurrent: ${r.clients} clients over ${r.hospitals} gateways for ${r.durationS} s`,
        line('stores only', r.storesOnly),
        line('reads only', r.readsOnly),
        `CPU per store (top): ${top(r.storesOnly.cpuPerComponent)}`,
        `CPU per read (top): ${top(r.readsOnly.cpuPerComponent)}`,
        line('mix: store', r.product.store),
        line('mix: read', r.product.read),
        line('mix: grant', r.product.grant),
        line('all product', r.product.all),
        line('floor submit', r.floor.fabricSubmit),
        line('floor add', r.floor.clusterAdd),
        `combined store floor ${r.combinedStoreFloorOpsPerSec} ops/s`,
        `on-chain bytes per record (transaction / world state): ${r.onChainBytesPerRecord.perRecord.map((x) => `${x.documentBytes} B doc: ${x.transactionBytes} / ${x.worldStateRecordBytes}`).join('; ')}`,
        `ratios: ${JSON.stringify(r.ratios)}`,
        `CPU per product op (top): ${top(r.product.cpuPerComponent)}`,
        `CPU per bare submit (top): ${top(r.floor.fabricSubmit.cpuPerComponent)}`,
    ].join('\n');
}
