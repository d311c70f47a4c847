"""The HTTP service: one FastAPI app (`app.create_app`) mounting the API (`api`) and the pages
(`web`), with what both share: dependencies, errors, tokens, rate limits, JSON routing. `api` and
`web` never import each other."""
