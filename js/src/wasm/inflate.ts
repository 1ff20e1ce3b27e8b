/**
 * Raw DEFLATE (RFC 1951) decompression, synchronous, for the wasm bytes that
 * .ci/inline-wasm.mjs inlines compressed: base64 of the raw bytes gzips to
 * about 1.3× their own gzip (base64 breaks up the byte patterns gzip finds),
 * base64 of the deflated bytes to about 1.0×, and the inline entries cannot
 * wait for the (asynchronous) DecompressionStream. Written for this one input
 * (the build's own output, checked by length): small, and fast enough: the
 * limiter module takes under a millisecond once V8 has compiled this, and its
 * first, interpreted run took about 10 ms on the loaded 2-core test machine.
 */

// Lengths 3..258 (codes 257..285) and distances 1..32768 (codes 0..29): base and extra bits.
const LENGTH_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DISTANCE_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097,
  6145, 8193, 12289, 16385, 24577];
// The order in which a dynamic block lists the code lengths of its code-length code.
const ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/**
 * A canonical Huffman code as a lookup table: indexed by the next `bits` bits
 * of input (first bit lowest, as DEFLATE packs them), each entry is the
 * symbol << 4 | its code's length (0: no such code).
 */
type Code = [lookup: Uint16Array, bits: number];

function code(lengths: ArrayLike<number>): Code {
  const counts = new Uint16Array(16);
  let bits = 0;
  for (let i = 0; i < lengths.length; i++) {
    counts[lengths[i]!]!++;
    bits = Math.max(bits, lengths[i]!);
  }
  counts[0] = 0;
  // The first code of each length (RFC 1951 §3.2.2).
  const next = new Uint16Array(16);
  for (let len = 1, first = 0; len < 16; len++) next[len] = first = (first + counts[len - 1]!) << 1;
  const lookup = new Uint16Array(1 << bits);
  for (let symbol = 0; symbol < lengths.length; symbol++) {
    const len = lengths[symbol]!;
    if (!len) continue;
    // Codes are sent first bit highest: reversed, they index the table.
    let reversed = 0;
    for (let i = 0, c = next[len]!++; i < len; i++, c >>= 1) reversed = (reversed << 1) | (c & 1);
    for (let i = reversed; i < lookup.length; i += 1 << len) lookup[i] = (symbol << 4) | len;
  }
  return [lookup, bits];
}

/** The bytes `data` decompresses to, which must be exactly `size` long. */
export function inflate(data: Uint8Array, size: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  let at = 0; // in out
  let next = 0; // the next byte of data to read bits from
  let buffer = 0; // bits read but not used, least significant first
  let held = 0; // how many
  // Decoding looks up to 32 bits ahead: the last codes may read up to 4 bytes past the data.
  const end = data.length + 4;

  const need = (n: number): void => {
    while (held < n) {
      // Past the end: corrupt data (else a run of zeros could decode forever).
      if (next >= end) throw corrupt();
      buffer |= (data[next++] ?? 0) << held;
      held += 8;
    }
  };
  const bits = (n: number): number => {
    need(n);
    const value = buffer & ((1 << n) - 1);
    buffer >>>= n;
    held -= n;
    return value;
  };
  const decode = ([lookup, width]: Code): number => {
    need(width);
    const entry = lookup[buffer & ((1 << width) - 1)]!;
    const len = entry & 15;
    if (!len) throw corrupt();
    buffer >>>= len;
    held -= len;
    return entry >> 4;
  };

  let last = 0;
  while (!last) {
    last = bits(1);
    const type = bits(2);
    if (type === 0) {
      // Stored: from the next byte boundary, a length, its complement, the bytes.
      // Whole bytes looked ahead are given back first.
      next -= held >> 3;
      buffer = held = 0;
      const length = data[next]! | (data[next + 1]! << 8);
      if (next + 4 + length > data.length || at + length > size) throw corrupt();
      out.set(data.subarray(next + 4, next + 4 + length), at);
      at += length;
      next += 4 + length;
      continue;
    }
    let literals: Code;
    let distances: Code;
    if (type === 1) {
      // The fixed codes of RFC 1951 §3.2.6.
      const lengths = new Uint8Array(288).fill(8, 0, 144).fill(9, 144, 256).fill(7, 256, 280).fill(8, 280);
      literals = code(lengths);
      distances = code(new Uint8Array(30).fill(5));
    } else if (type === 2) {
      const nLiterals = bits(5) + 257;
      const nDistances = bits(5) + 1;
      const nLengths = bits(4) + 4;
      const lengthLengths = new Uint8Array(19);
      for (let i = 0; i < nLengths; i++) lengthLengths[ORDER[i]!] = bits(3);
      const lengthCode = code(lengthLengths);
      const lengths = new Uint8Array(nLiterals + nDistances);
      for (let i = 0; i < lengths.length;) {
        const symbol = decode(lengthCode);
        if (symbol < 16) {
          lengths[i++] = symbol;
          continue;
        }
        // 16: the previous length 3-6 times; 17: zero 3-10 times; 18: zero 11-138 times.
        const value = symbol === 16 ? lengths[i - 1]! : 0;
        let repeat = symbol === 16 ? 3 + bits(2) : symbol === 17 ? 3 + bits(3) : 11 + bits(7);
        while (repeat--) lengths[i++] = value;
      }
      literals = code(lengths.subarray(0, nLiterals));
      distances = code(lengths.subarray(nLiterals));
    } else {
      throw corrupt();
    }
    // The hot loop, written out (no calls: the first run is interpreted, at page load):
    // refill to 25-32 bits (a byte is added only while 24 or fewer are held, so none
    // falls off the 32-bit buffer): enough for a code (15) and its extra bits (5 or 13).
    const [literal, literalBits] = literals;
    const [distance, distanceBits] = distances;
    const literalMask = (1 << literalBits) - 1;
    const distanceMask = (1 << distanceBits) - 1;
    for (;;) {
      while (held <= 24) {
        if (next >= end) throw corrupt();
        buffer |= (data[next++] ?? 0) << held;
        held += 8;
      }
      let entry = literal[buffer & literalMask]!;
      let len = entry & 15;
      if (!len) throw corrupt();
      buffer >>>= len;
      held -= len;
      let symbol = entry >> 4;
      if (symbol < 256) {
        if (at >= size) throw corrupt();
        out[at++] = symbol;
        continue;
      }
      if (symbol === 256) break;
      symbol -= 257;
      let extra = LENGTH_EXTRA[symbol]!;
      const length = LENGTH_BASE[symbol]! + (buffer & ((1 << extra) - 1));
      buffer >>>= extra;
      held -= extra;
      // Then a distance code and up to 13 extra bits.
      while (held <= 24) {
        if (next >= end) throw corrupt();
        buffer |= (data[next++] ?? 0) << held;
        held += 8;
      }
      entry = distance[buffer & distanceMask]!;
      len = entry & 15;
      if (!len) throw corrupt();
      buffer >>>= len;
      held -= len;
      const d = entry >> 4;
      // Distance codes 4 and up have (code >> 1) - 1 extra bits.
      extra = d < 4 ? 0 : (d >> 1) - 1;
      while (held < extra) {
        if (next >= end) throw corrupt();
        buffer |= (data[next++] ?? 0) << held;
        held += 8;
      }
      const back = DISTANCE_BASE[d]! + (buffer & ((1 << extra) - 1));
      buffer >>>= extra;
      held -= extra;
      if (back > at || at + length > size) throw corrupt();
      for (let k = 0; k < length; k++, at++) out[at] = out[at - back]!;
    }
  }
  // Every byte given was read, and none past them (the look-ahead's padding).
  if (at !== size || 8 * next - held > 8 * data.length) throw corrupt();
  return out;
}

const corrupt = () => new Error('tollgate: the inlined wasm is corrupt (a build error): reinstall the package');
