import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { networkScript, projectRoot, testInstance, type InstanceStatus } from '../support/instance.js';

// The admin command line cannot hit the wrong instance: options go anywhere on
// the line, a mistyped command, option or component is refused (exit 2) before
// anything runs, and clean needs confirmation. Most of these lines fail while
// parsing and need no network; the rest use the shared test instance (started
// by globalSetup) as "the running instance" and made-up names for others.

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

const shared = testInstance.name;
const sharedBase = testInstance.portBase;
// An instance nobody has: were a line to fall through to the default instance,
// it would land here rather than on a real one.
const nobody = `cli-nobody-${process.pid}`;
const other = `cli-other-${process.pid}`;

/** network.sh with exactly these arguments; stdin is a pipe, never a terminal. */
function cli(args: string[], env: Record<string, string> = {}): Result {
  const base: Record<string, string | undefined> = { ...process.env, EHR_INSTANCE: nobody };
  delete base.EHR_PORT_BASE;
  const r = spawnSync('bash', [networkScript, ...args], {
    cwd: projectRoot,
    encoding: 'utf8',
    input: '',
    env: { ...base, ...env },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 900_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function sharedStatus(): InstanceStatus {
  const r = cli(['status', '--json', '--instance', shared]);
  expectExit(r, 0);
  return JSON.parse(r.stdout) as InstanceStatus;
}

/** What must not change when a command is aimed elsewhere: where it lives and what runs. */
function fingerprint(s: InstanceStatus) {
  return {
    instance: s.instance,
    portBase: s.portBase,
    stateDir: s.stateDir,
    chaincode: s.chaincode,
    hospitals: s.hospitals.map((h) => ({
      name: h.name,
      states: [h.ca.state, h.orderer.state, h.peer.state, h.kubo.state, h.cluster.state, (h as { gateway?: { state: string } }).gateway?.state],
    })),
  };
}

/** The exit code, and on a wrong one what the command said. */
function expectExit(r: Result, code: number) {
  expect({ code: r.code, stderr: r.code === code ? '' : r.stderr }).toEqual({ code, stderr: '' });
}

function expectUsageError(r: Result, message: RegExp) {
  expect(r.stderr).toMatch(message);
  expect(r.code).toBe(2);
  expect(r.stdout).toBe('');
}

// Every command with operands that pass, so only the option under test is wrong.
const everyCommand: [string, string[]][] = [
  ['up', []],
  ['down', []],
  ['clean', []],
  ['status', []],
  ['stop', ['hospital1-peer']],
  ['logs', ['hospital1-peer']],
  ['deploy-chaincode', []],
  ['register-user', ['hospital1', 'cli-bob']],
  ['token', ['hospital1', 'cli-bob', 'clinician']],
  ['rotate-key', ['hospital1']],
  ['export-org', []],
  ['create-consortium', ['hospital2-org.tgz']],
  ['join-consortium', ['consortium.tgz']],
  ['help', []],
];

function ephemeralRange(): [number, number] | undefined {
  const file = '/proc/sys/net/ipv4/ip_local_port_range';
  if (!existsSync(file)) return undefined;
  const [lo, hi] = readFileSync(file, 'utf8').trim().split(/\s+/).map(Number);
  return [lo, hi];
}

describe('network.sh command line', () => {
  let before: InstanceStatus;

  beforeAll(() => {
    before = sharedStatus();
  });

  describe('help', () => {
    test.each(everyCommand)('%s --help prints its usage and exits 0', (cmd, operands) => {
      for (const line of [[cmd, '--help'], [cmd, ...operands, '-h'], ['--help', cmd], ['help', cmd]]) {
        const r = cli(line);
        expect(r.code).toBe(0);
        expect(r.stdout).toContain(`Usage: network/network.sh ${cmd}`);
        expect(r.stdout).toContain('Global options, accepted anywhere on the line');
      }
    });

    test('without a command it prints the overview; with no arguments it fails', () => {
      const help = cli(['--help']);
      expect(help.code).toBe(0);
      for (const [cmd] of everyCommand) expect(help.stdout).toMatch(new RegExp(`^  ${cmd} `, 'm'));
      const none = cli([]);
      expect(none.code).toBe(2);
      expect(none.stderr).toMatch(/name a command/);
    });

    test('logs --help names every log, hospital<n>-ca-client included', () => {
      const r = cli(['logs', '--help']);
      expect(r.code).toBe(0);
      for (const name of ['ca', 'ca-client', 'orderer', 'peer', 'chaincode-s<seq>', 'kubo', 'cluster', 'gateway']) {
        expect(r.stdout).toContain(`hospital<n>-${name} `);
      }
      for (const name of ['configtxgen', 'peer-cli', 'osnadmin']) expect(r.stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
      expect(r.stdout).toMatch(/last 200 lines/);
      expect(r.stdout).toMatch(/--lines N \| -n N/);
    });
  });

  describe('unknown commands', () => {
    test('a misspelt command names the nearest one', () => {
      expectUsageError(cli(['stauts', '--instance', shared]), /unknown command 'stauts'; did you mean 'status'\?/);
      expectUsageError(cli(['--instance', shared, 'deploy-chaincod']), /did you mean 'deploy-chaincode'\?/);
      expectUsageError(cli(['help', 'dwon']), /unknown command 'dwon'; did you mean 'down'\?/);
    });

    test('a command far from any is refused with the way to the list', () => {
      expectUsageError(cli(['frobnicate']), /unknown command 'frobnicate'; run 'network\/network.sh --help'/);
    });

    test('a second command on the line is refused, not run', () => {
      expectUsageError(cli(['status', 'down', '--instance', shared]), /unexpected argument 'down' for 'status'; one command per line/);
    });
  });

  describe('misspelt options', () => {
    test.each(everyCommand)('%s --instnace is refused with a suggestion', (cmd, operands) => {
      for (const line of [
        [cmd, ...operands, '--instnace', shared],
        ['--instnace', shared, cmd, ...operands],
        [cmd, ...operands, `--instnace=${shared}`],
      ]) {
        // Before the command, the misspelt option cannot take a value, so its value
        // would read as the command: the option is named first all the same.
        expectUsageError(cli(line), /unknown option '--instnace'( for '[a-z-]+')?; did you mean '--instance'\?/);
      }
    });

    test.each([
      [['status', '--jsno'], '--jsno', '--json'],
      [['logs', 'hospital1-peer', '--lnes', '5'], '--lnes', '--lines'],
      [['logs', 'hospital1-peer', '--folow'], '--folow', '--follow'],
      [['register-user', 'hospital1', 'cli-bob', '--rloe', 'auditor'], '--rloe', '--role'],
      [['token', 'hospital1', 'cli-bob', 'clinician', '--tll', '60'], '--tll', '--ttl'],
      [['clean', '--yse'], '--yse', '--yes'],
      [['up', '--port-bsae', '21000'], '--port-bsae', '--port-base'],
    ])('%j: the command\'s own options are checked too', (line, wrong, right) => {
      expectUsageError(cli([...line, '--instance', shared]), new RegExp(`unknown option '${wrong}' .*did you mean '${right}'\\?`));
    });

    test('status --jsno prints no text and exits 2', () => {
      const r = cli(['status', '--jsno', '--instance', shared]);
      expectUsageError(r, /unknown option '--jsno' for 'status'; did you mean '--json'\?/);
    });

    test('an option of another command is refused', () => {
      expectUsageError(cli(['status', '--ttl', '60', '--instance', shared]), /unknown option '--ttl' for 'status'/);
    });

    test('option values are checked while parsing', () => {
      expectUsageError(cli(['logs', 'hospital1-peer', '-n', 'many', '--instance', shared]), /option '--lines' takes a number/);
      expectUsageError(cli(['register-user', 'hospital1', 'cli-bob', '--role', 'nurse', '--instance', shared]), /option '--role' takes one of/);
      expectUsageError(cli(['status', '--instance']), /option '--instance' needs a value/);
      expectUsageError(cli(['status', '--instance', '--json']), /option '--instance' needs a value/);
      expectUsageError(cli(['status', '--instance', 'Bad_Name']), /instance name 'Bad_Name' must match/);
      expectUsageError(cli(['status', '--instance', shared, '--instance', other]), /option '--instance' given twice/);
      expectUsageError(cli(['status', '--json=yes', '--instance', shared]), /option '--json' takes no value/);
      expectUsageError(cli(['status', '--hospital', 'h2', '--instance', shared]), /option '--hospital' takes a hospital/);
      expectUsageError(cli(['status', '--hospital', 'hospital9', '--instance', shared]), /unknown hospital 'hospital9'/);
      expectUsageError(cli(['status', '--address', '127.0.1.2', '--instance', shared]), /unknown option '--address' for 'status'/);
      expectUsageError(cli(['export-org', '--hospital', 'hospital2', '--address', 'somewhere', '--instance', shared]), /option '--address' takes an IPv4 address/);
    });

    test('--hospital narrows status to that hospital; export-org refuses a whole-consortium instance', () => {
      const r = cli(['status', '--json', '--hospital', 'hospital2', '--instance', shared]);
      expectExit(r, 0);
      expect((JSON.parse(r.stdout) as InstanceStatus).hospitals.map((h) => h.name)).toEqual(['hospital2']);
      const refused = cli(['export-org', '--hospital', 'hospital2', '--address', '127.0.1.2', '--instance', shared]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/runs the whole consortium on this host/);
    });
  });

  describe('misplaced options reach the command', () => {
    test('status reads --instance before or after the command, and --instance=NAME', () => {
      for (const line of [
        ['status', '--json', '--instance', shared],
        ['status', `--instance=${shared}`, '--json'],
        ['--json', 'status', '--instance', shared],
        ['--instance', shared, 'status', '--json'],
      ]) {
        const r = cli(line);
        expect(r.code).toBe(0);
        expect((JSON.parse(r.stdout) as InstanceStatus).instance).toBe(shared);
      }
    });

    test.each([
      ['status', []],
      ['stop', ['hospital1-peer']],
      ['logs', ['hospital1-peer']],
      ['deploy-chaincode', []],
      ['register-user', ['hospital1', 'cli-bob']],
      ['token', ['hospital1', 'cli-bob', 'clinician']],
      ['rotate-key', ['hospital1']],
    ])('%s --instance after the command acts on that instance', (cmd, operands) => {
      for (const line of [
        [cmd, ...operands, '--instance', other],
        [cmd, `--instance=${other}`, ...operands],
      ]) {
        const r = cli(line, { EHR_INSTANCE: shared, EHR_PORT_BASE: sharedBase });
        expect(r.stderr).toContain(`instance '${other}' does not exist`);
        expect(r.code).toBe(1);
        expect(r.stdout).toBe('');
      }
    });

    test('down and clean after the command act on the instance named, not the default', () => {
      const down = cli(['down', '--instance', other], { EHR_INSTANCE: shared, EHR_PORT_BASE: sharedBase });
      expect(down.code).toBe(0);
      expect(down.stderr).toContain(`instance '${other}' has no state`);
      const clean = cli(['clean', '--instance', other], { EHR_INSTANCE: shared, EHR_PORT_BASE: sharedBase });
      expect(clean.code).toBe(0);
      expect(clean.stderr).toContain(`instance '${other}' has no state`);
      expect(fingerprint(sharedStatus())).toEqual(fingerprint(before));
    });

    test('up reads --port-base after the command (a base in the ephemeral range is refused)', () => {
      const range = ephemeralRange();
      if (!range) return;
      const r = cli(['up', '--instance', other, '--port-base', String(range[0])]);
      expectUsageError(r, new RegExp(`port base ${range[0]} puts the instance's ports`));
      expect(existsSync(`${before.stateDir}/../${other}`)).toBe(false);
    });
  });

  describe('components are those of the instance', () => {
    test('a hospital the instance does not have is refused and nothing stops', () => {
      expectUsageError(cli(['stop', 'hospital4-peer', '--instance', shared]), /unknown component 'hospital4-peer': instance '.*' has hospital1\.\.hospital3/);
      expectUsageError(cli(['stop', 'hospital1-gateway', 'hospital0-peer', '--instance', shared]), /unknown component 'hospital0-peer'/);
      expectUsageError(cli(['logs', 'hospital4-ca-client', '--instance', shared]), /unknown log 'hospital4-ca-client'/);
      expectUsageError(cli(['token', 'hospital4', 'cli-bob', 'clinician', '--instance', shared]), /has no hospital 'hospital4'; it has hospital1\.\.hospital3/);
      expectUsageError(cli(['rotate-key', 'hospital9', '--instance', shared]), /has no hospital 'hospital9'/);
      expectUsageError(cli(['register-user', 'hospital0', 'cli-bob', '--instance', shared]), /has no hospital 'hospital0'/);
      expect(fingerprint(sharedStatus())).toEqual(fingerprint(before));
    });

    test('a misspelt component or log names the nearest one', () => {
      expectUsageError(cli(['stop', 'hospital1-pear', '--instance', shared]), /unknown component 'hospital1-pear'; did you mean 'hospital1-peer'\?/);
      expectUsageError(cli(['stop', 'hosptial2-gateway', '--instance', shared]), /did you mean 'hospital2-gateway'\?/);
      expectUsageError(cli(['logs', 'peer-cl', '--instance', shared]), /unknown log 'peer-cl'; did you mean 'peer-cli'\?/);
      expectUsageError(cli(['token', 'hosptal1', 'cli-bob', 'clinician', '--instance', shared]), /did you mean 'hospital1'\?/);
    });

    test('stop needs a component, token its three operands', () => {
      expectUsageError(cli(['stop', '--instance', shared]), /'stop' needs at least 1 operand/);
      expectUsageError(cli(['token', 'hospital1', 'cli-bob', '--instance', shared]), /'token' needs 3 operand/);
    });
  });

  describe('port base', () => {
    test('a new instance whose ports overlap the ephemeral port range is refused, with a base below it', () => {
      const range = ephemeralRange();
      if (!range) return;
      const [lo, hi] = range;
      for (const base of [lo - 50, Math.min(lo + 1000, hi), hi - 10].filter((b) => b >= 1024 && b + 99 <= 65535)) {
        const r = cli(['--port-base', String(base), 'up', '--instance', other]);
        expectUsageError(r, /ephemeral port range/);
        expect(r.stderr).toContain(`${lo}..${hi}`);
        expect(r.stderr).toMatch(/pick a base of at most \d+|no room below it/);
      }
      expect(existsSync(`${before.stateDir}/../${other}`)).toBe(false);
    });

    test('a base whose ports end below the range passes the check', () => {
      const range = ephemeralRange();
      if (!range || range[0] - 100 < 1024) return;
      const r = cli(['up', '--instance', other, '--port-base', String(range[0] - 100)], { EHR_CHECK_ARGS_ONLY: '1' });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(existsSync(`${before.stateDir}/../${other}`)).toBe(false);
    });
  });

  describe('clean', () => {
    test('without --yes and without a terminal it refuses, and the instance stays', () => {
      const r = cli(['clean', '--instance', shared]);
      expectUsageError(r, /pass --yes/);
      expect(r.stderr).toContain(before.stateDir);
      expect(existsSync(before.stateDir)).toBe(true);
      expect(fingerprint(sharedStatus())).toEqual(fingerprint(before));
    });

    test('clean --instance other --yes leaves the running instance alone', () => {
      // The default instance (here via the environment) is the running one;
      // the instance named after the command is the one cleaned.
      const r = cli(['clean', '--instance', other, '--yes'], { EHR_INSTANCE: shared, EHR_PORT_BASE: sharedBase });
      expect(r.code).toBe(0);
      expect(r.stderr).toContain(`'${other}'`);
      expect(r.stderr).not.toContain(`'${shared}'`);
      expect(existsSync(before.stateDir)).toBe(true);
      expect(fingerprint(sharedStatus())).toEqual(fingerprint(before));
    });
  });

  describe('logs', () => {
    test('lists the logs, including each hospital\'s ca-client', () => {
      const r = cli(['logs', '--instance', shared]);
      expect(r.code).toBe(0);
      const names = r.stdout.trim().split('\n');
      for (const n of ['hospital1-peer', 'hospital1-ca-client', 'hospital3-gateway', 'peer-cli']) expect(names).toContain(n);
    });

    test('--lines/-n bound the output and colour codes are stripped', () => {
      for (const line of [['logs', 'hospital1-peer', '-n', '7'], ['logs', '--lines=7', 'hospital1-peer']]) {
        const r = cli([...line, '--instance', shared]);
        expect(r.code).toBe(0);
        const lines = r.stdout.replace(/\n$/, '').split('\n');
        expect(lines.length).toBeLessThanOrEqual(7);
        expect(lines.length).toBeGreaterThan(0);
        expect(r.stdout).not.toContain('\x1b');
      }
      const whole = cli(['logs', 'hospital1-peer', '--instance', shared]);
      expect(whole.stdout.replace(/\n$/, '').split('\n').length).toBeLessThanOrEqual(200);
      expect(whole.stdout).not.toContain('\x1b');
    });
  });

  describe('stop and up', () => {
    afterAll(() => {
      cli(['up', '--instance', shared]); // leave the shared instance whole for later suites
    });

    test('up names each component it restarts, and on a running instance says what runs', () => {
      expectExit(cli(['stop', 'hospital3-gateway', '--instance', shared]), 0);
      expect(cli(['stop', 'hospital3-gateway', '--instance', shared]).stderr).toContain('hospital3-gateway: not running');

      const up = cli(['up', '--instance', shared]);
      expectExit(up, 0);
      expect(up.stderr).toMatch(/started hospital3-gateway \(pid \d+/);
      expect(up.stderr).not.toMatch(/started hospital1-peer/);

      const again = cli(['up', '--instance', shared]);
      expectExit(again, 0);
      expect(again.stderr).toContain(`instance '${shared}' is already running; nothing was started`);
      expect(again.stderr).toMatch(/code they were started with/);
      expect(again.stdout).toMatch(/^Next steps \(each line is one command\):$/m);
      expect(again.stdout).not.toMatch(/status --json \| /);
    });
  });
});
