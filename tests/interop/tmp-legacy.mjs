import { SERVERS, drill } from './drill.mjs';
const legacy = SERVERS.find((s) => s[1] === 'legacy');
const cfg = process.argv[2] ?? 'right';
const rows = await Promise.all(Array.from({ length: 8 }, (_, i) => new Promise((r) => setTimeout(r, i * 130)).then(() => drill(legacy, cfg))));
console.log(rows.map((r) => `${r.refused} ${(100 * r.ratio).toFixed(1)}`).join(' | '));
