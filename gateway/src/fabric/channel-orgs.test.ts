import { common } from '@hyperledger/fabric-protos';
import { ChannelOrganisations, applicationOrgs } from './channel-orgs.js';

function config(orgs: string[]): Uint8Array {
    const application = new common.ConfigGroup();
    for (const org of orgs) application.getGroupsMap().set(org, new common.ConfigGroup());
    const channel = new common.ConfigGroup();
    channel.getGroupsMap().set('Application', application);
    channel.getGroupsMap().set('Orderer', new common.ConfigGroup());
    const c = new common.Config();
    c.setChannelGroup(channel);
    return c.serializeBinary();
}

describe('ChannelOrganisations', () => {
    it('reads the application organisations from the channel configuration, sorted', () => {
        expect(applicationOrgs(config(['Hospital3MSP', 'Hospital1MSP', 'Hospital4MSP']))).toEqual(['Hospital1MSP', 'Hospital3MSP', 'Hospital4MSP']);
    });

    it('refuses a configuration without an Application group', () => {
        expect(() => applicationOrgs(new common.Config().serializeBinary())).toThrow(/no Application group/);
    });

    it('asks cscc once for concurrent callers and again once the cached answer is older than its lifetime', async () => {
        let calls = 0;
        let orgs = ['Hospital1MSP', 'Hospital2MSP', 'Hospital3MSP'];
        const network = {
            getName: () => 'ehr',
            getContract: (name: string) => {
                expect(name).toBe('cscc');
                return {
                    evaluateTransaction: async (fn: string, channel: string) => {
                        expect([fn, channel]).toEqual(['GetChannelConfig', 'ehr']);
                        calls++;
                        return config(orgs);
                    },
                };
            },
        };
        const members = new ChannelOrganisations(network as never, 50);
        const [a, b] = await Promise.all([members.list(), members.list()]);
        expect(a).toEqual(b);
        expect(calls).toBe(1);
        orgs = [...orgs, 'Hospital4MSP'];
        expect(await members.list()).toHaveLength(3); // still cached
        await new Promise((r) => setTimeout(r, 60));
        expect(await members.list()).toEqual(['Hospital1MSP', 'Hospital2MSP', 'Hospital3MSP', 'Hospital4MSP']);
        expect(calls).toBe(2);
    });
});
