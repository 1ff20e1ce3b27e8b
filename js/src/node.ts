/**
 * The Node entry, bundled with what it loads at once by .ci/bundle-node.mjs
 * into two files of one content: js/cjs/node.js (`require`) and js/node.mjs
 * (`import`), which share one instance (see there). The limiter module
 * imports nothing and is compiled here, synchronously, from its bytes: the
 * CommonJS file reads pkg/node/tollgate_core.wasm, the ES module carries them
 * inline (an ES module has no cheap way to read a file at start-up). The
 * feedback module is compiled on first use by wasm/feedback.ts, from its
 * inlined bytes.
 */
import { useCore } from './core.js';
import { type DiagnosticsChannels, useDiagnostics } from './events.js';
import coreBytes from './wasm/node_core.js';

// The package's types do not depend on @types/node.
declare function require(id: 'node:diagnostics_channel'): DiagnosticsChannels;

useCore(new WebAssembly.Instance(new WebAssembly.Module(coreBytes())));
// The events, mirrored on diagnostics channels (Node only); the module is loaded
// when the first event looks for its channel, not at start-up.
useDiagnostics({ channel: (name) => require('node:diagnostics_channel').channel(name) });

export * from './index.js';
