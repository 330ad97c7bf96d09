"""Drones: MAVLink codec, links, router, vehicles, commands, tether, SITL peers (issue #3)."""
