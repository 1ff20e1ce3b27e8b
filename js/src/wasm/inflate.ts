/**
 * Raw DEFLATE (RFC 1951) decompression, synchronous, for the wasm bytes that
 * .ci/inline-wasm.mjs inlines compressed: base64 of the raw bytes gzips to
 * about 1.3× their own gzip (base64 breaks up the byte patterns gzip finds),
 * base64 of the deflated bytes to about 1.0×, and the inline entries cannot
 * wait for the (asynchronous) DecompressionStream. Written for this one input
 * (the build's own output, checked by length): small rather than fast; a few
 * milliseconds for the limiter module.
 */

// Lengths 3..258 (codes 257..285) and distances 1..32768 (codes 0..29): base and extra bits.
const LENGTH_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DISTANCE_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097,
  6145, 8193, 12289, 16385, 24577];
// The order in which a dynamic block lists the code lengths of its code-length code.
const ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/** A canonical Huffman code: how many codes of each length (1..15), and the symbols in code order. */
type Code = [counts: Uint16Array, symbols: Uint16Array];

function code(lengths: ArrayLike<number>): Code {
  const counts = new Uint16Array(16);
  const offsets = new Uint16Array(16);
  const symbols = new Uint16Array(lengths.length);
  for (let i = 0; i < lengths.length; i++) counts[lengths[i]!]!++;
  counts[0] = 0;
  for (let len = 1; len < 16; len++) offsets[len] = offsets[len - 1]! + counts[len - 1]!;
  for (let i = 0; i < lengths.length; i++) if (lengths[i]) symbols[offsets[lengths[i]!]!++] = i;
  return [counts, symbols];
}

/** The bytes `data` decompresses to, which must be exactly `size` long. */
export function inflate(data: Uint8Array, size: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  let at = 0; // in out
  let next = 0; // the next byte of data to read bits from
  let buffer = 0; // bits read but not used, least significant first
  let held = 0; // how many

  const bits = (n: number): number => {
    while (held < n) {
      // Past the end: corrupt data (else a run of zeros could decode forever).
      if (next >= data.length) throw corrupt();
      buffer |= data[next++]! << held;
      held += 8;
    }
    const value = buffer & ((1 << n) - 1);
    buffer >>>= n;
    held -= n;
    return value;
  };
  // A code is read one bit at a time, first bit most significant: among the codes of each
  // length, in order, the first `counts[len]` values from `first` are that length's symbols.
  const decode = ([counts, symbols]: Code): number => {
    let value = 0;
    let first = 0;
    let index = 0;
    for (let len = 1; len < 16; len++) {
      value |= bits(1);
      const count = counts[len]!;
      if (value - first < count) return symbols[index + value - first]!;
      index += count;
      first = (first + count) << 1;
      value <<= 1;
    }
    throw corrupt();
  };

  let last = 0;
  while (!last) {
    last = bits(1);
    const type = bits(2);
    if (type === 0) {
      // Stored: from the next byte boundary (`held` < 8 here), a length, its complement, the bytes.
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
    for (;;) {
      let symbol = decode(literals);
      if (symbol < 256) {
        if (at >= size) throw corrupt();
        out[at++] = symbol;
      } else if (symbol === 256) {
        break;
      } else {
        symbol -= 257;
        const length = LENGTH_BASE[symbol]! + bits(LENGTH_EXTRA[symbol]!);
        const d = decode(distances);
        // Distance codes 4 and up have (code >> 1) - 1 extra bits.
        const back = DISTANCE_BASE[d]! + bits(d < 4 ? 0 : (d >> 1) - 1);
        if (back > at || at + length > size) throw corrupt();
        for (let k = 0; k < length; k++, at++) out[at] = out[at - back]!;
      }
    }
  }
  if (at !== size) throw corrupt();
  return out;
}

const corrupt = () => new Error('tollgate: the inlined wasm is corrupt (a build error): reinstall the package');
