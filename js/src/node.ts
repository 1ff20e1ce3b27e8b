/** The Node entry: the nodejs glue loads the wasm synchronously with `require`. */
import * as glue from '../../pkg/node/tollgate.js';
import { type CoreModule, useCore } from './core.js';

useCore(glue as unknown as CoreModule);

export * from './index.js';
