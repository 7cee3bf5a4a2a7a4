"""What tests and benchmarks both start: the bot in-process or as `serve`, the emulator, and
real redis-server and PostgreSQL processes on free ports. Never imported by production code."""
