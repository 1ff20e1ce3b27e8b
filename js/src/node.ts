/**
 * The Node entry (built as CommonJS only): the limiter module imports nothing
 * and is compiled here from its file, synchronously. The feedback module is
 * compiled on first use by wasm/feedback.ts, from its inlined bytes.
 */
import { useCore } from './core.js';
import * as diagnostics from 'node:diagnostics_channel';
import { useDiagnostics } from './events.js';

// The package's types do not depend on @types/node.
declare const __dirname: string;
declare function require(id: 'node:fs'): { readFileSync(path: string): Uint8Array<ArrayBuffer> };
declare function require(id: 'node:path'): { join(...parts: string[]): string };

const bytes = require('node:fs').readFileSync(require('node:path').join(__dirname, '../../pkg/node/tollgate_core.wasm'));
useCore(new WebAssembly.Instance(new WebAssembly.Module(bytes)));
useDiagnostics(diagnostics); // the events, mirrored on diagnostics channels (Node only)

export * from './index.js';
