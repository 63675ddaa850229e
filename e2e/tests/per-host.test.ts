import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { stateRoot } from '../support/network-lifecycle.mjs';
import { keepLogs } from '../support/keep-logs.mjs';
import { networkOn, projectRoot, statusOf, type InstanceRef, type InstanceStatus } from '../support/instance.js';
import { listenersOf } from '../support/listeners.js';
import { Rest, expectProblem, expectStatus, storeDocument, tokenOn, type Role } from '../support/rest.js';
import { eventually, toolPath } from '../support/tools.js';

// Each hospital on its own host (DESIGN §9, issue 12): three state directories stand
// for three machines, each hospital bound to its own address (127.0.1.n), started by
// its own commands; what crosses between them are the files an admin would copy.
// It needs a consortium of its own, so it runs on an instance of its own.
const SLOW = 600_000;
const name = process.env.EHR_HOSTS_INSTANCE ?? 'test-hosts';
const portBase = process.env.EHR_HOSTS_PORT_BASE ?? '13000';
const keep = process.env.EHR_KEEP_TEST_NETWORK === '1';
const numbers = [1, 2, 3];
const address = (n: number) => `127.0.1.${n}`;
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

// Under the user's own state root ('_' is never an instance name), short enough for
// Kubo's unix socket path.
mkdirSync(stateRoot(), { recursive: true, mode: 0o700 });
const root = mkdtempSync(path.join(stateRoot(), '_hosts-'));
const host = (n: number): InstanceRef => ({ name, portBase, env: { EHR_STATE_HOME: path.join(root, `h${n}`) } });
const stateDirOf = (n: number) => path.join(root, `h${n}`, name);
// Where each "host" receives what another admin sends it.
const inbox = (n: number) => path.join(root, `inbox${n}`);
const send = (file: string, to: number) => {
  mkdirSync(inbox(to), { recursive: true, mode: 0o700 });
  const dest = path.join(inbox(to), path.basename(file));
  copyFileSync(file, dest);
  return dest;
};

/** Runs network.sh on a host and returns its exit code and output, without throwing. */
function attempt(n: number, ...args: string[]): { code: number; output: string } {
  try {
    const out = execFileSync('bash', ['network/network.sh', '--instance', name, '--port-base', portBase, ...args], {
      cwd: projectRoot,
      env: { ...process.env, ...host(n).env },
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
    });
    return { code: 0, output: out };
  } catch (err) {
    const e = err as { status: number; stdout: string; stderr: string };
    return { code: e.status, output: `${e.stdout}${e.stderr}` };
  }
}

/** A copy of an archive with one member replaced (the tar tool, as an attacker would). */
function tampered(archive: string, member: string, content: Buffer, out: string): string {
  const work = mkdtempSync(path.join(root, 'tamper-'));
  execFileSync('tar', ['-C', work, '-xzf', archive]);
  writeFileSync(path.join(work, member), content);
  execFileSync('tar', ['-C', work, '-czf', out, ...readdirSync(work)]);
  rmSync(work, { recursive: true, force: true });
  return out;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => path.relative(dir, path.join(d.parentPath, d.name)));
}

describe('each hospital on its own host (per-host mode)', () => {
  let rest: Rest;
  const statuses = new Map<number, InstanceStatus>();
  const as = (n: number, sub: string, role: Role) => tokenOn(host(n), n, sub, role);

  beforeAll(async () => {
    for (const n of numbers) {
      await networkOn(host(n), 'export-org', '--hospital', `hospital${n}`, '--address', address(n));
    }
    const orgFiles = [2, 3].map((n) => send(path.join(stateDirOf(n), 'outbox', `hospital${n}-org.tgz`), 1));
    await networkOn(host(1), 'create-consortium', ...orgFiles);
  }, SLOW);

  afterAll(async () => {
    for (const n of numbers) {
      if (keep) continue;
      const kept = keepLogs(path.join(root, `h${n}`), name, { keptRoot: path.join(stateRoot(), '_test-logs'), label: `${name}-h${n}` });
      if (kept) process.stderr.write(`[per-host] hospital${n}'s logs are kept in ${kept}\n`);
      await networkOn(host(n), 'clean', '--yes').catch((e: Error) => process.stderr.write(`${e.message}\n`));
    }
    if (!keep) rmSync(root, { recursive: true, force: true });
  }, SLOW);

  test('what travels between hosts is public, but for the consortium file, which is owner-only', () => {
    const bundle = path.join(stateDirOf(1), 'outbox', 'consortium.tgz');
    expect(statSync(bundle).mode & 0o077).toBe(0);
    const members = execFileSync('tar', ['-tzf', bundle], { encoding: 'utf8' }).split('\n').filter((l) => l && !l.endsWith('/'));
    expect(members.filter((m) => m.startsWith('consortium/')).sort()).toEqual(['consortium/cluster-secret', 'consortium/ehr.block', 'consortium/swarm.key']);
    // No private key of any hospital leaves its host: the hospitals' trees are certificates and IDs.
    const trees = members.filter((m) => !m.startsWith('consortium/'));
    expect(trees.length).toBeGreaterThan(0);
    expect(trees.filter((m) => /key|keystore|secrets|admin-tls|users/.test(m))).toEqual([]);
  });

  test('join-consortium refuses a file that swaps the joining hospital\'s certificate, carries a link, or loosens the channel\'s policies', () => {
    const bundle = send(path.join(stateDirOf(1), 'outbox', 'consortium.tgz'), 3);
    const otherCa = readFileSync(path.join(stateDirOf(2), 'hospital2', 'msp', 'cacerts', 'ca.pem'));
    const swapped = tampered(bundle, 'hospital3/msp/cacerts/ca.pem', otherCa, path.join(inbox(3), 'swapped.tgz'));
    const refused = attempt(3, 'join-consortium', swapped);
    expect(refused.code).toBe(1);
    expect(refused.output).toContain("does not carry hospital3's own CA certificate");

    const work = mkdtempSync(path.join(root, 'link-'));
    execFileSync('tar', ['-C', work, '-xzf', bundle]);
    execFileSync('ln', ['-s', '/etc/passwd', path.join(work, 'hospital1', 'public', 'peek')]);
    const linked = path.join(inbox(3), 'linked.tgz');
    execFileSync('tar', ['-C', work, '-czf', linked, ...readdirSync(work)]);
    const refusedLink = attempt(3, 'join-consortium', linked);
    expect(refusedLink.code).toBe(1);
    expect(refusedLink.output).toContain('links or special files');
    // A founder that loosened the channel's policies (one admin may change the channel) is refused.
    const configtxlator = toolPath('fabric_dir', 'configtxlator');
    const gwork = mkdtempSync(path.join(root, 'policy-'));
    execFileSync('tar', ['-C', gwork, '-xzf', bundle]);
    const blockFile = path.join(gwork, 'consortium', 'ehr.block');
    // To files, not stdout: configtxlator opens /dev/stdout, which a pipe to this process may not offer.
    const json = path.join(gwork, 'block.json');
    execFileSync(configtxlator, ['proto_decode', '--type', 'common.Block', '--input', blockFile, '--output', json]);
    const decoded = JSON.parse(readFileSync(json, 'utf8'));
    decoded.data.data[0].payload.data.config.channel_group.policies.Admins.policy.value.rule = 'ANY';
    writeFileSync(json, JSON.stringify(decoded));
    execFileSync(configtxlator, ['proto_encode', '--type', 'common.Block', '--input', json, '--output', blockFile]);
    rmSync(json);
    const loosened = path.join(inbox(3), 'loosened.tgz');
    execFileSync('tar', ['-C', gwork, '-czf', loosened, ...readdirSync(gwork)]);
    const refusedPolicy = attempt(3, 'join-consortium', loosened);
    expect(refusedPolicy.code).toBe(1);
    expect(refusedPolicy.output).toContain("policies are not the consortium's");

    // No attempt left consortium files or another hospital's definition behind.
    expect(readdirSync(path.join(stateDirOf(3), 'consortium'))).not.toContain('ehr.block');
    expect(readdirSync(stateDirOf(3)).filter((d) => /^hospital[12]$/.test(d))).toEqual([]);
  });

  test('started host by host: each up runs its own hospital; the gateways start once a majority approved', async () => {
    for (const n of [2, 3]) {
      await networkOn(host(n), 'join-consortium', send(path.join(stateDirOf(1), 'outbox', 'consortium.tgz'), n));
    }
    const started = Date.now();
    const first: string[] = [];
    for (const n of numbers) first.push(await networkOn(host(n), 'up'));
    // The last of the three completed the majority of approvals and committed.
    for (const n of numbers) statuses.set(n, await statusOf(host(n)));
    expect(statuses.get(3)!.chaincode.sequence).toBe(1);
    for (const n of numbers) await networkOn(host(n), 'up');
    process.stderr.write(`[per-host] three hosts up in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    for (const n of numbers) {
      const s = await statusOf(host(n));
      statuses.set(n, s);
      expect(s.hospitals.map((h) => h.name)).toEqual([`hospital${n}`]);
      const h = s.hospitals[0];
      expect(new URL(h.gatewayUrl).hostname).toBe(address(n));
      expect(h.peer.endpoint).toBe(`${address(n)}:${Number(portBase) + 20 * n + 5}`);
      for (const c of [h.peer, h.orderer, h.ca, h.kubo, h.cluster]) expect(c.state).toBe('running');
      expect(h.cluster.peersSeen).toBe(3);
    }
    // A host holds no other hospital's private material: only what the others published.
    for (const n of numbers) {
      for (const other of numbers.filter((o) => o !== n)) {
        const files = filesUnder(path.join(stateDirOf(n), `hospital${other}`));
        expect(files.length).toBeGreaterThan(0);
        expect(files.filter((f) => /key|keystore|secrets|signcerts|users|kubo\/|cluster\//.test(f))).toEqual([]);
      }
    }
  }, SLOW);

  test('nothing listens outside its hospital\'s address: no other hospital\'s address, no 0.0.0.0', () => {
    for (const n of numbers) {
      const runDir = path.join(stateDirOf(n), 'run');
      const pids = readdirSync(runDir)
        .filter((f) => f.endsWith('.pid'))
        .map((f) => Number(readFileSync(path.join(runDir, f), 'utf8').trim()));
      // CA, orderer, peer, chaincode server, Kubo, Cluster, gateway.
      expect(pids.length).toBeGreaterThanOrEqual(7);
      const listeners = listenersOf(pids);
      // Every one of them listens somewhere (the check below is not vacuous).
      expect(new Set(listeners.map((l) => l.pid)).size).toBe(pids.length);
      const outside = listeners.filter((l) => l.address !== address(n));
      expect(outside).toEqual([]);
    }
  });

  test('the REST story across hosts: stored at hospital1, asked for by hospital2, approved by the patient, read with identical bytes', async () => {
    const merged = { ...statuses.get(1)!, hospitals: numbers.map((n) => statuses.get(n)!.hospitals[0]) };
    rest = new Rest(merged);
    const patientId = `Hospital1MSP:e2e-hosts-${randomUUID()}`;
    const document = randomBytes(40_000);
    const home = await as(1, 'dr-hosts-h1', 'clinician');
    expectStatus(await rest.call(1, 'POST', '/api/v1/patients', { token: home, json: { patientId } }), 201);
    const stored = expectStatus(await storeDocument(rest, 1, home, patientId, document, 'category=note&title=hosts'), 201);

    const clinician2 = await as(2, 'dr-hosts-h2', 'clinician');
    // Without consent hospital2 reads nothing, not even that the record exists.
    expectProblem(await rest.call(2, 'GET', `/api/v1/records/${stored.recordId}/content`, { token: clinician2 }), 404);
    const asked = expectStatus(
      await rest.call(2, 'POST', '/api/v1/access-requests', { token: clinician2, json: { patientId, purpose: 'treatment', reason: 'referral' } }),
      201,
    );
    expectStatus(await rest.call(1, 'POST', `/api/v1/access-requests/${asked.requestId}/approve`, { token: await as(1, patientId, 'patient') }), 200);
    const read = await eventually(
      'hospital2 to read under the consent (its envelope delivered by hospital1)',
      async () => {
        const r = await rest.call(2, 'GET', `/api/v1/records/${stored.recordId}/content`, { token: clinician2 });
        return r.status === 503 ? undefined : r;
      },
      60_000,
      500,
    );
    expect(read.status).toBe(200);
    expect(sha256(read.bytes)).toBe(sha256(document));
    // hospital3, never asked, still reads nothing; and the blob is replicated beyond hospital1.
    expectProblem(await rest.call(3, 'GET', `/api/v1/records/${stored.recordId}/content`, { token: await as(3, 'dr-hosts-h3', 'clinician') }), 404);
    const verified = await eventually('the record pinned on two hosts', async () => {
      const v = await rest.call(1, 'GET', `/api/v1/records/${stored.recordId}/verify`, { token: home });
      return v.status === 200 && (v.body.pinnedOn as string[]).length >= 2 ? v.body : undefined;
    }, 60_000, 1_000);
    expect(verified.intact).toBe(true);
    // The patient's trail at home names hospital2's read, under the consent.
    const trail = await eventually('hospital2\'s read in the patient\'s trail', async () => {
      const r = await rest.call(1, 'GET', `/api/v1/audit/patients/${patientId}`, { token: await as(1, patientId, 'patient') });
      const events = expectStatus<{ type: string; hospital: string; purpose?: string }[]>(r, 200);
      return events.some((e) => e.type === 'RecordAccessed' && e.hospital === 'Hospital2MSP') ? events : undefined;
    });
    expect(trail.filter((e) => e.type === 'RecordAccessed' && e.hospital === 'Hospital2MSP')).toEqual([
      expect.objectContaining({ purpose: 'treatment' }),
    ]);
  }, SLOW);

  test('down on one host stops that hospital only; up brings it back', async () => {
    await networkOn(host(3), 'down');
    const two = await statusOf(host(2));
    expect(two.hospitals[0].peer.state).toBe('running');
    expect((await statusOf(host(3))).hospitals[0].peer.state).toBe('stopped');
    await networkOn(host(3), 'up');
    const three = (await statusOf(host(3))).hospitals[0];
    expect([three.peer.state, three.gateway?.state]).toEqual(['running', 'running']);
  }, SLOW);
});
