// A container of the e2e node that only has to run (an image with no local build, such as the
// conformance suite's coredns): it stays up until it is stopped.
setInterval(() => {}, 1 << 30);
process.on('SIGTERM', () => process.exit(0));
