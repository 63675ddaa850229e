export function keepLogs(stateRoot: string, instance: string): string | undefined;
