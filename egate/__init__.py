"""Composition root: settings, database, the ASGI app that mounts the three services, the CLI.

This is the only package that knows identity, forms_hub and consent together.
"""
