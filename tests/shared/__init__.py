"""What a unit test file and its integration counterpart share: helpers, constants and the
fixtures both bind, one module per pair of files (tests/conftest.py explains the split)."""
