import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const networkScript = path.join(projectRoot, 'network', 'network.sh');

/** The test network instance: its own name and ports, beside any dev network. */
export const testInstance = {
  name: process.env.EHR_TEST_INSTANCE ?? 'test',
  portBase: process.env.EHR_TEST_PORT_BASE ?? '17000',
};

export interface HospitalStatus {
  name: string;
  mspId: string;
  gatewayUrl: string;
  gateway?: { url: string; state: string };
  stateDir: string;
  peer: { endpoint: string; tlsServerName: string; operations: string; state: string };
  orderer: { endpoint: string; admin: string; operations: string; state: string };
  ca: { url: string; name: string; operations: string; state: string };
  /**
   * The hospital's admin client certificate and key (files) for the orderer admin API and the
   * operations endpoints' /metrics and /logspec; `ca` verifies the peer's and orderer's TLS
   * certificates, `issuer` is the admin TLS CA (it also signs the Fabric CA's operations certificate).
   */
  adminTls: { cert: string; key: string; ca: string; issuer: string };
  kubo: { rpc: string; swarm: string; state: string };
  cluster: { rest: string; state: string; peersSeen: number };
}

export interface InstanceStatus {
  instance: string;
  portBase: number;
  stateDir: string;
  channel: string;
  chaincode: { name: string; sequence: number };
  hospitals: HospitalStatus[];
}

/** An instance the tests drive: the shared test instance, or one a suite starts for itself. */
export interface InstanceRef {
  name: string;
  portBase: string;
  /** Extra environment for network.sh, e.g. EHR_STATE_HOME for a simulated host of its own. */
  env?: Record<string, string>;
}

/** Runs network.sh against an instance; rejects with its output on failure. */
export async function networkOn(target: InstanceRef, ...args: string[]): Promise<string> {
  try {
    const { stdout } = await run(
      'bash',
      [networkScript, '--instance', target.name, '--port-base', target.portBase, ...args],
      { cwd: projectRoot, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...target.env } },
    );
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`network.sh ${args.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}`, { cause: err });
  }
}

/** Runs network.sh against the test instance. */
export const network = (...args: string[]): Promise<string> => networkOn(testInstance, ...args);

export async function statusOf(target: InstanceRef): Promise<InstanceStatus> {
  return JSON.parse(await networkOn(target, 'status', '--json')) as InstanceStatus;
}

export const status = (): Promise<InstanceStatus> => statusOf(testInstance);

export function hospital(s: InstanceStatus, n: number): HospitalStatus {
  const h = s.hospitals.find((x) => x.name === `hospital${n}`);
  if (!h) throw new Error(`hospital${n} missing from status`);
  return h;
}

export function readSecret(file: string): string {
  return readFileSync(file, 'utf8').trim();
}
