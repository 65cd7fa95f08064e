"""Scoring: group views, features, the scorecard, scores in use and monitoring."""
