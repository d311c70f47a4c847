"""The municipal service's JSON API under /api/v1: routes and their request and response schemas.
Only `entrypoints.http.app` imports it; it never imports the pages (`web`)."""
