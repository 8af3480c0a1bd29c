"""Backends that live in the tests: they prove that a backend plugs in with one registration."""
