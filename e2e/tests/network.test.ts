import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { committedTransaction, connectAs, type Connection } from '../support/fabric.js';
import { hospital, network, projectRoot, status, type InstanceStatus } from '../support/instance.js';
import { eventually } from '../support/tools.js';

const utf8 = new TextDecoder();

// A write and a read of the chaincode that need nothing but a gateway identity:
// registering a patient pseudonym at the caller's hospital.
const actor = JSON.stringify({ id: 'it-admin', role: 'admin' });

async function writePatient(conn: Connection, channel: string, patientId: string) {
  const contract = conn.gateway.getNetwork(channel).getContract('ehr');
  const submitted = await contract.submitAsync('Patients:RegisterPatient', { arguments: [patientId, actor] });
  const commit = await submitted.getStatus();
  return { txId: submitted.getTransactionId(), commit };
}

async function readPatient(conn: Connection, channel: string, patientId: string): Promise<{ patientId: string; homeHospital: string }> {
  const contract = conn.gateway.getNetwork(channel).getContract('ehr');
  return JSON.parse(utf8.decode(await contract.evaluateTransaction('Patients:GetPatient', patientId)));
}

describe('the consortium network', () => {
  let s: InstanceStatus;
  const connections: Connection[] = [];
  const open = (n: number) => {
    const c = connectAs(hospital(s, n));
    connections.push(c);
    return c;
  };

  beforeAll(async () => {
    s = await status();
  });

  afterAll(async () => {
    for (const c of connections) c.close();
    await network('up'); // leave the shared instance whole for later suites
  });

  test('status --json lists three hospitals with their endpoints', () => {
    expect(s.channel).toBe('ehr');
    expect(s.chaincode.sequence).toBeGreaterThanOrEqual(1);
    expect(s.hospitals.map((h) => [h.name, h.mspId])).toEqual([
      ['hospital1', 'Hospital1MSP'],
      ['hospital2', 'Hospital2MSP'],
      ['hospital3', 'Hospital3MSP'],
    ]);
    for (const h of s.hospitals) {
      expect(h.gatewayUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(h.peer.endpoint).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(h.orderer.endpoint).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(h.ca.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect([h.peer.state, h.orderer.state, h.ca.state]).toEqual(['running', 'running', 'running']);
    }
  });

  test('gateways and chaincode servers run on the pinned Node LTS (network/versions.env), whatever node the machine has', () => {
    const pinned = /^NODE_VERSION=(.+)$/m.exec(readFileSync(path.join(projectRoot, 'network', 'versions.env'), 'utf8'))![1];
    for (const h of s.hospitals) {
      for (const component of ['gateway', `chaincode-s${s.chaincode.sequence}`]) {
        const pid = readFileSync(path.join(s.stateDir, 'run', `${h.name}-${component}.pid`), 'utf8').trim();
        const exe = readlinkSync(`/proc/${pid}/exe`);
        expect(exe).toContain(`node-${pinned}`);
        expect(execFileSync(exe, ['--version'], { encoding: 'utf8' }).trim()).toBe(`v${pinned}`);
      }
    }
  });

  test('every peer has joined the channel and runs the committed chaincode', async () => {
    for (const n of [1, 2, 3]) {
      const conn = open(n);
      const net = conn.gateway.getNetwork(s.channel);
      const info = await net.getContract('qscc').evaluateTransaction('GetChainInfo', s.channel);
      expect(info.length).toBeGreaterThan(0);
      const metadata = JSON.parse(
        utf8.decode(await net.getContract('ehr').evaluateTransaction('org.hyperledger.fabric:GetMetadata')),
      ) as { contracts: Record<string, unknown> };
      expect(Object.keys(metadata.contracts)).toEqual(expect.arrayContaining(['Patients']));
    }
  });

  test("a transaction from hospital 1's gateway identity is endorsed by two orgs and committed", async () => {
    const conn = open(1);
    const patientId = `Hospital1MSP:it-${randomUUID()}`;
    const { txId, commit } = await writePatient(conn, s.channel, patientId);
    expect(commit.successful).toBe(true);
    const tx = await committedTransaction(conn, s.channel, txId);
    expect(tx.validationCode).toBe(0); // VALID
    expect(tx.endorserMspIds.length).toBeGreaterThanOrEqual(2);
    expect(tx.endorserMspIds).toContain('Hospital1MSP');
    // Committed on another hospital's peer too.
    expect(await readPatient(open(2), s.channel, patientId)).toMatchObject({ patientId, homeHospital: 'Hospital1MSP' });
  });

  test('with hospital 3 orderer and peer stopped, a transaction from hospital 1 still commits (2 of 3)', async () => {
    await network('stop', 'hospital3-peer', 'hospital3-orderer');
    try {
      const conn = open(1);
      // When the stopped orderer was the Raft leader, the other two elect a new
      // one within a few seconds; until then the ordering service says UNAVAILABLE.
      const { txId, commit } = await eventually('a transaction to commit with hospital 3 down', () =>
        writePatient(conn, s.channel, `Hospital1MSP:it-${randomUUID()}`),
      );
      expect(commit.successful).toBe(true);
      const tx = await committedTransaction(conn, s.channel, txId);
      expect(tx.endorserMspIds).toEqual(['Hospital1MSP', 'Hospital2MSP']);
    } finally {
      await network('up');
    }
  });

  test('down then up keeps the ledger: data written before is still there', async () => {
    const patientId = `Hospital1MSP:it-${randomUUID()}`;
    const before = open(1);
    expect((await writePatient(before, s.channel, patientId)).commit.successful).toBe(true);
    before.close();
    await network('down');
    const stopped = await status();
    expect(stopped.hospitals.every((h) => h.peer.state === 'stopped' && h.orderer.state === 'stopped')).toBe(true);
    await network('up');
    for (const n of [1, 2, 3]) {
      expect(await readPatient(open(n), s.channel, patientId)).toMatchObject({ patientId, homeHospital: 'Hospital1MSP' });
    }
  });
});
