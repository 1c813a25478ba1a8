"""Judging a user's implementation of a loss and its gradient against the oracle."""
