/**
 * The Node entry (built as CommonJS only, then bundled with what it loads at
 * once by .ci/bundle-node.mjs): the limiter module imports nothing and is
 * compiled here from its file, synchronously. The feedback module is compiled
 * on first use by wasm/feedback.ts, from its inlined bytes.
 */
import { useCore } from './core.js';
import { type DiagnosticsChannels, useDiagnostics } from './events.js';

// The package's types do not depend on @types/node.
declare const __dirname: string;
declare function require(id: 'node:fs'): { readFileSync(path: string): Uint8Array<ArrayBuffer> };
declare function require(id: 'node:path'): { join(...parts: string[]): string };
declare function require(id: 'node:diagnostics_channel'): DiagnosticsChannels;

const bytes = require('node:fs').readFileSync(require('node:path').join(__dirname, '../../pkg/node/tollgate_core.wasm'));
useCore(new WebAssembly.Instance(new WebAssembly.Module(bytes)));
// The events, mirrored on diagnostics channels (Node only); the module is loaded
// when the first event looks for its channel, not at start-up.
useDiagnostics({ channel: (name) => require('node:diagnostics_channel').channel(name) });

export * from './index.js';
