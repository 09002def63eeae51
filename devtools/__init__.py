"""Tools for trying and testing the gateway; not part of the shipped packages."""
