"""The composition root: the only package that wires gateway, projections and services."""
