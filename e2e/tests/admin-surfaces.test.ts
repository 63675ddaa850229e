import * as grpc from '@grpc/grpc-js';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { request } from 'node:https';
import path from 'node:path';
import { promisify } from 'node:util';
import { hospital, network, status, type HospitalStatus, type InstanceStatus } from '../support/instance.js';
import { toolPath } from '../support/tools.js';

// Admin surfaces trust the hospital's admin TLS CAs, not the hospital's Fabric CA
// (THREATS #2, #11): every staff identity comes from the Fabric CA, so a certificate
// it issued, whoever holds it, must not administer the orderer, talk to the
// chaincode server, scrape /metrics or change /logspec.

const run = promisify(execFile);

interface KeyPair {
  what: string;
  cert: Buffer;
  key: Buffer;
}

interface HttpsReply {
  status: number;
  body: string;
}

/** One HTTPS request; rejects when the TLS handshake (or the connection) fails. */
function https(url: string, opts: { ca: Buffer; client?: KeyPair; method?: string; body?: string }): Promise<HttpsReply> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: opts.method ?? 'GET', ca: opts.ca, cert: opts.client?.cert, key: opts.client?.key, timeout: 5_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Whether a gRPC channel to the chaincode server becomes ready (TLS handshake and HTTP/2 settings) with this client certificate. */
function chaincodeServerAccepts(address: string, root: Buffer, client: KeyPair): Promise<boolean> {
  const c = new grpc.Client(address, grpc.credentials.createSsl(root, client.key, client.cert));
  return new Promise((resolve) => {
    c.waitForReady(Date.now() + 5_000, (err) => {
      c.close();
      resolve(!err);
    });
  });
}

const pair = (what: string, cert: string, key: string): KeyPair => ({ what, cert: readFileSync(cert), key: readFileSync(key) });

describe('admin surfaces accept the admin TLS CAs only', () => {
  let s: InstanceStatus;
  let h1: HospitalStatus;
  let hospitalRoot: Buffer;
  let admin: KeyPair;
  /** Certificates and keys the hospital's Fabric CA issued: none of them is an admin's. */
  let hospitalIssued: KeyPair[];
  const clinician = `adm-clinician-${Date.now().toString(36)}`;

  beforeAll(async () => {
    s = await status();
    h1 = hospital(s, 1);
    await network('register-user', 'hospital1', clinician, '--role', 'clinician');
    hospitalRoot = readFileSync(h1.adminTls.ca);
    admin = pair('admin client certificate', h1.adminTls.cert, h1.adminTls.key);
    const msp = (user: string) => path.join(h1.stateDir, 'users', user, 'msp');
    hospitalIssued = [
      pair("a clinician's enrollment certificate", path.join(msp(clinician), 'signcerts', 'cert.pem'), path.join(msp(clinician), 'keystore', 'key.pem')),
      pair("the gateway's enrollment certificate", path.join(msp('gateway'), 'signcerts', 'cert.pem'), path.join(msp('gateway'), 'keystore', 'key.pem')),
      pair("the peer's TLS certificate", path.join(h1.stateDir, 'peer', 'tls', 'server.crt'), path.join(h1.stateDir, 'peer', 'tls', 'server.key')),
      pair("the org admin's TLS certificate", path.join(h1.stateDir, 'users', 'admin', 'tls', 'server.crt'), path.join(h1.stateDir, 'users', 'admin', 'tls', 'server.key')),
    ];
  });

  test('a clinician from register-user gets an enrollment certificate and no TLS key', () => {
    const dir = path.join(h1.stateDir, 'users', clinician);
    expect(existsSync(path.join(dir, 'msp', 'signcerts', 'cert.pem'))).toBe(true);
    expect(existsSync(path.join(dir, 'tls'))).toBe(false);
    const privateKeys = readdirSync(dir, { recursive: true, encoding: 'utf8' })
      .filter((f) => statSync(path.join(dir, f)).isFile() && readFileSync(path.join(dir, f), 'utf8').includes('PRIVATE KEY'));
    expect(privateKeys).toEqual([path.join('msp', 'keystore', 'key.pem')]);
  });

  test("the admin TLS material is the owner's only", () => {
    expect(statSync(h1.adminTls.key).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(h1.stateDir, 'secrets', 'admin-tls-ca.key')).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(h1.stateDir, 'secrets', 'chaincode-client-ca.key')).mode & 0o777).toBe(0o600);
  });

  test('the orderer admin API refuses every certificate of the hospital CA and accepts the admin client certificate', async () => {
    const ca = readFileSync(path.join(h1.stateDir, 'orderer', 'tls', 'ca.crt'));
    const url = `https://${h1.orderer.admin}/participation/v1/channels`;
    for (const client of hospitalIssued) {
      const outcome = await https(url, { ca, client }).then((r) => `HTTP ${r.status}`, (e: Error) => `refused: ${e.message}`);
      expect(`${client.what}: ${outcome}`).toMatch(/: refused: /);
    }
    const accepted = await https(url, { ca, client: admin });
    expect(accepted.status).toBe(200);
    expect(JSON.parse(accepted.body)).toMatchObject({ channels: expect.arrayContaining([expect.objectContaining({ name: s.channel })]) });
  });

  test("osnadmin with the peer's TLS certificate cannot list channels; with the admin client certificate it can", async () => {
    const osnadmin = toolPath('fabric_dir', 'osnadmin');
    const args = (cert: string, key: string) => [
      'channel', 'list', '-o', h1.orderer.admin, '--ca-file', path.join(h1.stateDir, 'orderer', 'tls', 'ca.crt'),
      '--client-cert', cert, '--client-key', key,
    ];
    const refused = await run(osnadmin, args(path.join(h1.stateDir, 'peer', 'tls', 'server.crt'), path.join(h1.stateDir, 'peer', 'tls', 'server.key')))
      .then(({ stdout }) => stdout, (e: { stdout?: string; stderr?: string }) => `failed: ${e.stdout ?? ''}${e.stderr ?? ''}`);
    expect(refused).toMatch(/^failed: .*(certificate|tls)/s);
    const { stdout } = await run(osnadmin, args(h1.adminTls.cert, h1.adminTls.key));
    expect(stdout).toMatch(/^Status: 200/);
  });

  test("the chaincode server completes no handshake with a hospital-CA certificate, only with the peer's chaincode-client certificate", async () => {
    // The running sequence's server port: OFF_CHAINCODE_A (8) for odd sequences, OFF_CHAINCODE_B (17) for even ones (network/lib/instance.sh).
    const seq = Number(readFileSync(path.join(h1.stateDir, 'chaincode', 'running-sequence'), 'utf8').trim());
    const [host] = h1.peer.endpoint.split(':');
    const address = `${host}:${s.portBase + 20 + (seq % 2 ? 8 : 17)}`;
    const root = readFileSync(path.join(h1.stateDir, 'chaincode-server', 'tls', 'ca.crt'));
    for (const client of hospitalIssued) {
      expect(`${client.what}: ${(await chaincodeServerAccepts(address, root, client)) ? 'accepted' : 'refused'}`).toBe(`${client.what}: refused`);
    }
    expect(await chaincodeServerAccepts(address, root, admin)).toBe(false); // an admin's certificate is not the peer's either
    const peerClient = pair("the peer's chaincode-client certificate",
      path.join(h1.stateDir, 'chaincode-client-tls', 'peer-client.crt'), path.join(h1.stateDir, 'chaincode-client-tls', 'peer-client.key'));
    expect(await chaincodeServerAccepts(address, root, peerClient)).toBe(true);
  });

  test.each(['peer', 'orderer'] as const)(
    "the %s's operations endpoint answers /healthz to anyone, /metrics and /logspec only to the admin client certificate",
    async (node) => {
      const ops = h1[node].operations;
      expect(ops).toMatch(/^https:\/\//);
      expect((await https(`${ops}/healthz`, { ca: hospitalRoot })).status).toBe(200);
      expect((await https(`${ops}/metrics`, { ca: hospitalRoot })).status).toBe(401);
      expect((await https(`${ops}/logspec`, { ca: hospitalRoot, method: 'PUT', body: '{"spec":"debug"}' })).status).toBe(401);
      for (const client of hospitalIssued) {
        const outcome = await https(`${ops}/metrics`, { ca: hospitalRoot, client }).then((r) => `HTTP ${r.status}`, () => 'refused');
        expect(`${client.what}: ${outcome}`).toBe(`${client.what}: refused`);
      }
      const metrics = await https(`${ops}/metrics`, { ca: hospitalRoot, client: admin });
      expect(metrics.status).toBe(200);
      expect(metrics.body).toMatch(/^# HELP /m);
      // The refused PUT changed nothing.
      const spec = await https(`${ops}/logspec`, { ca: hospitalRoot, client: admin });
      expect(spec.status).toBe(200);
      expect(JSON.parse(spec.body)).not.toEqual({ spec: 'debug' });
    },
  );

  test("the Fabric CA's operations endpoint completes no handshake without the admin client certificate", async () => {
    const ops = h1.ca.operations;
    const issuer = readFileSync(h1.adminTls.issuer);
    expect(ops).toMatch(/^https:\/\//);
    for (const client of [undefined, ...hospitalIssued]) {
      for (const p of ['/healthz', '/metrics']) {
        const outcome = await https(`${ops}${p}`, { ca: issuer, client }).then((r) => `HTTP ${r.status}`, () => 'refused');
        expect(`${client?.what ?? 'no certificate'} ${p}: ${outcome}`).toBe(`${client?.what ?? 'no certificate'} ${p}: refused`);
      }
    }
    expect((await https(`${ops}/healthz`, { ca: issuer, client: admin })).status).toBe(200);
    expect((await https(`${ops}/logspec`, { ca: issuer, client: admin, method: 'PUT', body: '{"spec":"debug"}' })).status).not.toBe(204);
  });
});
