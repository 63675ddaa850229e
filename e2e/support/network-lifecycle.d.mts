export const instance: string;
export const portBase: string;
export function network(...args: string[]): void;
export function stateDir(): string;
export function stateRoot(): string;
