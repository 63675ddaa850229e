import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { network, status, type InstanceStatus } from '../support/instance.js';

// No secret in any argv (THREATS #3): `ps` shows every process's command line to
// every local user. The suite collects the instance's secrets from its state
// directory, then watches every command line on the host while the admin
// commands that use them run (enrolment, Cluster calls, status), and after.

/** The lines of a secret file worth looking for: long enough to be the secret, not PEM armour. */
function secretTokens(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length >= 16 && !l.startsWith('-----') && !l.startsWith('/key/') && l !== '/base16/')
    .flatMap((l) => [l, ...l.split(':').filter((part) => part.length >= 16)]);
}

function secretFiles(s: InstanceStatus): string[] {
  const dirs = [...s.hospitals.map((h) => path.join(h.stateDir, 'secrets')), path.join(s.stateDir, 'consortium')];
  return dirs.flatMap((d) =>
    readdirSync(d)
      .map((f) => path.join(d, f))
      .filter((f) => statSync(f).isFile()),
  );
}

/** Every process's command line right now (processes that vanish meanwhile are skipped). */
function commandLines(): Map<number, string> {
  const out = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      if (cmd) out.set(Number(entry), cmd);
    } catch {
      // gone already
    }
  }
  return out;
}

/** Runs `work` while sampling every command line on the host, and returns all it saw. */
async function watchCommandLines(work: () => Promise<unknown>): Promise<Set<string>> {
  const seen = new Set<string>();
  let done = false;
  const sampler = (async () => {
    while (!done) {
      for (const cmd of commandLines().values()) seen.add(cmd);
      await new Promise((r) => setImmediate(r));
    }
  })();
  try {
    await work();
  } finally {
    done = true;
    await sampler;
  }
  return seen;
}

function leaks(lines: Iterable<string>, tokens: string[]): string[] {
  const out: string[] = [];
  for (const cmd of lines) for (const t of tokens) if (cmd.includes(t)) out.push(`${cmd.slice(0, 120)}… contains a secret`);
  return out;
}

describe('no secret in any command line', () => {
  let s: InstanceStatus;

  beforeAll(async () => {
    s = await status();
  });

  test('the secret files are 0600 and the running processes carry none of them in argv', () => {
    const files = secretFiles(s);
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) expect(`${f} ${(statSync(f).mode & 0o777).toString(8)}`).toBe(`${f} 600`);
    const tokens = files.flatMap(secretTokens);
    expect(tokens.length).toBeGreaterThan(10);
    expect(leaks(commandLines().values(), tokens)).toEqual([]);
  });

  test('registering and enrolling a user, status (Cluster calls) and a token pass no secret in argv', async () => {
    const user = `argv-${Date.now().toString(36)}`;
    const seen = await watchCommandLines(async () => {
      await network('register-user', 'hospital1', user, '--role', 'auditor');
      await network('status', '--json');
      await network('token', 'hospital2', 'dr-argv', 'clinician');
    });
    expect(seen.size).toBeGreaterThan(5); // the sampler saw the commands run
    expect([...seen].some((cmd) => cmd.includes('fabric-ca-client'))).toBe(true);
    // Read the secrets after the run: the new user's enrolment secret exists only now.
    const tokens = secretFiles(s).flatMap(secretTokens);
    expect(tokens.some((t) => readFileSync(path.join(s.hospitals[0].stateDir, 'secrets', `id-${user}`), 'utf8').includes(t))).toBe(true);
    expect(leaks(seen, tokens)).toEqual([]);
  });
});
