"""Adapters from the domain's repositories to real servers."""
