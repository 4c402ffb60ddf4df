"""Shipped demo data and the scripts that build it."""
