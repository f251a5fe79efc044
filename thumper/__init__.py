"""Thumper Counter: trail-camera photos in, a census of individual deer out."""
__version__ = "0.1.0"
