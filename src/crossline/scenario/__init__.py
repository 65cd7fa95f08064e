"""Scenario files: a dated list of commands run through the real services and end-of-day."""
