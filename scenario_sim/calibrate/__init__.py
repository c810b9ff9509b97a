"""Calibration from public attack records, and the contact event study."""
