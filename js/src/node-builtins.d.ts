// The one Node built-in the Node entry imports statically; the package builds
// without @types/node (its declarations must not need it).
declare module 'node:diagnostics_channel' {
  export function channel(name: string): { readonly hasSubscribers: boolean; publish(message: unknown): void };
}
