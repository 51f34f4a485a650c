"""The vlbi tests use the shared-data and ehtim fixtures of tests/conftest.py."""
