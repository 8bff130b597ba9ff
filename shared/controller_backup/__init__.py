"""Backup and restore of a network controller's configuration into one stored object."""

__version__ = "0.1.0"
