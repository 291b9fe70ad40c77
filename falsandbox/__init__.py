"""Local stand-in for fal.ai's queue API, for development and tests."""
