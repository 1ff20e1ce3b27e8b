// The scenario as a Cloudflare Worker: each request runs it against env.BASE.
import * as tollgate from 'tollgate';
import { scenario } from './scenario.js';

export default {
  async fetch(request, env) {
    try {
      return Response.json(await scenario(tollgate, env.BASE));
    } catch (error) {
      return Response.json({ error: String(error?.stack ?? error) });
    }
  },
};
