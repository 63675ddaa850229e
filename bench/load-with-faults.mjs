// `npm run bench:faults`: stores under load while hospitals' processes are killed (-9)
// one after another, then checks every acknowledged record. Brings up a network
// instance of its own ('faults', port base 25000) and removes it afterwards.
//
//   npm run bench:faults                          12 clients, every fault in turn
//   npm run bench:faults -- --concurrency 24      more clients
//   npm run bench:faults -- --fault-ms 20000      how long each killed process stays down
//   npm run bench:faults -- --keep                leave the instance running afterwards
//
// A fault: SIGKILL of one hospital's peer, orderer, chaincode server, Kubo + Cluster
// peer, or gateway; `up` brings it back after --fault-ms. Every answer is counted by
// status; the run fails when a record answered 201 is missing or differs afterwards
// (read back at its custodian, SHA-256 compared), or when any answer was a 500.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { benchOptions, networkOf } from './instance.mjs';

const opts = benchOptions(
    import.meta.url,
    { instance: 'faults', portBase: '25000' },
    {
        concurrency: { type: 'string', default: '12' },
        'fault-ms': { type: 'string', default: '20000' },
    },
    13,
);
const progress = (msg) => process.stderr.write(`[faults] ${new Date().toISOString().slice(11, 19)} ${msg}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const network = networkOf(opts);
const token = (h, sub, role) => network('token', `hospital${h}`, sub, role).trim();

/** The faults, in turn: each kills one hospital's process(es); hospitals rotate so each meets several. */
const FAULTS = [
    { hospital: 1, components: ['peer'] },
    { hospital: 2, components: ['orderer'] },
    { hospital: 3, components: ['kubo', 'cluster'] },
    { hospital: 1, components: ['chaincode-s1'] },
    { hospital: 2, components: ['gateway'] },
    { hospital: 3, components: ['peer', 'orderer'] },
    { hospital: 1, components: ['kubo', 'cluster'] },
];

function kill(stateDir, hospital, component) {
    const file = path.join(stateDir, 'run', `hospital${hospital}-${component}.pid`);
    const pid = Number(readFileSync(file, 'utf8').trim());
    process.kill(pid, 'SIGKILL');
}

async function main() {
    const started = Date.now();
    progress(`bringing up instance '${opts.instance}' (port base ${opts['port-base']})`);
    network('up');
    const status = JSON.parse(network('status', '--json'));
    const hospitals = status.hospitals;
    const patients = [];
    const clinicians = [];
    for (let n = 1; n <= 3; n++) {
        clinicians[n] = token(n, `faults-clinician-${n}`, 'clinician');
        const patientId = `Hospital${n}MSP:faults-${randomUUID().slice(0, 8)}`;
        const res = await fetch(`${hospitals[n - 1].gatewayUrl}/api/v1/patients`, {
            method: 'POST',
            headers: { authorization: `Bearer ${clinicians[n]}`, 'content-type': 'application/json' },
            body: JSON.stringify({ patientId }),
        });
        if (res.status !== 201) throw new Error(`registering ${patientId}: ${res.status} ${await res.text()}`);
        patients[n] = patientId;
    }

    const acked = [];
    const statuses = {};
    const serverErrors = [];
    let stop = false;
    let next = 0;
    async function client() {
        while (!stop) {
            const n = (next++ % 3) + 1;
            const body = randomBytes(8_000 + Math.floor(Math.random() * 56_000));
            const sha256 = createHash('sha256').update(body).digest('hex');
            let key;
            try {
                const res = await fetch(`${hospitals[n - 1].gatewayUrl}/api/v1/patients/${patients[n]}/records?category=lab&title=faults`, {
                    method: 'POST',
                    headers: { authorization: `Bearer ${clinicians[n]}`, 'content-type': 'application/octet-stream' },
                    body,
                    signal: AbortSignal.timeout(120_000),
                });
                key = String(res.status);
                const text = await res.text();
                if (res.status === 201) acked.push({ hospital: n, recordId: JSON.parse(text).recordId, sha256 });
                else if (res.status >= 500 && res.status !== 503) serverErrors.push({ hospital: n, status: res.status, body: text.slice(0, 300) });
                else if (res.status === 503) await sleep(Math.min(5_000, 1_000 * Number(res.headers.get('retry-after') ?? 1)));
            } catch (err) {
                // The gateway itself is down (killed): no answer, so nothing was acknowledged.
                key = `no answer (${err.cause?.code ?? err.name})`;
                await sleep(500);
            }
            statuses[key] = (statuses[key] ?? 0) + 1;
        }
    }
    const clients = Array.from({ length: Number(opts.concurrency) }, client);

    const timeline = [];
    // A failed `up` is a finding too: the run goes on to check what was acknowledged.
    let upFailure;
    await sleep(10_000);
    try {
        for (const fault of FAULTS) {
            const what = `hospital${fault.hospital} ${fault.components.join('+')}`;
            progress(`kill -9 ${what} (${acked.length} acknowledged so far)`);
            for (const c of fault.components) kill(status.stateDir, fault.hospital, c);
            const t = Date.now();
            await sleep(Number(opts['fault-ms']));
            network('up');
            timeline.push({ fault: what, downMs: Date.now() - t });
            progress(`${what} back`);
            await sleep(10_000);
        }
    } catch (err) {
        upFailure = String(err.message ?? err).split('\n')[0];
        progress(`up failed: ${upFailure}`);
    }
    stop = true;
    await Promise.all(clients);
    if (upFailure) network('up');
    progress(`load over: ${acked.length} acknowledged; checking each at its custodian`);

    let lost = 0;
    const losses = [];
    // Each read commits an access entry (about half a second): many at once.
    let cursor = 0;
    async function check(r) {
        const res = await fetch(`${hospitals[r.hospital - 1].gatewayUrl}/api/v1/records/${r.recordId}/content`, {
            headers: { authorization: `Bearer ${clinicians[r.hospital]}` },
            signal: AbortSignal.timeout(120_000),
        });
        const bytes = Buffer.from(await res.arrayBuffer());
        const ok = res.status === 200 && createHash('sha256').update(bytes).digest('hex') === r.sha256;
        if (!ok) {
            lost++;
            if (losses.length < 20) losses.push({ ...r, status: res.status });
        }
    }
    await Promise.all(
        Array.from({ length: 16 }, async () => {
            while (cursor < acked.length) await check(acked[cursor++]);
        }),
    );
    const out = {
        concurrency: Number(opts.concurrency),
        faults: timeline,
        answers: statuses,
        acknowledged: acked.length,
        lost,
        losses,
        serverErrors: serverErrors.length,
        serverErrorSamples: serverErrors.slice(0, 10),
        upFailure,
        durationS: Math.round((Date.now() - started) / 1000),
    };
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
    progress(`${acked.length} acknowledged, ${lost} lost, ${serverErrors.length} answers 5xx other than 503`);
    return lost === 0 && serverErrors.length === 0 && !upFailure;
}

let ok = false;
try {
    ok = await main();
} catch (err) {
    progress(`failed: ${err.stack ?? err}`);
} finally {
    if (!opts.keep) {
        progress(`removing instance '${opts.instance}'`);
        network('clean', '--yes');
    }
}
process.exit(ok ? 0 : 1);
