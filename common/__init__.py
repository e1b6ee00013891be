"""Pieces every part imports: configuration, identity without I/O, secret files, SQL helpers."""
