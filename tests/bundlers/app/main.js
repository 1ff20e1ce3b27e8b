// A tiny app as a user writes it: `import ... from 'tollgate'`, no bundler
// configuration, no init() call. No top-level await either, so it also fits
// esbuild's default format (an IIFE).
import * as tollgate from 'tollgate';
import { scenario } from './scenario.js';

scenario(tollgate).then(
  (result) => { window.result = result; },
  (error) => { window.result = { error: String(error?.stack ?? error) }; },
);
