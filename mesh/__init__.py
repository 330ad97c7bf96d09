"""Mesh: zeroconf discovery and Zenoh scene sync between nodes (issue #6)."""
