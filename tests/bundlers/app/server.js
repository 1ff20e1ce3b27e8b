// The scenario as a server-side (Node) program, for bundles made for Node: the
// local server's URL is the argument. No top-level await (the bundles are CommonJS).
import * as tollgate from 'tollgate';
import { scenario } from './scenario.js';

scenario(tollgate, process.argv[2]).then(
  (result) => console.log(JSON.stringify(result)),
  (error) => { console.error(error); process.exitCode = 1; },
);
