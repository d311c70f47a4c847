"""Test and benchmark harnesses that need real infrastructure: an anvil node, test databases, a
running `govchain serve`, a browser. Not part of the product: they import pytest, httpx and selenium."""
