"""A local CAMS endpoint for the demo, the tests and the benchmarks."""
