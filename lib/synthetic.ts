/*
 * Vigil's own traffic is not the app's. The probe names itself in every request's User-Agent, and
 * whatever reads the app's logs leaves those requests out where the log records the header.
 */
export const probeUserAgent = 'vigil-probe/1';

/** A SQL LIKE pattern matching every version of the probe's User-Agent. */
export const probeUserAgentPattern = 'vigil-probe/%';
