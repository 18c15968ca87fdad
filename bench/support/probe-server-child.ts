import { startProbeServer } from '../../test/support/probe-server';

/* The probe's test server in its own process, so that serving 2 MB never shares an event loop with the client timing it. */
startProbeServer().then((server) => process.stdout.write(`${server.url}\n`));
