"""The demo book: a seeded, deterministic synthetic SaaS book loaded through the service functions."""

from app.demo.load import DatabaseNotEmpty, DemoSummary, load_demo

__all__ = ["DatabaseNotEmpty", "DemoSummary", "load_demo"]
