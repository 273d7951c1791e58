"""End-to-end tests of the examples a newcomer runs: real engine, real Paddle, real data."""
