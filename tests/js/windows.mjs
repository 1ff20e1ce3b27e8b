// Counting a server's log the way a strict sliding log does.

/** The most of `times` (ms, any order) in any half-open interval of `perMs`. */
export function mostInAnyWindow(times, perMs) {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; j < sorted.length; j++) {
    while (sorted[j] - sorted[i] >= perMs) i++;
    most = Math.max(most, j - i + 1);
  }
  return most;
}
