/** The Node entry: the nodejs glue loads the wasm synchronously with `require`. */
import * as glue from '../../pkg/node/tollgate.js';
import { type CoreModule, useCore } from './core.js';
import * as diagnostics from 'node:diagnostics_channel';
import { useDiagnostics } from './events.js';

useCore(glue as unknown as CoreModule);
useDiagnostics(diagnostics); // the events, mirrored on diagnostics channels (Node only)

export * from './index.js';
