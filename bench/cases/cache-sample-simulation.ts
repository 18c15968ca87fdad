import {
  firstSliceFraction,
  nextSliceFraction,
  type SliceSums,
  sliceDesign,
  sliceEstimate,
} from '../../functions/cache-efficiency/sample';

/*
 * A seeded traffic simulation of a per-user cache, to ask how often the slice's 95 % interval holds
 * the census: the whole table's hit ratio over the same window, counted as the table source
 * counts it (a recalculation is one miss plus the hits after it; an entry new in the window is a
 * miss plus its hits; deleted entries are not counted).
 *
 * Entries have random keys (uniform on [0, 1), as a random UUID is on its key space) and an
 * activity drawn from a log-normal law, apart from the key (hot users have no special keys). Each
 * window, every entry gets Poisson(popularity) lookups at uniform times; a lookup of an expired or
 * absent entry recalculates it (a miss, access_count back to 0, expiring one TTL later), any other
 * is a hit. Users arrive and leave between windows. For each of `slices` pivots the slice is sized
 * as the function sizes it (sample.ts), window after window, and its interval is compared with the
 * census of the same window.
 */

export interface SimulationOptions {
  seed: number;
  entries: number;
  windows: number;
  slices: number;
  /** Lookups per window, as a share of the entries. */
  lookupsPerEntry: number;
  /** Spread of the users' activity: sigma of a log-normal law (1.5: the busiest of a million users makes about 400 times the average lookups). */
  activitySigma: number;
  /** The cache's TTL, in windows. */
  ttlWindows: number;
  /** Per window, the share of entries that arrive new and that leave. */
  arrivals: number;
  departures: number;
  targetHalfWidthPoints: number;
}

export interface SimulationResult {
  intervals: number;
  covered: number;
  /** Median and largest half width of the intervals, and the median slice share they were taken on. */
  medianHalfWidthPoints: number;
  largestHalfWidthPoints: number;
  medianFraction: number;
  /** Census hit ratios seen (lowest, highest), to show the traffic was not trivial. */
  censusRange: [number, number];
  /** (estimate - census) / standard error over all intervals: mean near 0 and spread near 1 when the standard error is right. */
  standardizedError: { mean: number; sd: number };
}

/** mulberry32: small, seeded, good enough for a simulation. */
function generator(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function poisson(mean: number, random: () => number): number {
  if (mean > 30) return Math.max(0, Math.round(mean + Math.sqrt(mean) * gaussian(random)));
  const limit = Math.exp(-mean);
  let count = 0;
  let product = random();
  while (product > limit) {
    count += 1;
    product *= random();
  }
  return count;
}

function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

// Over 80 lines: one seeded simulation loop; its state is the simulated cache.
export function simulateSliceCoverage(options: SimulationOptions): SimulationResult {
  const random = generator(options.seed);
  // A pool of users; those not yet arrived or already gone have no entry. Sorted by key once.
  const pool = Math.round(options.entries * (1 + options.arrivals * options.windows));
  const keys = new Float64Array(pool);
  for (let index = 0; index < pool; index += 1) keys[index] = random();
  keys.sort();
  const shuffled = () => {
    const order = new Uint32Array(pool);
    for (let index = 0; index < pool; index += 1) order[index] = index;
    for (let index = pool - 1; index > 0; index -= 1) {
      const other = Math.floor(random() * (index + 1));
      const kept = order[index] as number;
      order[index] = order[other] as number;
      order[other] = kept;
    }
    return order;
  };
  const popularity = new Float64Array(pool);
  let total = 0;
  for (let index = 0; index < pool; index += 1) {
    const weight = Math.exp(options.activitySigma * gaussian(random));
    popularity[index] = weight;
    total += weight;
  }
  total /= options.entries / pool;
  const lookupsPerWindow = options.lookupsPerEntry * options.entries;
  for (let index = 0; index < pool; index += 1) popularity[index] = ((popularity[index] as number) / total) * lookupsPerWindow;

  // Who is a user now: the first `entries` of a random order at the start, then arrivals.
  const present = new Uint8Array(pool);
  const arrivalOrder = shuffled();
  let arrived = 0;
  for (; arrived < options.entries; arrived += 1) present[arrivalOrder[arrived] as number] = 1;
  // The cache entry: exists, calculated at (time in windows), expires at, access_count.
  const exists = new Uint8Array(pool);
  const calculatedAt = new Float64Array(pool);
  const expiresAt = new Float64Array(pool);
  const accessCount = new Float64Array(pool);
  // Warm the cache: every present user calculated at a random time in the TTL before time 0, with some hits.
  for (let index = 0; index < pool; index += 1) {
    if (!present[index]) continue;
    exists[index] = 1;
    calculatedAt[index] = -random() * options.ttlWindows;
    expiresAt[index] = (calculatedAt[index] as number) + options.ttlWindows;
    accessCount[index] = poisson((popularity[index] as number) * options.ttlWindows * 0.5, random);
  }

  const pivots = Array.from({ length: options.slices }, () => random());
  const fractions = pivots.map(() => firstSliceFraction(options.entries));
  // Prefix sums over the keys' order of every per-entry sum the slice reads.
  const sumNames = [
    'entries',
    'hits',
    'misses',
    'hitsSquared',
    'lookupsSquared',
    'hitsTimesLookups',
    'hitsFourth',
    'hitsCubedTimesLookups',
    'hitsSquaredTimesLookupsSquared',
    'hitsTimesLookupsCubed',
    'lookupsFourth',
  ] as const satisfies readonly (keyof SliceSums)[];
  // A literal of typed arrays (not built from the names): read 100 million times, it must stay a fast object.
  const column = () => new Float64Array(pool + 1);
  const prefix: Record<keyof SliceSums, Float64Array> = {
    entries: column(),
    hits: column(),
    misses: column(),
    hitsSquared: column(),
    lookupsSquared: column(),
    hitsTimesLookups: column(),
    hitsFourth: column(),
    hitsCubedTimesLookups: column(),
    hitsSquaredTimesLookupsSquared: column(),
    hitsTimesLookupsCubed: column(),
    lookupsFourth: column(),
  };
  const lowerBound = (value: number) => {
    let low = 0;
    let high = pool;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((keys[middle] as number) < value) low = middle + 1;
      else high = middle;
    }
    return low;
  };
  const rangeSums = (from: number, to: number): SliceSums => {
    const sums = {} as SliceSums;
    for (const name of sumNames) sums[name] = (prefix[name][to] as number) - (prefix[name][from] as number);
    return sums;
  };
  const sliceSums = (pivot: number, fraction: number): SliceSums => {
    const end = pivot + fraction;
    if (end <= 1) return rangeSums(lowerBound(pivot), lowerBound(end));
    const head = rangeSums(lowerBound(pivot), pool);
    const tail = rangeSums(0, lowerBound(end - 1));
    const sums = {} as SliceSums;
    for (const name of sumNames) sums[name] = head[name] + tail[name];
    return sums;
  };

  let intervals = 0;
  let covered = 0;
  const halfWidths: number[] = [];
  const usedFractions: number[] = [];
  const censuses: number[] = [];
  const standardized: number[] = [];
  const times: number[] = [];
  for (let window = 0; window < options.windows; window += 1) {
    // Between windows: some users leave (their entry is deleted), some arrive.
    for (let index = 0; index < pool; index += 1) {
      if (present[index] && random() < options.departures) {
        present[index] = 0;
        exists[index] = 0;
      }
    }
    const arriving = Math.round(options.entries * options.arrivals);
    for (let count = 0; count < arriving && arrived < pool; count += 1, arrived += 1)
      present[arrivalOrder[arrived] as number] = 1;
    let censusHits = 0;
    let censusLookups = 0;
    for (let index = 0; index < pool; index += 1) {
      const existedBefore = exists[index] === 1;
      const calculatedBefore = calculatedAt[index] as number;
      const countBefore = accessCount[index] as number;
      if (present[index]) {
        const lookups = poisson(popularity[index] as number, random);
        times.length = 0;
        for (let lookup = 0; lookup < lookups; lookup += 1) times.push(window + random());
        times.sort((a, b) => a - b);
        for (const time of times) {
          if (!exists[index] || time >= (expiresAt[index] as number)) {
            exists[index] = 1;
            calculatedAt[index] = time;
            expiresAt[index] = time + options.ttlWindows;
            accessCount[index] = 0;
          } else {
            accessCount[index] = (accessCount[index] as number) + 1;
          }
        }
      }
      // The window as the table source counts it, from the two snapshots.
      let hits = 0;
      let misses = 0;
      const counted = exists[index] === 1;
      if (counted) {
        if (!existedBefore || (calculatedAt[index] as number) > calculatedBefore) {
          misses = 1;
          hits = accessCount[index] as number;
        } else {
          hits = (accessCount[index] as number) - countBefore;
        }
      }
      const lookups = hits + misses;
      // Written out (no closure, no loop over names): this runs 100 million times.
      prefix.entries[index + 1] = (prefix.entries[index] as number) + (counted ? 1 : 0);
      prefix.hits[index + 1] = (prefix.hits[index] as number) + hits;
      prefix.misses[index + 1] = (prefix.misses[index] as number) + misses;
      prefix.hitsSquared[index + 1] = (prefix.hitsSquared[index] as number) + hits * hits;
      prefix.lookupsSquared[index + 1] = (prefix.lookupsSquared[index] as number) + lookups * lookups;
      prefix.hitsTimesLookups[index + 1] = (prefix.hitsTimesLookups[index] as number) + hits * lookups;
      prefix.hitsFourth[index + 1] = (prefix.hitsFourth[index] as number) + hits * hits * hits * hits;
      prefix.hitsCubedTimesLookups[index + 1] = (prefix.hitsCubedTimesLookups[index] as number) + hits * hits * hits * lookups;
      prefix.hitsSquaredTimesLookupsSquared[index + 1] =
        (prefix.hitsSquaredTimesLookupsSquared[index] as number) + hits * hits * lookups * lookups;
      prefix.hitsTimesLookupsCubed[index + 1] =
        (prefix.hitsTimesLookupsCubed[index] as number) + hits * lookups * lookups * lookups;
      prefix.lookupsFourth[index + 1] = (prefix.lookupsFourth[index] as number) + lookups * lookups * lookups * lookups;
      censusHits += hits;
      censusLookups += lookups;
    }
    if (censusLookups === 0) continue;
    const census = (censusHits / censusLookups) * 100;
    censuses.push(census);
    pivots.forEach((pivot, slice) => {
      const fraction = fractions[slice] as number;
      const sums = sliceSums(pivot, fraction);
      const estimate = fraction < 1 ? sliceEstimate(sums, { pivot: '', fraction }) : undefined;
      if (estimate && estimate.lookups >= 20) {
        intervals += 1;
        if (estimate.hitRatio.low <= census && census <= estimate.hitRatio.high) covered += 1;
        standardized.push(((sums.hits / estimate.lookups) * 100 - census) / estimate.standardErrorPoints);
        halfWidths.push(estimate.halfWidthPoints);
        usedFractions.push(fraction);
      }
      fractions[slice] = nextSliceFraction({
        fraction,
        design: sliceDesign(sums, fraction) ?? null,
        tooFewLookups: sums.hits + sums.misses < 20,
        targetHalfWidthPoints: options.targetHalfWidthPoints,
        tableEntries: options.entries,
      });
    });
  }
  return {
    intervals,
    covered,
    medianHalfWidthPoints: median(halfWidths),
    largestHalfWidthPoints: Math.max(...halfWidths),
    medianFraction: median(usedFractions),
    censusRange: [Math.min(...censuses), Math.max(...censuses)],
    standardizedError: {
      mean: mean(standardized),
      sd: Math.sqrt(mean(standardized.map((value) => (value - mean(standardized)) ** 2))),
    },
  };
}
